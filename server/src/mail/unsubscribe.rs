//! The page a reminder's unsubscribe link opens. Opening it changes nothing (mail scanners
//! open links); the button on it does. The campaign owner sees who unsubscribed.

use app::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(show).post(confirm))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · attest</title><link rel=\"stylesheet\" href=\"/pkg/attest.css\"></head><body><main id=\"main\">\
         <section class=\"page narrow\"><h1>{title}</h1>{body}</section></main></body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn unknown() -> Response {
    (StatusCode::NOT_FOUND, page("Unknown link", "<p>This unsubscribe link is not known to attest. Ask your campaign owner.</p>"))
        .into_response()
}

fn failed(e: app::db::DbError) -> Response {
    tracing::error!(error = %e, "unsubscribe failed");
    (StatusCode::SERVICE_UNAVAILABLE, page("Try again later", "<p>attest could not answer just now.</p>")).into_response()
}

async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match app::notifications::server::outbox::optout_by_token(&state.db, &token).await {
        Ok(Some((email, true))) => page("Unsubscribed", &format!("<p>{} gets no more reminders.</p>", escape(&email))).into_response(),
        Ok(Some((email, false))) => page(
            "Unsubscribe from reminders",
            &format!(
                "<p>Stop reminder mails to <strong>{}</strong>? Launch notices and escalations still come, and the campaign owner sees \
                 that you unsubscribed.</p><form method=\"post\"><button type=\"submit\" class=\"primary\">Unsubscribe from reminders</button></form>",
                escape(&email)
            ),
        )
        .into_response(),
        Ok(None) => unknown(),
        Err(e) => failed(e),
    }
}

async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match app::notifications::server::outbox::unsubscribe(&state.db, &token, app::db::now()).await {
        Ok(Some(email)) => {
            tracing::info!(%email, "unsubscribed from reminders");
            page("Unsubscribed", &format!("<p>{} gets no more reminders.</p>", escape(&email))).into_response()
        }
        Ok(None) => unknown(),
        Err(e) => failed(e),
    }
}
