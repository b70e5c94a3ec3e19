//! Evidence: revocations tracked until an import shows the access gone, exceptions that come
//! back for review, and exports an auditor can take away and verify.

use serde::{Deserialize, Serialize};

use crate::identities::text_enum;

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

text_enum!(
    /// Where a revocation stands.
    RemediationStatus, "remediation status" {
        Open => "open", "open";
        Done => "done", "done, awaiting an import";
        Verified => "verified", "verified by an import";
        Failed => "failed", "failed: still granted";
    }
);

/// One revocation to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationTask {
    pub task_id: i64,
    pub campaign_id: i64,
    pub campaign: String,
    pub item_id: i64,
    pub identity_name: String,
    pub identity_kind: String,
    pub application: String,
    pub entitlement: String,
    pub source: String,
    /// `revoked` by a reviewer, or `revoked at the deadline`.
    pub reason: String,
    pub decided_by: Option<String>,
    pub justification: Option<String>,
    pub status: RemediationStatus,
    pub created_at: i64,
    pub done_by: Option<String>,
    pub done_note: Option<String>,
    pub done_at: Option<i64>,
    pub checked_by: Option<String>,
    pub checked_at: Option<i64>,
    pub verified_at: Option<i64>,
    pub failed_at: Option<i64>,
}

/// How many tasks stand where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationCounts {
    pub open: i64,
    pub done: i64,
    pub verified: i64,
    pub failed: i64,
}

impl RemediationCounts {
    pub fn total(&self) -> i64 {
        self.open + self.done + self.verified + self.failed
    }
}

/// The remediation page: tasks, filtered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationList {
    pub counts: RemediationCounts,
    pub tasks: Vec<RemediationTask>,
    pub may_act: bool,
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// An export an auditor took, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub export_id: i64,
    pub campaign_id: Option<i64>,
    pub campaign: Option<String>,
    pub from_at: Option<i64>,
    pub to_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub item_rows: i64,
    pub files: Vec<ExportFile>,
    pub manifest_sha256: String,
}

/// What to export: one campaign, or the decisions made in a date range, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub campaign_id: Option<i64>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// The evidence page: campaigns to choose from and the exports taken so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidencePage {
    pub campaigns: Vec<(i64, String)>,
    pub exports: Vec<ExportRecord>,
}

/// The files every export holds, in the manifest's order.
pub const EXPORT_FILES: [&str; 3] = ["decisions.csv", "decisions.json", "report.html"];
pub const MANIFEST: &str = "manifest.json";
