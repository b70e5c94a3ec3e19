use leptos::prelude::*;

use crate::error::AppError;
use crate::identities::{ApplicationRow, GrantPage, IdentityDetail, IdentityFilter, IdentityPage, Overview};

/// Grants per page on the grants page.
pub const GRANTS_PER_PAGE: u32 = 50;

/// Current grants matching a query in the query language, riskiest first. The total comes
/// from [`count_grants`], so the first page does not wait for it.
#[server(endpoint = "search_grants")]
pub async fn search_grants(query: String, page: u32) -> Result<GrantPage, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    let page = page.max(1);
    let offset = i64::from(page - 1) * i64::from(GRANTS_PER_PAGE);
    // One more than a page says whether another follows.
    let mut rows = crate::identities::server::repo::query_grants(&state.db, &query, true, i64::from(GRANTS_PER_PAGE) + 1, offset)
        .await?
        .map_err(|e| AppError::Validation(e.to_string()))?;
    let more = rows.len() > GRANTS_PER_PAGE as usize;
    rows.truncate(GRANTS_PER_PAGE as usize);
    let ids: Vec<i64> = rows.iter().map(|g| g.access_grant_id).collect();
    let exceptions = crate::identities::server::repo::active_exceptions(&state.db, &ids).await?;
    Ok(GrantPage { rows, exceptions, more, page, per_page: GRANTS_PER_PAGE, now: crate::db::now() })
}

/// How many current grants match a query, up to one past [`crate::campaigns::COUNT_CAP`].
#[server(endpoint = "count_grants")]
pub async fn count_grants(query: String) -> Result<i64, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    crate::identities::server::repo::count_grants(&state.db, &query, crate::campaigns::COUNT_CAP)
        .await?
        .map_err(|e| AppError::Validation(e.to_string()))
}

#[server(endpoint = "list_identities")]
pub async fn list_identities(filter: IdentityFilter) -> Result<IdentityPage, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    crate::identities::server::repo::list(&state.db, &filter, IdentityFilter::PER_PAGE).await?.map_err(AppError::Validation)
}

#[server(endpoint = "get_identity")]
pub async fn get_identity(identity_id: i64) -> Result<IdentityDetail, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::detail(&state.db, identity_id).await?)
}

#[server(endpoint = "list_applications")]
pub async fn list_applications() -> Result<Vec<ApplicationRow>, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::applications(&state.db).await?)
}

#[server(endpoint = "estate_overview")]
pub async fn estate_overview() -> Result<Overview, AppError> {
    crate::session::server::require(crate::session::Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::identities::server::repo::overview(&state.db).await?)
}
