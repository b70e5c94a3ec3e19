//! Snapshots of an estate from a source. A snapshot replaces what the source said before:
//! new rows are added, changed rows updated, and rows it no longer contains are ended (kept,
//! so revocations can be verified later). All of it in one transaction, or nothing.

use serde::{Deserialize, Serialize};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// What an import did, printed by the CLI and returned by the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub source: String,
    pub identities_added: i64,
    pub identities_changed: i64,
    pub identities_ended: i64,
    pub grants_added: i64,
    pub grants_changed: i64,
    pub grants_ended: i64,
    pub applications_added: i64,
    pub entitlements_added: i64,
    pub rejected: i64,
    /// Active grants of the whole estate scored again after the import.
    pub grants_scored: u64,
    /// Milliseconds spent applying the snapshot, and scoring afterwards.
    pub apply_ms: u64,
    pub scoring_ms: u64,
    /// Revocations this import showed carried out, and ones it showed still granted too long.
    pub remediation_verified: u64,
    pub remediation_failed: u64,
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "source `{}`:", self.source)?;
        writeln!(f, "  identities: {} added, {} changed, {} ended", self.identities_added, self.identities_changed, self.identities_ended)?;
        writeln!(f, "  grants:     {} added, {} changed, {} ended", self.grants_added, self.grants_changed, self.grants_ended)?;
        writeln!(f, "  applications: {} added; entitlements: {} added", self.applications_added, self.entitlements_added)?;
        writeln!(
            f,
            "  risk:       {} active grants scored ({:.1} s applying, {:.1} s scoring)",
            self.grants_scored,
            self.apply_ms as f64 / 1000.0,
            self.scoring_ms as f64 / 1000.0
        )?;
        if self.remediation_verified + self.remediation_failed > 0 {
            writeln!(
                f,
                "  remediation: {} revocations verified, {} failed (still granted)",
                self.remediation_verified, self.remediation_failed
            )?;
        }
        write!(f, "  rejected:   {}", self.rejected)?;
        for warning in &self.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        Ok(())
    }
}

/// One snapshot applied to a source, as the Imports page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRun {
    pub import_run_id: i64,
    pub source: String,
    pub format: String,
    pub actor: String,
    pub identities_added: i64,
    pub identities_changed: i64,
    pub identities_ended: i64,
    pub grants_added: i64,
    pub grants_changed: i64,
    pub grants_ended: i64,
    pub finished_at: i64,
}

/// The Imports page: what can be uploaded, and the latest imports of every source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsPage {
    /// (name, description) of every format an upload can be read as; `csv` first.
    pub formats: Vec<(String, String)>,
    pub runs: Vec<ImportRun>,
    /// The largest upload the server takes, in MiB.
    pub max_upload_mb: u64,
    pub now: i64,
}
