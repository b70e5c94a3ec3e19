//! Who is signed in and what they may do. The browser only ever sees the person's name and
//! roles, never the session token. [`allows`] is the one place that decides.

use serde::{Deserialize, Serialize};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// What a person does in attest. A person may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Settings, people, roles, tokens, imports: everything.
    Admin,
    /// Creates and runs campaigns.
    CampaignOwner,
    /// Decides the review items assigned to them.
    Reviewer,
    /// Reads everything and exports evidence; decides nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::CampaignOwner, Role::Reviewer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CampaignOwner => "campaign_owner",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::CampaignOwner => "Campaign owner",
            Role::Reviewer => "Reviewer",
            Role::Auditor => "Auditor",
        }
    }

    pub fn parse(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| format!("unknown role `{text}` (expected admin, campaign_owner, reviewer or auditor)"))
    }
}

/// Something a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Browse identities, grants, applications and risk.
    ViewEstate,
    /// Import a snapshot of a source.
    Import,
    /// Export records.
    Export,
    /// See and change people's roles and API tokens.
    ManageAccess,
    /// Create, launch and close campaigns.
    RunCampaigns,
    /// Change the risk settings and separation-of-duties rules.
    ConfigureRisk,
    /// Decide review items assigned to oneself.
    Review,
}

/// The one place that decides whether holders of `roles` may do `permission`.
pub fn allows(roles: &[Role], permission: Permission) -> bool {
    roles.iter().any(|role| match role {
        Role::Admin => true,
        Role::CampaignOwner => {
            matches!(permission, Permission::ViewEstate | Permission::Export | Permission::RunCampaigns | Permission::Review)
        }
        Role::Reviewer => matches!(permission, Permission::Review),
        Role::Auditor => matches!(permission, Permission::ViewEstate | Permission::Export),
    })
}

/// What an API token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TokenScope {
    /// Push snapshots of a source.
    Import,
    /// Read identities and grants.
    Read,
    /// Export records.
    Export,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [TokenScope::Import, TokenScope::Read, TokenScope::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Import => "import",
            TokenScope::Read => "read",
            TokenScope::Export => "export",
        }
    }

    pub fn parse(text: &str) -> Result<TokenScope, String> {
        TokenScope::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| format!("unknown scope `{text}` (expected import, read or export)"))
    }
}

/// An API token as listed to admins; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub api_token_id: i64,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    pub scopes: Vec<TokenScope>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub use_count: i64,
}

impl ApiToken {
    pub fn allows(&self, scope: TokenScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The person behind a request, as the server's session says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub app_user_id: i64,
    pub display_name: String,
    /// The stable name the identity provider gives this person, written beside their name in
    /// the decision log.
    pub subject: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    /// The inventory identity this person was matched to at sign-in.
    pub identity_id: Option<i64>,
}

impl CurrentUser {
    pub fn may(&self, permission: Permission) -> bool {
        allows(&self.roles, permission)
    }
}

/// What every page's header needs: who is signed in, and whether this is a demo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub demo: bool,
    /// Sign-in through the company's identity provider is configured.
    pub oidc: bool,
    pub user: Option<CurrentUser>,
}

/// The session cookie's name.
pub const COOKIE: &str = "attest_session";

/// The page paths a permission guards; pages not listed are open to every signed-in person.
/// The server's middleware answers 403 for the rest, and every server function checks again.
pub fn page_permission(path: &str) -> Option<Permission> {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or_default();
    // Reviewer groups are kept by whoever runs campaigns and read by whoever reads the estate;
    // the page shows its forms only to the first.
    if first == "admin" && segments.next() == Some("groups") {
        return Some(Permission::ViewEstate);
    }
    match first {
        "identities" | "grants" | "applications" | "risk" | "campaigns" | "remediation" => Some(Permission::ViewEstate),
        "evidence" => Some(Permission::Export),
        "reviews" => Some(Permission::Review),
        "admin" => Some(Permission::ManageAccess),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auditor_reads_and_exports_but_decides_and_administers_nothing() {
        let auditor = [Role::Auditor];
        assert!(allows(&auditor, Permission::ViewEstate));
        assert!(allows(&auditor, Permission::Export));
        for p in [Permission::Review, Permission::Import, Permission::ManageAccess, Permission::RunCampaigns] {
            assert!(!allows(&auditor, p), "{p:?}");
        }
    }

    #[test]
    fn a_reviewer_only_reviews_and_nobody_without_roles_does_anything() {
        assert!(allows(&[Role::Reviewer], Permission::Review));
        assert!(!allows(&[Role::Reviewer], Permission::ViewEstate));
        for p in [Permission::ViewEstate, Permission::Review, Permission::Import] {
            assert!(!allows(&[], p));
        }
    }

    #[test]
    fn roles_add_up() {
        assert!(allows(&[Role::Reviewer, Role::Auditor], Permission::Review));
        assert!(allows(&[Role::Reviewer, Role::Auditor], Permission::Export));
        assert!(allows(&[Role::Admin], Permission::ManageAccess));
    }

    #[test]
    fn reviewer_groups_are_read_with_the_estate_while_the_rest_of_admin_needs_admins() {
        assert_eq!(page_permission("/admin/groups"), Some(Permission::ViewEstate));
        assert_eq!(page_permission("/admin/people"), Some(Permission::ManageAccess));
        assert_eq!(page_permission("/admin"), Some(Permission::ManageAccess));
        assert_eq!(page_permission("/groups"), None);
    }

    #[test]
    fn role_and_scope_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        for scope in TokenScope::ALL {
            assert_eq!(TokenScope::parse(scope.as_str()), Ok(scope));
        }
        assert!(Role::parse("root").is_err());
    }
}
