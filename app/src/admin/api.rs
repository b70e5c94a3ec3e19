use leptos::prelude::*;

use crate::admin::{NewToken, PeoplePage, TokensPage};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use crate::session::Permission;

/// Everyone who has signed in, their roles and the role history.
#[server(endpoint = "admin_people")]
pub async fn admin_people() -> Result<PeoplePage, AppError> {
    crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    let people = crate::admin::server::repo::people(&state.db).await?;
    let history = crate::admin::server::repo::history(&state.db, 200).await?;
    Ok(PeoplePage { people, history, now: crate::db::now() })
}

/// Grants or withdraws a role in attest. An admin cannot withdraw their own admin role, so
/// there is always someone left who can undo a mistake.
#[server(endpoint = "admin_set_role")]
pub async fn admin_set_role(app_user_id: i64, role: String, grant: bool) -> Result<(), AppError> {
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let role = crate::session::Role::parse(&role).map_err(AppError::Validation)?;
    if !grant && role == crate::session::Role::Admin && app_user_id == admin.app_user_id {
        return Err(AppError::Validation("you cannot withdraw your own admin role; ask another admin".into()));
    }
    let state = crate::state::app_state()?;
    let actor = format!("{} (#{})", admin.display_name, admin.app_user_id);
    let changed = crate::session::server::repo::set_admin_role(&state.db, app_user_id, role, grant, &actor).await?;
    tracing::info!(actor = %actor, app_user_id, role = role.as_str(), grant, changed, "role change");
    Ok(())
}

#[server(endpoint = "admin_tokens")]
pub async fn admin_tokens() -> Result<TokensPage, AppError> {
    crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    Ok(TokensPage { tokens: crate::session::server::tokens::list(&state.db).await?, now: crate::db::now() })
}

/// Creates an API token; the answer holds the secret, shown once.
#[server(endpoint = "admin_create_token")]
pub async fn admin_create_token(
    name: String,
    valid_days: i64,
    import: Option<String>,
    read: Option<String>,
    export: Option<String>,
) -> Result<NewToken, AppError> {
    use crate::session::TokenScope;
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Validation("give the token a name of 1 to 100 characters, saying what uses it".into()));
    }
    if !(1..=crate::admin::MAX_TOKEN_DAYS).contains(&valid_days) {
        return Err(AppError::Validation(format!("a token is valid for 1 to {} days", crate::admin::MAX_TOKEN_DAYS)));
    }
    let scopes: Vec<TokenScope> = [(import, TokenScope::Import), (read, TokenScope::Read), (export, TokenScope::Export)]
        .into_iter()
        .filter_map(|(on, scope)| on.map(|_| scope))
        .collect();
    if scopes.is_empty() {
        return Err(AppError::Validation("choose at least one scope: import, read or export".into()));
    }
    let state = crate::state::app_state()?;
    let actor = format!("{} (#{})", admin.display_name, admin.app_user_id);
    let (token, secret) = crate::session::server::tokens::create(&state.db, name, &scopes, valid_days, &actor).await?;
    tracing::info!(actor = %actor, token = token.api_token_id, name = %token.name, "API token created");
    Ok(NewToken { token, secret })
}

#[server(endpoint = "admin_revoke_token")]
pub async fn admin_revoke_token(api_token_id: i64) -> Result<(), AppError> {
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    let actor = format!("{} (#{})", admin.display_name, admin.app_user_id);
    let revoked = crate::session::server::tokens::revoke(&state.db, api_token_id, &actor).await?;
    tracing::info!(actor = %actor, token = api_token_id, revoked, "API token revoked");
    Ok(())
}
