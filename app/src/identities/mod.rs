//! Shared types of the inventory: what the browser and the server both see.

use serde::{Deserialize, Serialize};

pub mod api;
pub mod grants_ui;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and exchanged spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// How a person reads it.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses the stored spelling (case and surrounding blanks ignored).
            pub fn parse(text: &str) -> Result<Self, String> {
                let lower = text.trim().to_ascii_lowercase();
                match lower.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{}` (expected one of {})",
                        $what,
                        text,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

pub(crate) use text_enum;

text_enum!(
    /// What an identity is. Everything but `Human` is a machine identity.
    IdentityKind, "kind" {
        Human => "human", "human";
        ServiceAccount => "service_account", "service account";
        ApiKey => "api_key", "API key";
        Token => "token", "token";
        Certificate => "certificate", "certificate";
        Bot => "bot", "bot";
        AiAgent => "ai_agent", "AI agent";
        Workload => "workload", "workload";
    }
);

text_enum!(
    IdentityStatus, "status" {
        Active => "active", "active";
        Disabled => "disabled", "disabled";
        Terminated => "terminated", "terminated";
    }
);

text_enum!(
    /// How much an entitlement allows, highest first in severity.
    Privilege, "privilege" {
        Admin => "admin", "admin";
        Write => "write", "write";
        Read => "read", "read";
        Unknown => "unknown", "unknown";
    }
);

text_enum!(
    Criticality, "criticality" {
        Low => "low", "low";
        Medium => "medium", "medium";
        High => "high", "high";
    }
);

impl IdentityKind {
    pub fn is_machine(self) -> bool {
        self != IdentityKind::Human
    }
}

impl Privilege {
    /// Reads a privilege level from an entitlement's name when the source does not give one:
    /// `AdministratorAccess`, `org:owner`, `s3:*` are admin; `editor`, `push` write; `viewer`
    /// read. Names that say nothing stay `Unknown` rather than being guessed low.
    pub fn infer(name: &str) -> Privilege {
        let lower = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if lower.trim() == "*"
            || lower.ends_with(":*")
            || has(&["admin", "owner", "root", "superuser", "super_user", "fullaccess", "full_access", "full-access", "poweruser"])
        {
            Privilege::Admin
        } else if has(&[
            "write",
            "edit",
            "contributor",
            "maintain",
            "push",
            "modify",
            "create",
            "delete",
            "update",
            "manage",
            "deploy",
            "operator",
        ]) {
            Privilege::Write
        } else if has(&["read", "view", "list", "get", "describe", "audit", "guest", "browse"]) {
            Privilege::Read
        } else {
            Privilege::Unknown
        }
    }

    /// Higher is more powerful; `Unknown` sorts lowest so a given level always wins.
    pub fn rank(self) -> u8 {
        match self {
            Privilege::Admin => 3,
            Privilege::Write => 2,
            Privilege::Read => 1,
            Privilege::Unknown => 0,
        }
    }
}

/// Filters of the identities page, as they appear in its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    /// `present` or `absent`.
    pub owner: Option<String>,
    pub department: Option<String>,
    pub q: Option<String>,
    /// `risk` lists the riskiest first; otherwise by name.
    pub sort: Option<String>,
    pub page: u32,
}

impl IdentityFilter {
    pub const PER_PAGE: u32 = 50;

    /// Reads the filter from query parameters; blanks count as absent.
    pub fn from_pairs<'a>(get: impl Fn(&str) -> Option<String>) -> Self {
        let value = |key: &str| get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        IdentityFilter {
            kind: value("kind"),
            status: value("status"),
            owner: value("owner"),
            department: value("department"),
            q: value("q"),
            sort: value("sort"),
            page: value("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    }

    /// The query string for this filter, with `page` replaced.
    pub fn to_query(&self, page: u32) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("kind", &self.kind),
            ("status", &self.status),
            ("owner", &self.owner),
            ("department", &self.department),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if let Some(v) = value {
                parts.push(format!("{key}={}", encode_component(v)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// One identity in a list: enough for both the human and the machine columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRow {
    pub identity_id: i64,
    pub external_id: String,
    pub kind: IdentityKind,
    pub display_name: String,
    pub email: Option<String>,
    pub status: IdentityStatus,
    /// The owner as resolved in the inventory, or as the source gave it.
    pub owner: Option<String>,
    pub owner_identity_id: Option<i64>,
    pub manager: Option<String>,
    pub manager_identity_id: Option<i64>,
    pub department: Option<String>,
    pub purpose: Option<String>,
    pub source_created_at: Option<i64>,
    pub last_active_at: Option<i64>,
    pub credential_rotated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub active_grants: i64,
    pub source: String,
    /// The highest risk score among its active grants.
    pub risk_score: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityPage {
    pub rows: Vec<IdentityRow>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub now: i64,
    pub departments: Vec<String>,
}

/// One grant as listed on an identity's page and by `attest grants`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantRow {
    pub access_grant_id: i64,
    pub identity_id: i64,
    pub identity: String,
    pub identity_kind: IdentityKind,
    pub application: String,
    pub entitlement: String,
    pub privilege: Privilege,
    pub privilege_inferred: bool,
    pub granted_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub granted_by: Option<String>,
    pub ended_at: Option<i64>,
    pub risk_score: i64,
    /// The factors behind the score, in words, strongest first.
    pub risk_words: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityDetail {
    pub identity: IdentityRow,
    pub grants: Vec<GrantRow>,
    /// Machine identities this identity owns.
    pub owns: Vec<IdentityRow>,
    /// Grants kept by an exception that has not expired: (grant, who approved it until when, and why).
    pub exceptions: Vec<(i64, String)>,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationRow {
    pub application_id: i64,
    pub external_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub criticality: Criticality,
    pub source: String,
    pub entitlements: i64,
    pub active_grants: i64,
    pub admin_grants: i64,
}

/// A page of grants matching a query, riskiest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantPage {
    pub rows: Vec<GrantRow>,
    /// Grants on this page kept by an exception that has not expired, with its words.
    pub exceptions: Vec<(i64, String)>,
    /// Another page follows this one.
    pub more: bool,
    pub page: u32,
    pub per_page: u32,
    pub now: i64,
}

/// The figures on the overview page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub by_kind: Vec<(IdentityKind, i64)>,
    pub humans: i64,
    pub machines: i64,
    pub applications: i64,
    pub active_grants: i64,
    pub orphaned_machines: i64,
    pub expiring_soon: i64,
    pub expired_with_grants: i64,
    pub stale_credentials: i64,
    pub dormant_grants: i64,
    pub inactive_with_grants: i64,
    pub sources: Vec<(String, String, Option<i64>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_stored_spelling_in_any_case() {
        assert_eq!(IdentityKind::parse("Service_Account"), Ok(IdentityKind::ServiceAccount));
        assert_eq!(IdentityKind::parse(" ai_agent "), Ok(IdentityKind::AiAgent));
        let err = IdentityKind::parse("robot").unwrap_err();
        assert!(err.contains("unknown kind `robot`"), "{err}");
        assert!(err.contains("service_account"), "{err}");
    }

    #[test]
    fn privilege_is_inferred_from_entitlement_names() {
        assert_eq!(Privilege::infer("AdministratorAccess"), Privilege::Admin);
        assert_eq!(Privilege::infer("s3:*"), Privilege::Admin);
        assert_eq!(Privilege::infer("*"), Privilege::Admin);
        assert_eq!(Privilege::infer("org:owner"), Privilege::Admin);
        assert_eq!(Privilege::infer("repo:push"), Privilege::Write);
        assert_eq!(Privilege::infer("ReadWrite"), Privilege::Write);
        assert_eq!(Privilege::infer("ViewOnlyAccess"), Privilege::Read);
        assert_eq!(Privilege::infer("Tour Guides"), Privilege::Unknown);
    }

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let filter = IdentityFilter {
            kind: Some("service_account".into()),
            owner: Some("absent".into()),
            q: Some("a&b c".into()),
            ..Default::default()
        };
        assert_eq!(filter.to_query(2), "?kind=service_account&owner=absent&q=a%26b%20c&page=2");
        assert_eq!(filter.to_query(1), "?kind=service_account&owner=absent&q=a%26b%20c");
    }

    #[test]
    fn blank_filter_values_count_as_absent() {
        let filter = IdentityFilter::from_pairs(|k| match k {
            "kind" => Some("  ".into()),
            "page" => Some("0".into()),
            _ => None,
        });
        assert_eq!(filter, IdentityFilter { page: 1, ..Default::default() });
    }
}
