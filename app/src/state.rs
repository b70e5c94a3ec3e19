use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::db::Db;
use crate::error::AppError;

/// Shared by the router, every handler and every server function.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// The demo sign-in is offered, and every page says so.
    pub demo: bool,
    /// Sign-in through an OpenID Connect provider is configured.
    pub oidc: bool,
    /// How long sessions last.
    pub timeouts: crate::session::server::repo::Timeouts,
    /// Cookies get `Secure`: the public URL is https.
    pub secure_cookies: bool,
    /// Where evidence exports are written, one folder per export.
    pub exports_dir: std::path::PathBuf,
    /// Where mail goes and where its links point.
    pub mail: crate::notifications::MailInfo,
    /// The largest snapshot upload read, through the REST API or the Imports page.
    pub max_upload_bytes: usize,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, from inside a server function.
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("server function ran without AppState in context");
        AppError::Internal
    })
}
