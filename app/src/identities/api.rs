use leptos::prelude::*;

use crate::error::AppError;
use crate::identities::{ApplicationRow, IdentityDetail, IdentityFilter, IdentityPage, Overview};

#[server]
pub async fn list_identities(filter: IdentityFilter) -> Result<IdentityPage, AppError> {
    crate::session::server::require_user().await?;
    let state = crate::state::app_state()?;
    crate::identities::server::repo::list(&state.db, &filter, IdentityFilter::PER_PAGE)
        .await?
        .map_err(AppError::Validation)
}

#[server]
pub async fn get_identity(identity_id: i64) -> Result<IdentityDetail, AppError> {
    crate::session::server::require_user().await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::detail(&state.db, identity_id).await?)
}

#[server]
pub async fn list_applications() -> Result<Vec<ApplicationRow>, AppError> {
    crate::session::server::require_user().await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::applications(&state.db).await?)
}

#[server]
pub async fn estate_overview() -> Result<Overview, AppError> {
    crate::session::server::require_user().await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::overview(&state.db).await?)
}
