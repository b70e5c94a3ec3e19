use leptos::prelude::*;

use crate::error::AppError;
use crate::evidence::{EvidencePage, ExportRecord, RemediationList, RemediationTask};
#[cfg(feature = "ssr")]
use crate::session::Permission;

/// Remediation tasks, optionally of one campaign or in one status.
#[server(endpoint = "list_remediation")]
pub async fn list_remediation(campaign_id: Option<i64>, status: Option<String>) -> Result<RemediationList, AppError> {
    let user = crate::session::server::require(Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    let status = match status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(crate::evidence::RemediationStatus::parse(s).map_err(AppError::Validation)?),
    };
    let filter = crate::evidence::server::remediation::Filter { campaign_id, status, task_id: None };
    Ok(crate::evidence::server::remediation::page(&state.db, &filter, user.may(Permission::RunCampaigns)).await?)
}

/// A campaign owner or admin says a revocation was carried out.
#[server(endpoint = "mark_remediation_done")]
pub async fn mark_remediation_done(task_id: i64, note: String) -> Result<RemediationTask, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let task = crate::evidence::server::remediation::mark_done(&state.db, task_id, &note, &user, crate::db::now())
        .await?
        .map_err(AppError::Validation)?;
    tracing::info!(user = %user.display_name, task_id, "remediation marked done");
    Ok(task)
}

/// Campaigns to export and the exports taken so far.
#[server(endpoint = "get_evidence")]
pub async fn get_evidence() -> Result<EvidencePage, AppError> {
    crate::session::server::require(Permission::Export).await?;
    let state = crate::state::app_state()?;
    let campaigns =
        crate::campaigns::server::repo::list(&state.db).await?.into_iter().map(|c| (c.campaign.campaign_id, c.campaign.name)).collect();
    Ok(EvidencePage { campaigns, exports: crate::evidence::server::export::list(&state.db, 100).await? })
}

/// Takes an export: the files are written on the server and recorded with their hashes.
/// `campaign` is a campaign's number or empty for all; `from` and `to` are `YYYY-MM-DD` or empty.
#[server(endpoint = "create_export")]
pub async fn create_export(campaign: String, from: String, to: String) -> Result<ExportRecord, AppError> {
    use crate::evidence::server::export;
    let user = crate::session::server::require(Permission::Export).await?;
    let state = crate::state::app_state()?;
    let campaign_id = match campaign.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| AppError::Validation(format!("campaign: `{text}` is not a campaign number")))?),
    };
    let request = crate::evidence::ExportRequest { campaign_id, from: Some(from), to: Some(to) };
    let scope = export::scope_of(&state.db, &request).await?.map_err(AppError::Validation)?;
    // Written under a temporary name, then moved to the export's number.
    let staging = state.exports_dir.join(format!(".staging-{}-{}", user.app_user_id, crate::db::now()));
    let by = export::Taker { name: &user.display_name, subject: &user.subject };
    let record = match export::write(&state.db, &scope, &staging, &by, crate::db::now()).await {
        Ok(record) => record,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.into());
        }
    };
    std::fs::rename(&staging, export::export_dir(&state.exports_dir, record.export_id)).map_err(crate::db::DbError::from)?;
    tracing::info!(user = %user.display_name, export_id = record.export_id, rows = record.item_rows, "evidence export taken");
    Ok(record)
}
