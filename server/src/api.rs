//! The REST API for automation, authenticated by API tokens (`Authorization: Bearer …`):
//! push a snapshot of a source (the CSV bundle or a vendor export), read grants, export grants
//! as CSV, read remediation tasks.

use app::db::Db;
use app::imports::server::{BadInput, Quiet, apply};
use app::session::server::tokens::{self, Refused};
use app::session::{ApiToken, TokenScope};
use app::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::output;
use crate::upload::{self, ReadFailed, Reader, Received};

pub fn routes(max_upload_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/sources/{name}/snapshot", post(push_snapshot).layer(DefaultBodyLimit::max(max_upload_bytes)))
        .route("/api/v1/grants", get(read_grants))
        .route("/api/v1/export/grants.csv", get(export_grants))
        .route("/api/v1/remediation", get(remediation_tasks))
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, axum::Json(json!({ "error": message.into() }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"attest\""));
    }
    response
}

/// The token presented with a request, if it is valid and has `scope`; every use is logged
/// with the token's name.
async fn authorize(db: &Db, headers: &HeaderMap, scope: TokenScope, what: &str) -> Result<ApiToken, Response> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| problem(StatusCode::UNAUTHORIZED, "send an API token: Authorization: Bearer attest_…"))?;
    let token = match tokens::authenticate(db, secret).await {
        Ok(Ok(token)) => token,
        Ok(Err(refused)) => {
            let reason = match refused {
                Refused::Unknown => "the API token is not known",
                Refused::Expired => "the API token has expired",
                Refused::Revoked => "the API token was revoked",
            };
            tracing::warn!(what, reason, "API token refused");
            return Err(problem(StatusCode::UNAUTHORIZED, reason));
        }
        Err(e) => {
            tracing::error!(error = %e, "API token lookup failed");
            return Err(problem(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable"));
        }
    };
    if !token.allows(scope) {
        tracing::warn!(token = %token.name, token_id = token.api_token_id, what, scope = scope.as_str(), "API token lacks the scope");
        return Err(problem(StatusCode::FORBIDDEN, format!("this token does not have the `{}` scope", scope.as_str())));
    }
    tracing::info!(token = %token.name, token_id = token.api_token_id, created_by = %token.created_by, what, "API token used");
    Ok(token)
}

#[derive(Debug, Deserialize)]
struct PushQuery {
    /// `csv` (the default) or a vendor format's name, as `attest import` takes it.
    format: Option<String>,
}

/// `POST /api/v1/sources/{name}/snapshot[?format=NAME]`: the CSV bundle as multipart
/// (`identities.csv`, `grants.csv`, optionally `applications.csv` and `sod_rules.csv`, by field or file name), or a
/// vendor export (`?format=scim`, `entra`, …) as multipart files or as the request body itself.
/// Answers with the import summary.
async fn push_snapshot(State(state): State<AppState>, Path(name): Path<String>, Query(q): Query<PushQuery>, request: Request) -> Response {
    let token = match authorize(&state.db, request.headers(), TokenScope::Import, "import").await {
        Ok(token) => token,
        Err(response) => return response,
    };
    if !upload::valid_source_name(&name) {
        return problem(StatusCode::BAD_REQUEST, "a source name is 1 to 100 letters, digits, `-`, `_` or `.`");
    }
    let reader = match Reader::parse(q.format.as_deref()) {
        Ok(reader) => reader,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    let mut received = match Received::new() {
        Ok(received) => received,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a folder for an upload");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "the upload could not be stored");
        }
    };
    let multipart =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let mut form = match Multipart::from_request(request, &state).await {
            Ok(form) => form,
            Err(e) => return problem(e.status(), format!("the upload could not be read: {}", e.body_text())),
        };
        loop {
            let field = match form.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => return problem(e.status(), format!("the upload could not be read: {}", e.body_text())),
            };
            let file = match reader {
                // The bundle's files are named by the field or by the file name.
                Reader::Bundle => [field.name(), field.file_name()]
                    .into_iter()
                    .flatten()
                    .find(|n| upload::BUNDLE_FILES.contains(n))
                    .or(field.name())
                    .map(str::to_string),
                Reader::Vendor(_) => field.file_name().or(field.name()).map(str::to_string),
            };
            let bytes = match field.bytes().await {
                Ok(bytes) => bytes,
                Err(e) => return problem(e.status(), format!("the upload could not be read: {}", e.body_text())),
            };
            if let Err(e) = received.store(reader, file.as_deref(), &bytes).await {
                return problem(StatusCode::BAD_REQUEST, e);
            }
        }
    } else {
        if reader == Reader::Bundle {
            return problem(
                StatusCode::BAD_REQUEST,
                "the CSV bundle is sent as multipart/form-data; a vendor export can be the body itself with ?format=NAME",
            );
        }
        let bytes = match axum::body::Bytes::from_request(request, &state).await {
            Ok(bytes) => bytes,
            Err(e) => return problem(e.status(), format!("the upload could not be read: {}", e.body_text())),
        };
        if let Err(e) = received.store(reader, Some("request-body"), &bytes).await {
            return problem(StatusCode::BAD_REQUEST, e);
        }
    }
    if let Err(e) = received.complete(reader) {
        return problem(StatusCode::BAD_REQUEST, e);
    }
    let snapshot = match received.read(reader, &name).await {
        Ok(snapshot) => snapshot,
        Err(ReadFailed::Refused(bad)) => return refused(&bad),
        Err(ReadFailed::Crashed) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "the upload could not be read"),
    };
    let actor = format!("token:{} (#{}, created by {})", token.name, token.api_token_id, token.created_by);
    match apply::apply(&state.db, snapshot, &actor, &Quiet).await {
        Ok(summary) => {
            tracing::info!(source = %name, actor = %actor, format = reader.name(), grants_added = summary.grants_added, grants_ended = summary.grants_ended, "snapshot imported");
            axum::Json(summary).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, source = %name, "import failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "the import failed; nothing was changed")
        }
    }
}

fn refused(bad: &BadInput) -> Response {
    let problems: Vec<serde_json::Value> =
        bad.problems.iter().map(|p| json!({ "file": p.file, "line": p.line, "field": p.field, "message": p.message })).collect();
    let body = json!({ "error": "import refused, nothing was changed", "rejected": bad.rejected, "problems": problems });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct GrantsParams {
    query: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn fetch_grants(db: &Db, params: &GrantsParams, cap: i64) -> Result<Vec<app::identities::GrantRow>, Response> {
    let limit = params.limit.unwrap_or(cap).clamp(1, cap);
    let offset = params.offset.unwrap_or(0).max(0);
    let query = params.query.as_deref().unwrap_or("");
    match app::identities::server::repo::query_grants(db, query, true, limit, offset).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(problem(StatusCode::BAD_REQUEST, format!("query, column {}: {e}", e.column))),
        Err(e) => {
            tracing::error!(error = %e, "reading grants failed");
            Err(problem(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable"))
        }
    }
}

/// `GET /api/v1/grants?query=…&limit=…&offset=…`: active grants, riskiest first, as JSON.
async fn read_grants(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<GrantsParams>) -> Response {
    if let Err(response) = authorize(&state.db, &headers, TokenScope::Read, "read grants").await {
        return response;
    }
    match fetch_grants(&state.db, &params, 1_000).await {
        Ok(rows) => axum::Json(rows).into_response(),
        Err(response) => response,
    }
}

/// `GET /api/v1/export/grants.csv?query=…`: the same as CSV, safe to open in a spreadsheet.
async fn export_grants(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<GrantsParams>) -> Response {
    if let Err(response) = authorize(&state.db, &headers, TokenScope::Export, "export grants").await {
        return response;
    }
    let rows = match fetch_grants(&state.db, &params, 1_000_000).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = writer
        .write_record(output::GRANT_HEADER)
        .and_then(|()| rows.iter().try_for_each(|g| writer.write_record(output::grant_cells(g).into_iter().map(output::spreadsheet_safe))));
    let body = match written.map_err(|e| e.to_string()).and_then(|()| writer.into_inner().map_err(|e| e.to_string())) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "writing the export failed");
            return problem(StatusCode::INTERNAL_SERVER_ERROR, "the export could not be written");
        }
    };
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"grants.csv\"")], body)
        .into_response()
}

#[derive(Debug, Deserialize)]
struct RemediationParams {
    campaign: Option<i64>,
    status: Option<String>,
    format: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/remediation?status=open&campaign=…&format=json|csv`: revocations to carry
/// out, for a ticketing system or a script.
async fn remediation_tasks(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<RemediationParams>) -> Response {
    if let Err(response) = authorize(&state.db, &headers, TokenScope::Read, "read remediation tasks").await {
        return response;
    }
    let status = match params.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match app::evidence::RemediationStatus::parse(s) {
            Ok(status) => Some(status),
            Err(e) => return problem(StatusCode::BAD_REQUEST, format!("status: {e}")),
        },
    };
    let filter = app::evidence::server::remediation::Filter { campaign_id: params.campaign, status, task_id: None };
    let tasks = match app::evidence::server::remediation::list(&state.db, &filter, params.limit.unwrap_or(100_000).clamp(1, 100_000)).await
    {
        Ok(tasks) => tasks,
        Err(e) => {
            tracing::error!(error = %e, "reading remediation tasks failed");
            return problem(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable");
        }
    };
    match params.format.as_deref() {
        None | Some("json") => axum::Json(tasks).into_response(),
        Some("csv") => {
            let header = [
                "task_id",
                "status",
                "campaign_id",
                "campaign",
                "identity",
                "kind",
                "application",
                "entitlement",
                "source",
                "reason",
                "decided_by",
                "justification",
                "done_by",
                "done_note",
                "done_at",
                "verified_at",
                "failed_at",
            ];
            let when = |v: Option<i64>| v.map(app::evidence::server::export::iso).unwrap_or_default();
            let mut writer = csv::Writer::from_writer(Vec::new());
            let written = writer.write_record(header).and_then(|()| {
                tasks.iter().try_for_each(|t| {
                    writer.write_record(
                        [
                            t.task_id.to_string(),
                            t.status.as_str().to_string(),
                            t.campaign_id.to_string(),
                            t.campaign.clone(),
                            t.identity_name.clone(),
                            t.identity_kind.clone(),
                            t.application.clone(),
                            t.entitlement.clone(),
                            t.source.clone(),
                            t.reason.clone(),
                            t.decided_by.clone().unwrap_or_default(),
                            t.justification.clone().unwrap_or_default(),
                            t.done_by.clone().unwrap_or_default(),
                            t.done_note.clone().unwrap_or_default(),
                            when(t.done_at),
                            when(t.verified_at),
                            when(t.failed_at),
                        ]
                        .map(output::spreadsheet_safe),
                    )
                })
            });
            match written.map_err(|e| e.to_string()).and_then(|()| writer.into_inner().map_err(|e| e.to_string())) {
                Ok(body) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "writing remediation CSV failed");
                    problem(StatusCode::INTERNAL_SERVER_ERROR, "the export could not be written")
                }
            }
        }
        Some(other) => problem(StatusCode::BAD_REQUEST, format!("format: `{other}` is not json or csv")),
    }
}
