//! Downloads of evidence exports for signed-in people (the session layer has checked that
//! their roles allow exports), and remediation tasks over the REST API.

use app::evidence::{EXPORT_FILES, MANIFEST};
use app::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

/// `GET /evidence/{export_id}/{file}`: one file of a recorded export.
pub async fn download(State(state): State<AppState>, Path((export_id, file)): Path<(i64, String)>, req: Request) -> Response {
    if !EXPORT_FILES.contains(&file.as_str()) && file != MANIFEST {
        return (StatusCode::NOT_FOUND, "an export holds decisions.csv, decisions.json, report.html and manifest.json").into_response();
    }
    match app::evidence::server::export::get(&state.db, export_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, format!("there is no export {export_id}")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, export_id, "reading an export record failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable").into_response();
        }
    }
    let path = app::evidence::server::export::export_dir(&state.exports_dir, export_id).join(&file);
    let mut response = match tower_http::services::ServeFile::new(&path).oneshot(req).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            tracing::error!(export_id, path = %path.display(), "an export's file is missing on disk");
            return (StatusCode::GONE, format!("the files of export {export_id} are no longer on this server")).into_response();
        }
        Ok(response) => response.into_response(),
        Err(e) => {
            tracing::error!(error = %e, export_id, "serving an export file failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the file could not be read").into_response();
        }
    };
    let headers = response.headers_mut();
    let content_type = match file.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/html; charset=utf-8",
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if file == EXPORT_FILES[2] {
        // The printable report: its own inline styles, nothing else.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
        );
    } else if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"attest-export-{export_id}-{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
