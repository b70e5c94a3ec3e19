//! Sign-in and sign-out routes: the OpenID Connect provider, and the demo sign-in under
//! `--demo`.

pub mod oidc;

use std::sync::Arc;

use app::session::Role;
use app::session::server::repo::{self, SignIn};
use app::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Router};
use serde::Deserialize;

pub use oidc::{Oidc, OidcSettings};

/// The cookie that ties a sign-in under way to the browser that started it.
pub const LOGIN_COOKIE: &str = "attest_login";

/// The provider, when one is configured.
#[derive(Clone, Default)]
pub struct Provider(pub Option<Arc<Oidc>>);

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/auth/sign-in", get(start))
        .route("/auth/callback", get(callback))
        .route("/demo/sign-in", post(demo_sign_in))
        .route("/sign-out", post(sign_out))
}

pub fn cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

/// Only paths of this site: `/x`, never `//host` or `https://…`.
fn local_path(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

fn signed_in(state: &AppState, token: &str, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie(app::session::COOKIE, token, "/", state.timeouts.absolute_secs, state.secure_cookies));
    headers.append(header::SET_COOKIE, cookie(LOGIN_COOKIE, "", "/auth", 0, state.secure_cookies));
    response
}

fn failed(state: &AppState, code: &str) -> Response {
    let mut response = Redirect::to(&format!("/sign-in?error={code}")).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie(LOGIN_COOKIE, "", "/auth", 0, state.secure_cookies));
    response
}

#[derive(Debug, Deserialize)]
pub struct StartParams {
    return_to: Option<String>,
}

/// Sends the browser to the provider, with a fresh `state` in a cookie.
async fn start(State(state): State<AppState>, Extension(provider): Extension<Provider>, Query(params): Query<StartParams>) -> Response {
    let Some(oidc) = provider.0 else { return StatusCode::NOT_FOUND.into_response() };
    match oidc.start(&state.db, &local_path(params.return_to.as_deref())).await {
        Ok((url, login_state)) => {
            let mut response = Redirect::to(&url).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie(LOGIN_COOKIE, &login_state, "/auth", 600, state.secure_cookies));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start a sign-in");
            failed(&state, e.code())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The provider sends the browser back here with a code.
async fn callback(
    State(state): State<AppState>,
    Extension(provider): Extension<Provider>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(oidc) = provider.0 else { return StatusCode::NOT_FOUND.into_response() };
    if let Some(error) = params.error {
        tracing::warn!(error = %error, description = params.error_description.as_deref().unwrap_or(""), "sign-in refused by the provider");
        return failed(&state, "provider");
    }
    let (Some(code), Some(login_state)) = (params.code, params.state) else { return failed(&state, "state") };
    // The state must be the one this browser was given; a link from elsewhere is refused.
    let cookie_state = read_cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cookie_state.is_empty() || !constant_time_eq(cookie_state.as_bytes(), login_state.as_bytes()) {
        tracing::warn!("sign-in refused: the state does not match this browser's");
        return failed(&state, "state");
    }
    let verified = match oidc.exchange(&state.db, &code, &login_state).await {
        Ok(exchanged) => oidc.verify(&exchanged).await,
        Err(e) => Err(e),
    };
    let who = match verified {
        Ok(who) => who,
        Err(e) => {
            match &e {
                oidc::SignInError::Database(_) | oidc::SignInError::Unavailable(_) => tracing::error!(error = %e, "sign-in failed"),
                _ => tracing::warn!(error = %e, "sign-in refused"),
            }
            return failed(&state, e.code());
        }
    };
    let subject = format!("oidc:{}#{}", who.issuer, who.subject);
    let sign_in = SignIn {
        subject: &subject,
        email: who.email.as_deref(),
        display_name: &who.name,
        idp_roles: who.roles.clone(),
        via: &format!("identity provider ({} claim)", oidc.settings.roles_claim),
    };
    match repo::sign_in(&state.db, &sign_in, state.timeouts).await {
        Ok(token) => {
            let roles: Vec<&str> = who.roles.iter().map(|r| r.as_str()).collect();
            tracing::info!(subject = %subject, email = who.email.as_deref().unwrap_or(""), roles = ?roles, "signed in");
            signed_in(&state, &token, &who.return_to)
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed: could not open a session");
            failed(&state, "unavailable")
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The demo sign-in: only when the server runs with `--demo`. One made-up person per role,
/// chosen by the form's `persona` (admin when there is none).
async fn demo_sign_in(State(state): State<AppState>, body: String) -> Response {
    if !state.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let persona = body.split('&').find_map(|pair| pair.strip_prefix("persona="));
    let role = match persona.map(Role::parse).unwrap_or(Ok(Role::Admin)) {
        Ok(role) => role,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let subject = format!("demo:{}", role.as_str());
    let email = format!("demo.{}@example.com", role.as_str().replace('_', "."));
    let name = format!("Demo {}", role.label());
    let who = SignIn { subject: &subject, email: Some(&email), display_name: &name, idp_roles: vec![role], via: "demo sign-in" };
    match repo::sign_in(&state.db, &who, state.timeouts).await {
        Ok(token) => {
            tracing::info!(subject = %subject, "demo sign-in");
            signed_in(&state, &token, "/")
        }
        Err(e) => {
            tracing::error!(error = %e, "demo sign-in failed");
            (StatusCode::SERVICE_UNAVAILABLE, "sign-in failed; the database is unavailable").into_response()
        }
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = read_cookie(&headers, app::session::COOKIE) {
        if let Err(e) = repo::sign_out(&state.db, &token).await {
            tracing::error!(error = %e, "sign-out failed");
        }
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(app::session::COOKIE, "", "/", 0, state.secure_cookies));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/grants?q=a")), "/grants?q=a");
        for hostile in ["//evil.example", "https://evil.example", "/\\evil.example", "grants"] {
            assert_eq!(local_path(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(local_path(None), "/");
    }
}
