//! Who is signed in. The browser only ever sees the person's name, never the session token.

use serde::{Deserialize, Serialize};

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

/// The person behind a request, as the server's session says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub app_user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
}

/// What every page's header needs: who is signed in, and whether this is a demo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub demo: bool,
    pub user: Option<CurrentUser>,
}

/// The session cookie's name.
pub const COOKIE: &str = "attest_session";
