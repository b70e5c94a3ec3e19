//! Campaigns: who certifies which access, by when, in how many stages; the review queue; and
//! decisions, each with a named approver, chained in a tamper-evident log.

use serde::{Deserialize, Serialize};

use crate::identities::{IdentityKind, Privilege, text_enum};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

text_enum!(
    /// Who is asked to review an item in the first stage.
    ReviewerRule, "reviewer rule" {
        ApplicationOwner => "application_owner", "application owner";
        IdentityOwner => "identity_owner", "owner of a machine identity, manager of a person";
        Manager => "manager", "manager";
        Named => "named", "a named person";
        Group => "group", "a reviewer group";
    }
);

text_enum!(
    /// What happens to items nobody decided when a stage closes.
    DeadlineAction, "deadline action" {
        Keep => "keep", "keep the access";
        Revoke => "revoke", "revoke the access";
        Recommendation => "recommendation", "follow the recommendation (revoke high risk)";
    }
);

text_enum!(
    /// When a decision needs a justification. An exception always does.
    JustificationRule, "justification rule" {
        Always => "always", "always";
        HighRiskApprove => "high_risk_approve", "on revoke, and on approve of high-risk items";
        Revoke => "revoke", "on revoke";
    }
);

text_enum!(
    CampaignStatus, "campaign status" {
        Draft => "draft", "draft";
        Active => "active", "active";
        Closed => "closed", "closed";
    }
);

text_enum!(
    /// A reviewer's answer for one item.
    Decision, "decision" {
        Approve => "approve", "approve";
        Revoke => "revoke", "revoke";
        Exception => "exception", "exception";
    }
);

/// What a reviewer asks for: a decision, or handing the item on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Decide(Decision),
    /// To another reviewer, named by email, with a reason.
    Reassign(String),
    /// "I don't know": the item goes to the fallback reviewer.
    Abstain,
}

/// A campaign as its owner defines it before launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CampaignDraft {
    pub name: String,
    pub description: String,
    pub scope_query: String,
    pub reviewer_rule: String,
    /// Email of the reviewer for the `named` rule.
    pub named_reviewer: String,
    /// Name of the reviewer group for the `group` rule.
    #[serde(default)]
    pub reviewer_group: String,
    /// Email of the person who gets what the rule cannot place, and abstentions.
    pub fallback_reviewer: String,
    /// Email of the second stage's reviewer; empty for one stage.
    pub stage2_reviewer: String,
    /// `YYYY-MM-DD`; the stage closes at the end of that day (UTC).
    pub deadline: String,
    pub deadline_action: String,
    pub justification: String,
    pub high_risk: i64,
    pub max_exception_days: i64,
}

impl CampaignDraft {
    pub const MAX_NAME: usize = 200;
    pub const MAX_DESCRIPTION: usize = 4000;
}

/// The longest justification a reviewer may write.
pub const MAX_JUSTIFICATION: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub campaign_id: i64,
    pub name: String,
    pub description: String,
    pub scope_query: String,
    pub reviewer_rule: ReviewerRule,
    pub named_reviewer: Option<String>,
    /// The group of the `group` rule.
    pub reviewer_group: Option<String>,
    pub fallback_reviewer: String,
    pub stage2_reviewer: Option<String>,
    pub deadline_at: i64,
    pub deadline_action: DeadlineAction,
    pub justification: JustificationRule,
    pub high_risk: i64,
    pub max_exception_days: i64,
    pub status: CampaignStatus,
    pub stage: i64,
    pub stages: i64,
    pub created_by: String,
    pub created_at: i64,
    pub launched_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// One line of the campaigns list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub campaign: Campaign,
    pub items: i64,
    pub decided: i64,
    pub high_risk_open: i64,
}

/// What a draft's scope would take in, before launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopePreview {
    pub total: i64,
    pub humans: i64,
    pub machines: i64,
    pub high_risk: i64,
    pub top: Vec<crate::identities::GrantRow>,
}

/// One grant under review, as frozen at launch, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub item_id: i64,
    pub campaign_id: i64,
    pub campaign: String,
    pub deadline_at: i64,
    pub identity_id: i64,
    pub identity_name: String,
    pub identity_kind: IdentityKind,
    pub identity_email: Option<String>,
    pub identity_status: String,
    pub owner_name: Option<String>,
    pub manager_name: Option<String>,
    pub department: Option<String>,
    pub purpose: Option<String>,
    pub last_active_at: Option<i64>,
    pub credential_rotated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub application: String,
    pub entitlement: String,
    pub privilege: Privilege,
    pub granted_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub risk_score: i64,
    pub risk_words: String,
    pub stage: i64,
    /// The person the item is assigned to.
    pub reviewer: Option<String>,
    /// The group it is assigned to instead: any member but the holder may decide it.
    pub reviewer_group: Option<String>,
    pub assigned_by: String,
    pub decision: Option<Decision>,
    pub exception_until: Option<i64>,
    pub justification: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub outcome: Option<String>,
    pub version: i64,
    /// How many other identities hold the same entitlement.
    pub peers: i64,
    /// Whether a decision needs a justification, by the campaign's rule.
    pub needs_justification: Vec<Decision>,
    pub max_exception_days: i64,
    pub high_risk: bool,
}

/// How far a queue's open and decided items are counted in each campaign: counting further
/// would read a whole range of an index on every page, and a fallback reviewer or a group may
/// hold a million items. Past it the page says "at least".
pub const COUNT_CAP: i64 = 10_000;

/// A reviewer's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewQueue {
    pub items: Vec<ReviewItem>,
    pub open: i64,
    pub decided: i64,
    /// Set when more open or decided items wait than are counted (each part of a queue is
    /// counted up to [`COUNT_CAP`] per campaign): the counts are at least these.
    pub more: bool,
    pub now: i64,
    /// Set when the signed-in person is not matched to an identity in the inventory.
    pub unmatched: bool,
}

/// How far one reviewer (or one application) has come in the current stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRow {
    pub name: String,
    pub total: i64,
    pub decided: i64,
}

/// Signs of rubber-stamping, per reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewerAnalytics {
    pub reviewer: String,
    pub decisions: i64,
    /// Median seconds between a reviewer's consecutive decisions.
    pub median_seconds: Option<i64>,
    pub high_risk_decisions: i64,
    pub high_risk_approved: i64,
    pub bulk: i64,
}

/// The campaign page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDetail {
    pub campaign: Campaign,
    pub items: i64,
    pub decided: i64,
    pub by_reviewer: Vec<ProgressRow>,
    pub by_application: Vec<ProgressRow>,
    pub analytics: Vec<ReviewerAnalytics>,
    pub outcomes: Vec<(String, i64)>,
    pub revoked: Vec<ReviewItem>,
    /// Where the campaign's revocations stand.
    pub remediation: crate::evidence::RemediationCounts,
    pub events: Vec<LogLine>,
    /// The decision log verified from its first entry to its head.
    pub chain: ChainCheck,
    pub may_run: bool,
    pub now: i64,
}

/// An entry of the decision log as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub seq: i64,
    pub at: i64,
    pub action: String,
    pub approver: String,
    pub justification: Option<String>,
}

/// The result of recomputing the decision log's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainCheck {
    Verified { entries: i64, head: String },
    Broken { seq: i64, reason: String },
}

impl Decision {
    /// The item's outcome when this decision is final.
    pub fn outcome(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Revoke => "revoked",
            Decision::Exception => "exception",
        }
    }
}

impl JustificationRule {
    /// The decisions that need a justification on an item of `risk`, given the campaign's
    /// high-risk threshold. An exception always does.
    pub fn required_for(self, risk: i64, high_risk: i64) -> Vec<Decision> {
        match self {
            JustificationRule::Always => vec![Decision::Approve, Decision::Revoke, Decision::Exception],
            JustificationRule::HighRiskApprove if risk >= high_risk => vec![Decision::Approve, Decision::Revoke, Decision::Exception],
            JustificationRule::HighRiskApprove | JustificationRule::Revoke => vec![Decision::Revoke, Decision::Exception],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_always_needs_a_justification_and_approval_only_when_the_rule_says() {
        assert_eq!(JustificationRule::Revoke.required_for(95, 70), vec![Decision::Revoke, Decision::Exception]);
        assert!(JustificationRule::HighRiskApprove.required_for(70, 70).contains(&Decision::Approve));
        assert!(!JustificationRule::HighRiskApprove.required_for(69, 70).contains(&Decision::Approve));
        assert_eq!(JustificationRule::Always.required_for(0, 70).len(), 3);
    }
}
