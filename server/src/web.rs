//! Routes outside Leptos: health, sign-in and sign-out, and the middleware every request
//! passes through.

use app::session::server::Viewer;
use app::session::server::repo;
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
    crate::auth::read_cookie(headers, app::session::COOKIE)
}

/// Paths anyone may open; everything else needs a session.
fn is_public(path: &str) -> bool {
    matches!(path, "/sign-in" | "/healthz" | "/demo/sign-in" | "/sign-out" | "/favicon.ico")
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || path.starts_with("/auth/")
        || path.starts_with("/unsubscribe/")
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
        Some(token) => match repo::lookup(&state.db, &token, state.timeouts).await {
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
    let path = req.uri().path();
    if user.is_none() && safe && !is_public(path) {
        return Redirect::to("/sign-in").into_response();
    }
    if let (Some(user), Some(permission)) = (&user, app::session::page_permission(path)) {
        if !user.may(permission) {
            tracing::warn!(user = %user.display_name, app_user_id = user.app_user_id, path, "refused a page: role does not allow it");
            return (StatusCode::FORBIDDEN, forbidden_page(&user.display_name)).into_response();
        }
    }
    req.extensions_mut().insert(Viewer(user));
    next.run(req).await
}

fn forbidden_page(name: &str) -> axum::response::Html<String> {
    let name = name.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    axum::response::Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed · attest</title>\
         <link rel=\"stylesheet\" href=\"/pkg/attest.css\"></head><body><main id=\"main\"><section class=\"page narrow\">\
         <h1>Not allowed</h1><p>{name}, your roles do not allow this page. An admin can grant roles under People.</p>\
         <p><a href=\"/\">Back to the overview</a></p></section></main></body></html>"
    ))
}

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages set their own policy with the nonce of their scripts; everything else gets this.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    response
}
