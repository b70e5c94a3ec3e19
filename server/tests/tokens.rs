//! API tokens for automation: pushing snapshots, reading grants and exporting them.

use app::session::TokenScope;
use app::session::server::tokens;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{Reply, TestApp, fixture};
use crate::on_both_databases;

const BOUNDARY: &str = "attest-test-boundary";

/// A multipart upload of the files of a CSV bundle, as `curl -F identities.csv=@…` sends it.
fn bundle_upload(dir: &std::path::Path, files: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    for file in files {
        let content = std::fs::read(dir.join(file)).expect("fixture file");
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{file}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn push(secret: &str, source: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(format!("/api/v1/sources/{source}/snapshot"))
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .expect("request")
}

fn get(secret: &str, path: &str) -> Request<Body> {
    Request::get(path).header(header::AUTHORIZATION, format!("Bearer {secret}")).body(Body::empty()).expect("request")
}

async fn token(app: &TestApp, scopes: &[TokenScope]) -> (i64, String) {
    let (token, secret) = tokens::create(&app.db, "ci import job", scopes, 30, "Test admin (#1)").await.expect("token");
    (token.api_token_id, secret)
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

on_both_databases! {
    async fn a_script_with_an_import_token_pushes_a_snapshot_and_gets_the_import_summary(app: TestApp) {
        let (id, secret) = token(&app, &[TokenScope::Import]).await;
        let upload = bundle_upload(&fixture("estate"), &["identities.csv", "grants.csv", "applications.csv"]);
        let reply = app.request(push(&secret, "hr", upload)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let summary = json(&reply);
        assert_eq!((summary["identities_added"].as_i64(), summary["grants_added"].as_i64()), (Some(6), Some(7)), "{summary}");
        assert_eq!(app.count("select count(*) from access_grant").await, 7);
        let source: String = sqlx::query_scalar("select name from source").fetch_one(&app.db.pool).await.expect("source");
        assert_eq!(source, "hr");

        let used = app.count(&format!("select use_count from api_token where api_token_id = {id}")).await;
        assert_eq!(used, 1, "the use is counted");
        assert!(app.count(&format!("select coalesce(last_used_at, 0) from api_token where api_token_id = {id}")).await > 0, "last use recorded");
    }

    async fn a_malformed_pushed_snapshot_is_refused_with_its_line_and_nothing_changes(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("first import");
        let (_, secret) = token(&app, &[TokenScope::Import]).await;
        let dir = crate::helpers::bundle_copy("estate");
        let grants = std::fs::read_to_string(dir.path().join("grants.csv")).expect("read");
        std::fs::write(dir.path().join("grants.csv"), grants.replacen("2021-03-02", "the second of March", 1)).expect("write");
        let reply = app.request(push(&secret, "hr", bundle_upload(dir.path(), &["identities.csv", "grants.csv"]))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
        let problem = &json(&reply)["problems"][0];
        assert_eq!((problem["file"].as_str(), problem["line"].as_i64(), problem["field"].as_str()), (Some("grants.csv"), Some(2), Some("granted_at")), "{problem}");
        assert_eq!(app.count("select count(*) from access_grant where ended_at is null").await, 7, "the earlier import stands");
    }

    async fn a_token_without_the_import_scope_cannot_push(app: TestApp) {
        let (_, secret) = token(&app, &[TokenScope::Read, TokenScope::Export]).await;
        let upload = bundle_upload(&fixture("estate"), &["identities.csv", "grants.csv"]);
        let reply = app.request(push(&secret, "hr", upload)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(json(&reply)["error"], "this token does not have the `import` scope");
        assert_eq!(app.count("select count(*) from identity").await, 0);
    }

    async fn unknown_revoked_and_expired_tokens_are_refused_and_say_why(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let reply = app.request(get("attest_not-a-real-token", "/api/v1/grants")).await;
        assert_eq!((reply.status, json(&reply)["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("the API token is not known")));
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer realm=\"attest\"");

        let (id, secret) = token(&app, &[TokenScope::Read]).await;
        assert_eq!(app.request(get(&secret, "/api/v1/grants")).await.status, StatusCode::OK);
        assert!(tokens::revoke(&app.db, id, "Test admin (#1)").await.expect("revoke"));
        let reply = app.request(get(&secret, "/api/v1/grants")).await;
        assert_eq!((reply.status, json(&reply)["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("the API token was revoked")));

        let (id, secret) = token(&app, &[TokenScope::Read]).await;
        sqlx::query("update api_token set expires_at = 1 where api_token_id = $1").bind(id).execute(&app.db.pool).await.expect("expire");
        let reply = app.request(get(&secret, "/api/v1/grants")).await;
        assert_eq!((reply.status, json(&reply)["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("the API token has expired")));
    }

    async fn a_read_token_lists_grants_matching_a_query_riskiest_first(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let (_, secret) = token(&app, &[TokenScope::Read]).await;
        let reply = app.request(get(&secret, "/api/v1/grants?query=privilege%3Aadmin")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let rows = json(&reply);
        let rows = rows.as_array().expect("a list");
        assert_eq!(rows.len(), 2, "AdministratorAccess and s3:*");
        let risks: Vec<i64> = rows.iter().map(|r| r["risk_score"].as_i64().expect("risk")).collect();
        assert!(risks.windows(2).all(|w| w[0] >= w[1]), "riskiest first: {risks:?}");

        let reply = app.request(get(&secret, "/api/v1/grants?query=privilege%3A")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(json(&reply)["error"].as_str().expect("error").starts_with("query, column"), "{}", reply.body);
    }

    async fn an_export_token_downloads_grants_as_csv_that_a_spreadsheet_will_not_run(app: TestApp) {
        let dir = crate::helpers::bundle_copy("estate");
        let identities = std::fs::read_to_string(dir.path().join("identities.csv")).expect("read");
        std::fs::write(dir.path().join("identities.csv"), identities.replacen("Ada Okafor", "=SUM(1+2)", 1)).expect("write");
        app.import(dir.path(), "hr").await.expect("imports");
        let (_, secret) = token(&app, &[TokenScope::Export]).await;
        let reply = app.request(get(&secret, "/api/v1/export/grants.csv")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.headers[header::CONTENT_TYPE].to_str().expect("type").starts_with("text/csv"));
        let mut lines = reply.body.lines();
        assert!(lines.next().expect("header").starts_with("identity,kind,application,entitlement"));
        assert_eq!(reply.body.lines().count(), 8, "a header and 7 grants");
        assert!(reply.body.contains("'=SUM(1+2)") && !reply.body.contains(",=SUM"), "the formula is defused: {}", reply.body);

        let (_, read_only) = token(&app, &[TokenScope::Read]).await;
        assert_eq!(app.request(get(&read_only, "/api/v1/export/grants.csv")).await.status, StatusCode::FORBIDDEN);
    }

    async fn an_admin_creates_a_token_whose_secret_is_shown_once_and_stored_only_as_a_hash(app: TestApp) {
        let session = app.session().await;
        let request = Request::post("/api/admin_create_token")
            .header(header::COOKIE, format!("{}={session}", app::session::COOKIE))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("name=nightly+HR+import&valid_days=90&import=on"))
            .expect("request");
        let reply = app.request(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let created = json(&reply);
        let secret = created["secret"].as_str().expect("the secret, once").to_string();
        assert!(secret.starts_with("attest_") && secret.len() > 40, "{secret}");
        let stored: String = sqlx::query_scalar("select token_hash from api_token").fetch_one(&app.db.pool).await.expect("stored");
        assert_ne!(stored, secret);
        assert!(!stored.contains(&secret[7..]), "the secret is not stored");
        let created_by: String = sqlx::query_scalar("select created_by from api_token").fetch_one(&app.db.pool).await.expect("stored");
        assert!(created_by.starts_with("Test admin"), "{created_by}");

        let request = Request::post("/api/admin_tokens")
            .header(header::COOKIE, format!("{}={session}", app::session::COOKIE))
            .body(Body::empty())
            .expect("request");
        let listed = app.request(request).await;
        assert!(listed.body.contains("nightly HR import"));
        assert!(!listed.body.contains(&secret), "the list never shows the secret again");
    }
}
