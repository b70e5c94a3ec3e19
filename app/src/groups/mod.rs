//! Reviewer groups: named sets of people that a campaign asks to review together. Any member
//! may decide a group's item, the first decision wins, and nobody decides their own access.
//! Campaign owners and admins keep the groups; every change is recorded with who made it.

use serde::{Deserialize, Serialize};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// The longest group name and description.
pub const MAX_NAME: usize = 100;
pub const MAX_DESCRIPTION: usize = 500;

/// A person in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub identity_id: i64,
    pub name: String,
    pub email: Option<String>,
    /// An active person of the inventory: only they are asked to review.
    pub active: bool,
    pub added_by: String,
    pub added_at: i64,
}

/// A group with its members and what uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerGroup {
    pub reviewer_group_id: i64,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
    pub members: Vec<GroupMember>,
    /// Campaigns whose rule names this group.
    pub campaigns: i64,
    /// Items of open stages waiting for a decision by this group.
    pub open_items: i64,
}

/// One entry of the groups' history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChange {
    pub group: String,
    /// `created`, `added`, `removed` or `deleted`.
    pub action: String,
    pub member: Option<String>,
    pub actor: String,
    pub at: i64,
}

/// The reviewer groups page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsPage {
    pub groups: Vec<ReviewerGroup>,
    pub history: Vec<GroupChange>,
    /// Whether the signed-in person may change groups (campaign owners and admins).
    pub may_manage: bool,
    pub now: i64,
}
