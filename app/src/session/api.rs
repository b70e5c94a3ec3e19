use leptos::prelude::*;

use crate::error::AppError;
use crate::session::SessionInfo;

/// Who is signed in and whether the demo sign-in is on; answers anonymous callers too.
#[server(endpoint = "auth_status")]
pub async fn auth_status() -> Result<SessionInfo, AppError> {
    let state = crate::state::app_state()?;
    let user = crate::session::server::require_user().await.ok();
    Ok(SessionInfo { demo: state.demo, oidc: state.oidc, user })
}
