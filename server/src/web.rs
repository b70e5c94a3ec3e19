//! Routes outside Leptos: health, sign-in and sign-out, and the middleware every request
//! passes through.

use app::session::server::Viewer;
use app::session::server::repo::{self, Timeouts};
use app::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == app::session::COOKIE)
        .map(|(_, value)| value.to_string())
}

/// Paths anyone may open; everything else needs a session.
fn is_public(path: &str) -> bool {
    matches!(path, "/sign-in" | "/healthz" | "/demo/sign-in" | "/sign-out" | "/favicon.ico")
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
}

/// A state-changing request must come from attest's own pages: the browser says where a
/// request comes from in `Origin` or `Sec-Fetch-Site`, and cross-site ones are refused.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or_default();
            let host = host.to_str().unwrap_or_default();
            origin.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Finds the signed-in person, refuses cross-site writes and sends anonymous visitors of a
/// page to the sign-in page.
pub async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let user = match session_token(req.headers()) {
        Some(token) => match repo::lookup(&state.db, &token, Timeouts::default()).await {
            Ok(user) => user,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable").into_response();
            }
        },
        None => None,
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(req.headers()) {
        tracing::warn!(path = req.uri().path(), "refused a cross-site request");
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    if user.is_none() && safe && !is_public(req.uri().path()) {
        return Redirect::to("/sign-in").into_response();
    }
    req.extensions_mut().insert(Viewer(user));
    next.run(req).await
}

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

fn session_cookie(token: &str, max_age: i64) -> HeaderValue {
    let value = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}", app::session::COOKIE);
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The demo sign-in: only when the server runs with `--demo`.
pub async fn demo_sign_in(State(state): State<AppState>) -> Response {
    if !state.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let timeouts = Timeouts::default();
    match repo::sign_in(&state.db, "demo:admin", Some("demo.admin@example.com"), "Demo Admin", timeouts).await {
        Ok(token) => {
            tracing::info!(subject = "demo:admin", "demo sign-in");
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, timeouts.absolute_secs));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "demo sign-in failed");
            (StatusCode::SERVICE_UNAVAILABLE, "sign-in failed; the database is unavailable").into_response()
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        if let Err(e) = repo::sign_out(&state.db, &token).await {
            tracing::error!(error = %e, "sign-out failed");
        }
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0));
    response
}
