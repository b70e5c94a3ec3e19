use leptos::prelude::*;

use crate::error::AppError;
use crate::scoring::{NewSodRule, RiskOverview, RiskSettings, Settings};

#[server(endpoint = "get_risk_overview")]
pub async fn get_risk_overview() -> Result<RiskOverview, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::scoring::server::repo::overview(&state.db).await?)
}

#[server(endpoint = "admin_risk_settings")]
pub async fn admin_risk_settings() -> Result<RiskSettings, AppError> {
    crate::session::server::require(crate::session::Permission::ConfigureRisk).await?;
    let state = crate::state::app_state()?;
    let db = &state.db;
    use crate::scoring::server::settings;
    Ok(RiskSettings {
        settings: settings::current(&db.pool).await?,
        history: settings::history(db).await?,
        sod_rules: settings::rules(db).await?,
        now: crate::db::now(),
    })
}

/// Records new settings with who changed them, then scores every grant again.
#[server(endpoint = "admin_save_risk_settings")]
pub async fn admin_save_risk_settings(settings: Settings) -> Result<String, AppError> {
    let admin = crate::session::server::require(crate::session::Permission::ConfigureRisk).await?;
    settings.check().map_err(AppError::Validation)?;
    let state = crate::state::app_state()?;
    let Some(summary) =
        crate::scoring::server::settings::save(&state.db, &settings, &admin.display_name, &admin.subject, crate::db::now()).await?
    else {
        return Ok("Nothing changed.".into());
    };
    tracing::info!(user = %admin.display_name, %summary, "risk settings changed");
    let scored = crate::scoring::server::repo::rescore(&state.db).await?;
    Ok(format!("Saved: {summary}. {scored} grants scored again."))
}

/// Adds a separation-of-duties rule, then scores every grant again.
#[server(endpoint = "admin_add_sod_rule")]
pub async fn admin_add_sod_rule(rule: NewSodRule) -> Result<String, AppError> {
    let admin = crate::session::server::require(crate::session::Permission::ConfigureRisk).await?;
    let rule = rule.checked().map_err(AppError::Validation)?;
    let state = crate::state::app_state()?;
    let mut conn = state.db.pool.acquire().await.map_err(crate::db::DbError::from)?;
    crate::scoring::server::settings::add_rules(&mut conn, std::slice::from_ref(&rule), None, &admin.display_name, crate::db::now())
        .await?;
    drop(conn);
    tracing::info!(user = %admin.display_name, a = %rule.entitlement_a, b = %rule.entitlement_b, "separation-of-duties rule added");
    let scored = crate::scoring::server::repo::rescore(&state.db).await?;
    Ok(format!("Rule added. {scored} grants scored again."))
}

/// Removes a rule (kept with who removed it), then scores every grant again.
#[server(endpoint = "admin_remove_sod_rule")]
pub async fn admin_remove_sod_rule(sod_rule_id: i64) -> Result<String, AppError> {
    let admin = crate::session::server::require(crate::session::Permission::ConfigureRisk).await?;
    let state = crate::state::app_state()?;
    if !crate::scoring::server::settings::remove_rule(&state.db, sod_rule_id, &admin.display_name, crate::db::now()).await? {
        return Err(AppError::Validation(format!("rule {sod_rule_id} is removed already or does not exist")));
    }
    tracing::info!(user = %admin.display_name, rule = sod_rule_id, "separation-of-duties rule removed");
    let scored = crate::scoring::server::repo::rescore(&state.db).await?;
    Ok(format!("Rule removed. {scored} grants scored again."))
}
