//! People, their roles and API tokens, for admins. Every role change is recorded with who
//! made it and when.

use serde::{Deserialize, Serialize};

use crate::session::{ApiToken, Role};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// Where a role came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRole {
    pub role: Role,
    /// `idp` (the identity provider's claim) or `admin` (granted in attest).
    pub source: String,
    pub granted_by: String,
}

/// A person who has signed in to attest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub app_user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub subject: String,
    pub identity_id: Option<i64>,
    pub identity_name: Option<String>,
    pub last_sign_in_at: Option<i64>,
    pub roles: Vec<HeldRole>,
}

/// One entry of the role history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    pub person: String,
    pub role: Role,
    /// `granted` or `revoked`.
    pub action: String,
    pub source: String,
    pub actor: String,
    pub at: i64,
}

/// The people page: everyone, and the latest role changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    pub history: Vec<RoleChange>,
    pub now: i64,
}

/// A token just created: the secret is in here once and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

/// The tokens page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensPage {
    pub tokens: Vec<ApiToken>,
    pub now: i64,
}

/// Longest an API token may be valid for, in days.
pub const MAX_TOKEN_DAYS: i64 = 366;
