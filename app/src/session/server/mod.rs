//! Sessions stored server-side (the cookie holds a random token, the table its SHA-256),
//! roles, and API tokens.

pub mod repo;
pub mod tokens;

use crate::error::AppError;
use crate::session::{CurrentUser, Permission};

/// Put on every request by the server's session middleware.
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<CurrentUser>);

/// The signed-in person, or `Unauthorized`.
pub async fn require_user() -> Result<CurrentUser, AppError> {
    let axum::Extension(Viewer(user)) = leptos_axum::extract::<axum::Extension<Viewer>>().await.map_err(|_| AppError::Unauthorized)?;
    user.ok_or(AppError::Unauthorized)
}

/// The signed-in person if they may do `permission`: `Unauthorized` for nobody, `Forbidden`
/// for someone whose roles do not allow it. Every server function starts here.
pub async fn require(permission: Permission) -> Result<CurrentUser, AppError> {
    let user = require_user().await?;
    if user.may(permission) {
        Ok(user)
    } else {
        tracing::warn!(user = %user.display_name, app_user_id = user.app_user_id, ?permission, "refused: role does not allow it");
        Err(AppError::Forbidden)
    }
}
