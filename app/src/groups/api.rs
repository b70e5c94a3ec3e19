use leptos::prelude::*;

use crate::error::AppError;
use crate::groups::GroupsPage;
#[cfg(feature = "ssr")]
use crate::session::Permission;

/// Every reviewer group with its members, and the latest changes. Whoever reads the estate
/// reads them; campaign owners and admins change them.
#[server(endpoint = "reviewer_groups")]
pub async fn reviewer_groups() -> Result<GroupsPage, AppError> {
    let user = crate::session::server::require(Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    let groups = crate::groups::server::repo::list(&state.db).await?;
    let history = crate::groups::server::repo::history(&state.db, 200).await?;
    Ok(GroupsPage { groups, history, may_manage: user.may(Permission::RunCampaigns), now: crate::db::now() })
}

#[server(endpoint = "create_reviewer_group")]
pub async fn create_reviewer_group(name: String, description: Option<String>) -> Result<i64, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let id = crate::groups::server::repo::create(&state.db, &name, description.as_deref().unwrap_or(""), &user)
        .await?
        .map_err(AppError::Validation)?;
    tracing::info!(user = %user.display_name, group = id, "reviewer group created");
    Ok(id)
}

/// Adds the person with this email (an active person of the inventory) to a group.
#[server(endpoint = "add_reviewer_group_member")]
pub async fn add_reviewer_group_member(reviewer_group_id: i64, email: String) -> Result<String, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let name = crate::groups::server::repo::add_member(&state.db, reviewer_group_id, &email, &user).await?.map_err(AppError::Validation)?;
    tracing::info!(user = %user.display_name, group = reviewer_group_id, member = %name, "reviewer group member added");
    Ok(name)
}

#[server(endpoint = "remove_reviewer_group_member")]
pub async fn remove_reviewer_group_member(reviewer_group_id: i64, identity_id: i64) -> Result<String, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let name = crate::groups::server::repo::remove_member(&state.db, reviewer_group_id, identity_id, &user)
        .await?
        .map_err(AppError::Validation)?;
    tracing::info!(user = %user.display_name, group = reviewer_group_id, member = %name, "reviewer group member removed");
    Ok(name)
}

/// Deletes a group that no campaign names.
#[server(endpoint = "delete_reviewer_group")]
pub async fn delete_reviewer_group(reviewer_group_id: i64) -> Result<String, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let name = crate::groups::server::repo::delete(&state.db, reviewer_group_id, &user).await?.map_err(AppError::Validation)?;
    tracing::info!(user = %user.display_name, group = reviewer_group_id, "reviewer group deleted");
    Ok(name)
}
