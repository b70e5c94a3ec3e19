use leptos::prelude::*;

use crate::error::AppError;
use crate::scoring::RiskOverview;

#[server(endpoint = "get_risk_overview")]
pub async fn get_risk_overview() -> Result<RiskOverview, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::scoring::server::repo::overview(&state.db).await?)
}
