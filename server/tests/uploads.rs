//! Vendor exports pushed over the REST API and uploaded by an admin on the Imports page: read
//! by the same readers as `attest import`, refused the same way, nothing half-written.

use app::session::server::tokens;
use app::session::{Role, TokenScope};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{Reply, TestApp, samples};
use crate::on_both_databases;

const BOUNDARY: &str = "attest-upload-boundary";

/// A multipart body: text fields, then files under the field name `files_field`.
fn multipart(fields: &[(&str, &str)], files_field: &str, files: &[std::path::PathBuf]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    for path in files {
        let file = path.file_name().and_then(|n| n.to_str()).expect("file name");
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{files_field}\"; filename=\"{file}\"\r\nContent-Type: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&std::fs::read(path).expect("sample"));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn import_token(app: &TestApp) -> String {
    tokens::create(&app.db, "nightly entra export", &[TokenScope::Import], 30, "Test admin (#1)").await.expect("token").1
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

fn push(secret: &str, path: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request")
}

fn upload_as(session: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/admin/imports/upload")
        .header(header::COOKIE, format!("{}={session}", app::session::COOKIE))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .expect("request")
}

/// The page the upload sends the browser back to, decoded.
fn back_to(reply: &Reply) -> String {
    let location = reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut bytes = Vec::new();
    let raw = location.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 3 <= raw.len() {
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&raw[i + 1..i + 3]).unwrap_or("zz"), 16) {
                bytes.push(b);
                i += 3;
                continue;
            }
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

on_both_databases! {
    async fn a_script_pushes_an_entra_export_as_the_request_body_and_gets_the_import_summary(app: TestApp) {
        let secret = import_token(&app).await;
        let users = samples("entra", &["graph-docs_v1.0_user-list_ex11_signInActivity.json"]).remove(0);
        let reply = app
            .request(push(&secret, "/api/v1/sources/entra-prod/snapshot?format=entra", "application/json", std::fs::read(users).expect("sample")))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let summary = json(&reply);
        assert_eq!(summary["source"], "entra-prod");
        assert!(summary["identities_added"].as_i64().unwrap_or_default() > 0, "{summary}");
        let format: String = sqlx::query_scalar("select format from source where name = 'entra-prod'").fetch_one(&app.db.pool).await.expect("source");
        assert_eq!(format, "entra");
    }

    async fn several_vendor_files_pushed_as_multipart_make_one_snapshot(app: TestApp) {
        let secret = import_token(&app).await;
        let files = samples("entra", &["graph-docs_v1.0_user-list_ex11_signInActivity.json", "graph-docs_v1.0_serviceprincipal-list.json"]);
        let body = multipart(&[], "file", &files);
        let reply = app
            .request(push(&secret, "/api/v1/sources/entra/snapshot?format=entra", &format!("multipart/form-data; boundary={BOUNDARY}"), body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let kinds: Vec<String> = sqlx::query_scalar("select distinct kind from identity order by kind").fetch_all(&app.db.pool).await.expect("kinds");
        assert!(kinds.len() >= 2, "people and service principals: {kinds:?}");
    }

    async fn a_pushed_document_of_the_wrong_kind_is_refused_naming_the_file_and_nothing_changes(app: TestApp) {
        let secret = import_token(&app).await;
        let first = samples("scim", &["scim2-models_rfc7643-8.3-enterprise_user.json"]);
        let reply = app.request(push(&secret, "/api/v1/sources/idp/snapshot?format=scim", &format!("multipart/form-data; boundary={BOUNDARY}"), multipart(&[], "file", &first))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let before = app.count("select count(*) from identity where ended_at is null").await;

        let error = samples("scim", &["scim-v2-rust_rfc7644_s3.6_error_response.json"]);
        let reply = app.request(push(&secret, "/api/v1/sources/idp/snapshot?format=scim", &format!("multipart/form-data; boundary={BOUNDARY}"), multipart(&[], "file", &error))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
        let problem = &json(&reply)["problems"][0];
        assert_eq!(problem["file"], "scim-v2-rust_rfc7644_s3.6_error_response.json", "named as it was sent: {problem}");
        assert!(problem["message"].as_str().unwrap_or_default().contains("error"), "{problem}");
        assert_eq!(app.count("select count(*) from identity where ended_at is null").await, before, "the earlier snapshot stands");

        let reply = app.request(push(&secret, "/api/v1/sources/idp/snapshot?format=ldif", "application/json", b"{}".to_vec())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(json(&reply)["error"].as_str().unwrap_or_default().starts_with("format: unknown format `ldif`"), "{}", reply.body);
        let reply = app.request(push(&secret, "/api/v1/sources/idp/snapshot", "text/csv", b"a,b".to_vec())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "the CSV bundle needs its files by name");
    }

    async fn an_admin_uploads_okta_exports_on_the_imports_page_and_sees_them_listed(app: TestApp) {
        let admin = app.session_as("root", &[Role::Admin]).await;
        let files = samples("okta", &["okta-management-openapi-spec_ListUsersQResponse.json", "okta-management-openapi-spec_AppUserListEx.json"]);
        let reply = app.request(upload_as(&admin, multipart(&[("format", "okta"), ("source", "okta-prod")], "files", &files))).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let back = back_to(&reply);
        assert!(back.starts_with("/admin/imports?source=okta-prod&done=source `okta-prod`:"), "{back}");
        let runs = app::imports::server::apply::recent_runs(&app.db, 10).await.expect("runs");
        assert_eq!((runs[0].source.as_str(), runs[0].format.as_str()), ("okta-prod", "okta"));
        assert!(runs[0].actor.starts_with("Test root (#"), "the import names the admin: {}", runs[0].actor);

        // A truncated file: sent back with the problem, and nothing changes.
        let dir = tempfile::tempdir().expect("temp dir");
        let truncated = dir.path().join("users.json");
        let text = std::fs::read_to_string(&files[0]).expect("sample");
        std::fs::write(&truncated, &text[..text.len() / 2]).expect("write");
        let reply = app.request(upload_as(&admin, multipart(&[("format", "okta"), ("source", "okta-prod")], "files", &[truncated]))).await;
        let back = back_to(&reply);
        assert!(back.contains("&refused=import refused, nothing was changed"), "{back}");
        assert!(back.contains("users.json line"), "names the file and line: {back}");
        assert_eq!(app::imports::server::apply::recent_runs(&app.db, 10).await.expect("runs").len(), 1);

        let reply = app.request(upload_as(&admin, multipart(&[("format", "okta"), ("source", "../etc")], "files", &files))).await;
        assert!(back_to(&reply).contains("refused=source: 1 to 100 letters"), "{}", back_to(&reply));
    }

    async fn only_admins_may_upload_on_the_imports_page(app: TestApp) {
        let reviewer = app.session_as("rita", &[Role::Reviewer, Role::CampaignOwner, Role::Auditor]).await;
        let files = samples("okta", &["okta-management-openapi-spec_ListUsersQResponse.json"]);
        let reply = app.request(upload_as(&reviewer, multipart(&[("format", "okta")], "files", &files))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(app.count("select count(*) from identity").await, 0, "nothing imported");
        let anonymous = Request::post("/admin/imports/upload")
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(Body::from(multipart(&[("format", "okta")], "files", &files)))
            .expect("request");
        let reply = app.request(anonymous).await;
        assert_eq!(reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/sign-in"));
        assert_eq!(app.count("select count(*) from identity").await, 0, "nothing imported");
    }

    async fn an_upload_above_the_configured_size_is_refused_before_it_is_read(app: TestApp) {
        let secret = import_token(&app).await;
        let mut state = server::state(app.db.clone(), false, server::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse().expect("addr"));
        state.max_upload_bytes = 1024;
        let big = vec![b' '; 4096];
        let request = Request::post("/api/v1/sources/entra/snapshot?format=entra")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, big.len())
            .body(Body::from(big))
            .expect("request");
        let reply = app.request_to(server::router(state.clone()), request).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.body);
        let admin = app.session_as("root", &[Role::Admin]).await;
        let files = samples("entra", &["graph-docs_beta_reportroot-list-serviceprincipalsigninactivities.json"]);
        let reply = app.request_to(server::router(state), upload_as(&admin, multipart(&[("format", "entra")], "files", &files))).await;
        assert!(back_to(&reply).contains("refused=the upload could not be read"), "{}", back_to(&reply));
        assert_eq!(app.count("select count(*) from identity").await, 0, "nothing imported");
    }
}
