use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What a server function tells the browser when it fails. Messages are for people; database
/// errors and other internals are logged on the server and arrive here only as `Internal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("please sign in")]
    Unauthorized,
    #[error("you are not allowed to do that")]
    Forbidden,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Validation(String),
    /// Someone changed it first; the message says what it is now.
    #[error("{0}")]
    Conflict(String),
    #[error("something went wrong on the server; it has been logged")]
    Internal,
    #[error("request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<crate::db::DbError> for AppError {
    /// The boundary between the server's errors and the wire: log once here, say little.
    fn from(err: crate::db::DbError) -> Self {
        match err {
            crate::db::DbError::NotFound(what) => AppError::NotFound(what),
            other => {
                tracing::error!(error = %other, "server function failed");
                AppError::Internal
            }
        }
    }
}
