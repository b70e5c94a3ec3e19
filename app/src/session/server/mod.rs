//! Sessions stored server-side; the cookie holds a random token and the table its SHA-256.

pub mod repo;

use crate::error::AppError;
use crate::session::CurrentUser;

/// Put on every request by the server's session middleware.
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<CurrentUser>);

/// The signed-in person, or `Unauthorized`. Every server function starts here.
pub async fn require_user() -> Result<CurrentUser, AppError> {
    let axum::Extension(Viewer(user)) = leptos_axum::extract::<axum::Extension<Viewer>>().await.map_err(|_| AppError::Unauthorized)?;
    user.ok_or(AppError::Unauthorized)
}
