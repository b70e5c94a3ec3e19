//! The risk score: 0–100 on every grant, from usage and hygiene signals, each with its words.
//!
//! Each factor that applies contributes points. They are combined so that the strongest factor
//! counts in full and every further one counts half as much as the one before: one severe
//! factor (a terminated identity still holding admin access) is never drowned out, and many
//! mild ones cannot add up past it without limit. The application's criticality then scales
//! the result (high ×1.25, medium ×1, low ×0.8), capped at 100. Integer arithmetic throughout,
//! so the same estate always scores the same, bit for bit.

use serde::{Deserialize, Serialize};

use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::time_fmt::DAY;

#[cfg(feature = "ssr")]
pub mod server;

/// One reason a grant is risky, with the points it adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub rule: Rule,
    pub points: u32,
    pub words: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Dormant,
    NeverUsed,
    UnusedEntitlement,
    Privilege,
    NoOwner,
    OwnerInactive,
    InactiveIdentity,
    Expired,
    NotRotated,
    NoExpiry,
    ExpiresSoon,
    RareAmongPeers,
    ToxicCombination,
}

impl Rule {
    pub const ALL: &'static [Rule] = &[
        Rule::InactiveIdentity,
        Rule::Expired,
        Rule::ToxicCombination,
        Rule::OwnerInactive,
        Rule::NoOwner,
        Rule::NeverUsed,
        Rule::Dormant,
        Rule::UnusedEntitlement,
        Rule::Privilege,
        Rule::NotRotated,
        Rule::NoExpiry,
        Rule::ExpiresSoon,
        Rule::RareAmongPeers,
    ];

    /// The stored spelling, as in `risk_rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Dormant => "dormant",
            Rule::NeverUsed => "never_used",
            Rule::UnusedEntitlement => "unused_entitlement",
            Rule::Privilege => "privilege",
            Rule::NoOwner => "no_owner",
            Rule::OwnerInactive => "owner_inactive",
            Rule::InactiveIdentity => "inactive_identity",
            Rule::Expired => "expired",
            Rule::NotRotated => "not_rotated",
            Rule::NoExpiry => "no_expiry",
            Rule::ExpiresSoon => "expires_soon",
            Rule::RareAmongPeers => "rare_among_peers",
            Rule::ToxicCombination => "toxic_combination",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::Dormant => "dormant access",
            Rule::NeverUsed => "never used",
            Rule::UnusedEntitlement => "active identity, unused access",
            Rule::Privilege => "privileged access",
            Rule::NoOwner => "machine identity without owner",
            Rule::OwnerInactive => "owner disabled or terminated",
            Rule::InactiveIdentity => "disabled or terminated, still granted",
            Rule::Expired => "expired, still granted",
            Rule::NotRotated => "credential not rotated",
            Rule::NoExpiry => "credential without expiry",
            Rule::ExpiresSoon => "credential expiring soon",
            Rule::RareAmongPeers => "rare among peers",
            Rule::ToxicCombination => "toxic combination (separation of duties)",
        }
    }
}

/// Thresholds and points; the defaults follow published baselines where there are some.
/// Stored as JSON with each change; a field missing from an older change takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Expected cadence of use, in days: people (Entra's inactive-user default)…
    pub cadence_human_days: i64,
    /// …API keys and tokens (CIS AWS 2.11)…
    pub cadence_key_days: i64,
    /// …and other machine identities (GCP recommender window).
    pub cadence_machine_days: i64,
    pub dormant_points: u32,
    /// Added on top of `dormant_points` as idleness grows to three cadences.
    pub dormant_extra_points: u32,
    pub never_used_points: u32,
    pub unused_entitlement_points: u32,
    pub admin_points: u32,
    pub write_points: u32,
    pub unknown_privilege_points: u32,
    pub no_owner_points: u32,
    pub owner_inactive_points: u32,
    pub inactive_identity_points: u32,
    pub expired_points: u32,
    /// CIS AWS 2.12: rotate keys every 90 days.
    pub rotation_days: i64,
    pub not_rotated_points: u32,
    pub no_expiry_points: u32,
    pub expires_soon_days: i64,
    pub expires_soon_points: u32,
    /// Fewer than this share of peers holding the same access is rare (percent).
    pub rare_below_percent: u32,
    pub rare_min_peers: i64,
    pub rare_points: u32,
    /// Holding both sides of a separation-of-duties rule.
    pub toxic_points: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cadence_human_days: 30,
            cadence_key_days: 45,
            cadence_machine_days: 90,
            dormant_points: 20,
            dormant_extra_points: 15,
            never_used_points: 35,
            unused_entitlement_points: 10,
            admin_points: 30,
            write_points: 15,
            unknown_privilege_points: 8,
            no_owner_points: 30,
            owner_inactive_points: 35,
            inactive_identity_points: 70,
            expired_points: 50,
            rotation_days: 90,
            not_rotated_points: 12,
            no_expiry_points: 5,
            expires_soon_days: 14,
            expires_soon_points: 5,
            rare_below_percent: 30,
            rare_min_peers: 5,
            rare_points: 10,
            toxic_points: 45,
        }
    }
}

/// One setting as the settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingField {
    /// The field's name, as in the stored JSON and the form.
    pub key: &'static str,
    pub label: &'static str,
    pub value: i64,
    pub min: i64,
    pub max: i64,
}

macro_rules! setting_fields {
    ($($field:ident, $label:literal, $min:literal..=$max:literal;)*) => {
        impl Settings {
            /// Every setting with its label and allowed range, in the settings page's order.
            pub fn fields(&self) -> Vec<SettingField> {
                vec![$(SettingField { key: stringify!($field), label: $label, value: i64::from(self.$field), min: $min, max: $max }),*]
            }
        }
    };
}

setting_fields! {
    cadence_human_days, "Inactive after (people), days", 1..=3650;
    cadence_key_days, "Inactive after (API keys and tokens), days", 1..=3650;
    cadence_machine_days, "Inactive after (other machine identities), days", 1..=3650;
    dormant_points, "Points: dormant access", 0..=100;
    dormant_extra_points, "Points: added as dormancy reaches three times the cadence", 0..=100;
    never_used_points, "Points: never used", 0..=100;
    unused_entitlement_points, "Points: active identity, unused access", 0..=100;
    admin_points, "Points: admin access", 0..=100;
    write_points, "Points: write access", 0..=100;
    unknown_privilege_points, "Points: privilege unknown", 0..=100;
    no_owner_points, "Points: machine identity without owner", 0..=100;
    owner_inactive_points, "Points: owner disabled or terminated", 0..=100;
    inactive_identity_points, "Points: identity disabled or terminated, still granted", 0..=100;
    expired_points, "Points: expired, still granted", 0..=100;
    rotation_days, "Not rotated after, days", 1..=3650;
    not_rotated_points, "Points: credential not rotated", 0..=100;
    no_expiry_points, "Points: credential without expiry", 0..=100;
    expires_soon_days, "Expiring soon within, days", 0..=365;
    expires_soon_points, "Points: credential expiring soon", 0..=100;
    rare_below_percent, "Rare below, percent of peers holding it", 0..=100;
    rare_min_peers, "Rarity needs at least this many peers", 1..=1000000;
    rare_points, "Points: rare among peers", 0..=100;
    toxic_points, "Points: toxic combination", 0..=100;
}

impl Settings {
    /// The first setting outside its range, in words.
    pub fn check(&self) -> Result<(), String> {
        match self.fields().into_iter().find(|f| f.value < f.min || f.value > f.max) {
            Some(f) => Err(format!("{}: must be between {} and {}, not {}", f.label, f.min, f.max, f.value)),
            None => Ok(()),
        }
    }

    /// What differs from `other`, for the record of changes: "Points: admin access 30 → 40".
    pub fn changes_to(&self, other: &Settings) -> String {
        self.fields()
            .into_iter()
            .zip(other.fields())
            .filter(|(a, b)| a.value != b.value)
            .map(|(a, b)| format!("{} {} → {}", a.label, a.value, b.value))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Settings {
    pub fn cadence_days(&self, kind: IdentityKind) -> i64 {
        match kind {
            IdentityKind::Human => self.cadence_human_days,
            IdentityKind::ApiKey | IdentityKind::Token => self.cadence_key_days,
            _ => self.cadence_machine_days,
        }
    }
}

/// What scoring one grant needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: IdentityKind,
    pub status: IdentityStatus,
    pub has_owner: bool,
    /// The owner is in the inventory and disabled or terminated.
    pub owner_inactive: bool,
    pub identity_last_active_at: Option<i64>,
    pub credential_rotated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub privilege: Privilege,
    pub privilege_inferred: bool,
    pub criticality: Criticality,
    pub granted_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Holders of this entitlement among the identity's peers, and the peers in all.
    pub peers_holding: i64,
    pub peers: i64,
    /// The separation-of-duties conflict this grant is one side of, in words:
    /// "with AWS prod: iam-admin (approves own payments)".
    pub toxic: Option<String>,
}

/// A score with the factors behind it, strongest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub value: u32,
    pub factors: Vec<Factor>,
}

impl Score {
    /// "admin · no use in 212 days · no owner"
    pub fn words(&self) -> String {
        self.factors.iter().map(|f| f.words.as_str()).collect::<Vec<_>>().join(" · ")
    }
}

fn days(secs: i64) -> i64 {
    secs.div_euclid(DAY)
}

pub fn score(input: &Input, settings: &Settings, now: i64) -> Score {
    let mut factors = Vec::new();
    let mut add = |rule: Rule, points: u32, words: String| {
        if points > 0 {
            factors.push(Factor { rule, points, words });
        }
    };
    let machine = input.kind.is_machine();
    let cadence = settings.cadence_days(input.kind).max(1);

    // Lifecycle.
    if input.status != IdentityStatus::Active {
        add(Rule::InactiveIdentity, settings.inactive_identity_points, format!("identity {} but still granted", input.status.as_str()));
    }
    if let Some(expires) = input.expires_at.filter(|e| *e < now) {
        add(Rule::Expired, settings.expired_points, format!("expired {} days ago but still granted", days(now - expires)));
    }

    // Usage: the grant's own last use, else the identity's last activity.
    match input.last_used_at.or(input.identity_last_active_at) {
        None => {
            let since = input.granted_at.map(|g| days(now - g));
            if since.is_none_or(|d| d > cadence) {
                let words = match since {
                    Some(d) => format!("never used in {d} days since granted"),
                    None => "never used".to_string(),
                };
                add(Rule::NeverUsed, settings.never_used_points, words);
            }
        }
        Some(used) => {
            let idle = days(now - used);
            if idle > cadence {
                let extra = (i64::from(settings.dormant_extra_points) * (idle - cadence) / (2 * cadence))
                    .min(i64::from(settings.dormant_extra_points)) as u32;
                add(Rule::Dormant, settings.dormant_points + extra, format!("no use in {idle} days"));
            } else if input.last_used_at.is_none() {
                // Only the identity's activity is known: nothing more to say.
            }
            let identity_recent = input.identity_last_active_at.is_some_and(|a| days(now - a) <= cadence);
            if input.last_used_at.is_some_and(|u| days(now - u) > cadence) && identity_recent {
                add(Rule::UnusedEntitlement, settings.unused_entitlement_points, "identity active, this access unused".to_string());
            }
        }
    }

    // Privilege.
    let inferred = if input.privilege_inferred { " (inferred)" } else { "" };
    match input.privilege {
        Privilege::Admin => add(Rule::Privilege, settings.admin_points, format!("admin{inferred}")),
        Privilege::Write => add(Rule::Privilege, settings.write_points, format!("write{inferred}")),
        Privilege::Unknown => add(Rule::Privilege, settings.unknown_privilege_points, "privilege unknown".to_string()),
        Privilege::Read => {}
    }

    // Ownership and credential hygiene, for machines.
    if machine {
        if !input.has_owner {
            add(Rule::NoOwner, settings.no_owner_points, "no owner".to_string());
        } else if input.owner_inactive {
            add(Rule::OwnerInactive, settings.owner_inactive_points, "owner disabled or terminated".to_string());
        }
        match input.credential_rotated_at {
            Some(at) if days(now - at) > settings.rotation_days => {
                add(Rule::NotRotated, settings.not_rotated_points, format!("not rotated in {} days", days(now - at)));
            }
            _ => {}
        }
        match input.expires_at {
            None => add(Rule::NoExpiry, settings.no_expiry_points, "no expiry".to_string()),
            Some(at) if at >= now && days(at - now) < settings.expires_soon_days => {
                add(Rule::ExpiresSoon, settings.expires_soon_points, format!("expires in {} days", days(at - now)));
            }
            _ => {}
        }
    }

    // Separation of duties.
    if let Some(conflict) = &input.toxic {
        add(Rule::ToxicCombination, settings.toxic_points, format!("toxic combination {conflict}"));
    }

    // Peer rarity.
    if input.peers >= settings.rare_min_peers && input.peers > 0 {
        let percent = input.peers_holding * 100 / input.peers;
        if percent < i64::from(settings.rare_below_percent) {
            add(Rule::RareAmongPeers, settings.rare_points, format!("rare among peers ({percent} %)"));
        }
    }

    // Strongest first; ties by rule order, so the words are stable.
    factors.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| rank(a.rule).cmp(&rank(b.rule))));
    let mut total: u64 = 0;
    for (i, factor) in factors.iter().enumerate() {
        total += (u64::from(factor.points) * 1_000) >> i.min(63);
    }
    let scale: u64 = match input.criticality {
        Criticality::High => 125,
        Criticality::Medium => 100,
        Criticality::Low => 80,
    };
    let value = ((total * scale / 100 + 500) / 1_000).min(100) as u32;
    Score { value, factors }
}

fn rank(rule: Rule) -> usize {
    Rule::ALL.iter().position(|r| *r == rule).unwrap_or(usize::MAX)
}

/// The band a score falls in, for colour and for the words beside the number.
pub fn band(value: u32) -> &'static str {
    match value {
        70.. => "high",
        40..=69 => "medium",
        _ => "low",
    }
}

#[cfg(test)]
mod tests;

pub mod api;
pub mod ui;

/// The figures on the risk page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskOverview {
    /// Active grants per score band of ten (0–9 … 90–100): people, machines.
    pub histogram: Vec<(i64, i64)>,
    /// Active grants each rule applies to: rule, people, machines.
    pub by_rule: Vec<(Rule, i64, i64)>,
    pub top: Vec<crate::identities::GrantRow>,
    pub mean_human: i64,
    pub mean_machine: i64,
}

/// A separation-of-duties rule: one identity holding both entitlements is a toxic combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SodRule {
    pub sod_rule_id: i64,
    /// An application's id in its source, or its name.
    pub application_a: String,
    pub entitlement_a: String,
    pub application_b: String,
    pub entitlement_b: String,
    pub reason: String,
    /// The source whose import bundle brought the rule; `None` when added on the settings page.
    pub source: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    /// Identities holding both sides now.
    pub holders: i64,
}

/// One recorded change of the risk settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsChange {
    pub summary: String,
    pub changed_by: String,
    pub changed_at: i64,
}

/// The risk settings page: the settings in force, their history and the SoD rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSettings {
    pub settings: Settings,
    pub history: Vec<SettingsChange>,
    pub sod_rules: Vec<SodRule>,
    pub now: i64,
}

/// The longest text of a rule's field or reason.
pub const MAX_SOD_TEXT: usize = 500;

/// A new rule as typed on the settings page or read from `sod_rules.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewSodRule {
    pub application_a: String,
    pub entitlement_a: String,
    pub application_b: String,
    pub entitlement_b: String,
    pub reason: String,
}

impl NewSodRule {
    /// Trims every field; the first empty or overlong one is named.
    pub fn checked(self) -> Result<NewSodRule, String> {
        let rule = NewSodRule {
            application_a: self.application_a.trim().to_string(),
            entitlement_a: self.entitlement_a.trim().to_string(),
            application_b: self.application_b.trim().to_string(),
            entitlement_b: self.entitlement_b.trim().to_string(),
            reason: self.reason.trim().to_string(),
        };
        for (field, value) in [
            ("application_a", &rule.application_a),
            ("entitlement_a", &rule.entitlement_a),
            ("application_b", &rule.application_b),
            ("entitlement_b", &rule.entitlement_b),
            ("reason", &rule.reason),
        ] {
            if value.is_empty() {
                return Err(format!("{field} is required"));
            }
            if value.chars().count() > MAX_SOD_TEXT {
                return Err(format!("{field} is longer than {MAX_SOD_TEXT} characters"));
            }
        }
        if (&rule.application_a, &rule.entitlement_a) == (&rule.application_b, &rule.entitlement_b) {
            return Err("entitlement_b: both sides name the same entitlement".into());
        }
        Ok(rule)
    }
}
