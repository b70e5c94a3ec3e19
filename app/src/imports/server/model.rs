//! A source's estate as one snapshot, in a compact form: a million grants are a few tens of
//! megabytes, because grants point at identities and entitlements by index.

use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    pub external_id: String,
    pub kind: IdentityKind,
    pub display_name: String,
    pub email: Option<String>,
    pub owner: Option<String>,
    pub manager: Option<String>,
    pub department: Option<String>,
    pub status: IdentityStatus,
    pub purpose: Option<String>,
    pub created_at: Option<i64>,
    pub last_active_at: Option<i64>,
    pub credential_rotated_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    pub external_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub criticality: Criticality,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntitlementRecord {
    /// Index into `Snapshot::applications`.
    pub application: u32,
    pub name: String,
    /// As given by the source; `None` means it is inferred from the name.
    pub privilege: Option<Privilege>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrantRecord {
    /// Index into `Snapshot::identities`.
    pub identity: u32,
    /// Index into `Snapshot::entitlements`.
    pub entitlement: u32,
    pub granted_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Index into `Snapshot::names`.
    pub granted_by: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub source: String,
    pub format: String,
    pub identities: Vec<IdentityRecord>,
    pub applications: Vec<ApplicationRecord>,
    pub entitlements: Vec<EntitlementRecord>,
    pub grants: Vec<GrantRecord>,
    /// Interned strings that repeat across many grants (who granted them).
    pub names: Vec<String>,
    /// Separation-of-duties rules the source brings (`sod_rules.csv`); `None` keeps the
    /// rules an earlier snapshot brought.
    pub sod_rules: Option<Vec<crate::scoring::NewSodRule>>,
    pub warnings: Vec<String>,
}

impl EntitlementRecord {
    /// The level to store, and whether it was inferred.
    pub fn privilege(&self) -> (Privilege, bool) {
        match self.privilege {
            Some(p) => (p, false),
            None => (Privilege::infer(&self.name), true),
        }
    }
}
