use std::path::{Path, PathBuf};

use app::db::Db;
use app::imports::ImportSummary;
use app::imports::server::formats::Format;
use app::imports::server::{Quiet, apply, csv_bundle};
use app::session::Role;
use app::session::server::repo::{self, SignIn, Timeouts};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use sqlx::Connection;
use tower::ServiceExt;

/// Declares one test per database: `name::sqlite` always, `name::postgres` when
/// `ATTEST_TEST_POSTGRES_URL` is set (otherwise it says it was skipped and passes).
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: $crate::helpers::TestApp) $body

                #[tokio::test]
                async fn sqlite() {
                    run($crate::helpers::TestApp::sqlite().await).await
                }

                #[tokio::test]
                async fn postgres() {
                    match $crate::helpers::TestApp::postgres().await {
                        Some(app) => run(app).await,
                        None => eprintln!("skipped: ATTEST_TEST_POSTGRES_URL is not set"),
                    }
                }
            }
        )*
    };
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Public vendor samples (`tests/fixtures/samples/<vendor>/<file>`).
pub fn samples(vendor: &str, files: &[&str]) -> Vec<PathBuf> {
    files.iter().map(|f| fixture("samples").join(vendor).join(f)).collect()
}

/// A copy of a fixture bundle that a test may edit.
pub fn bundle_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(fixture(name)).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

pub struct TestApp {
    pub db: Db,
    pub backend: &'static str,
    pub demo: bool,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// Where the router writes evidence exports.
    pub exports: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("attest.db").display());
        let db = Db::connect(&url).await.expect("sqlite opens");
        db.migrate().await.expect("migrations apply");
        TestApp {
            db,
            backend: "sqlite",
            demo: false,
            url,
            _dir: Some(dir),
            exports: tempfile::tempdir().expect("temp dir"),
            postgres: None,
        }
    }

    pub async fn postgres() -> Option<TestApp> {
        let base = std::env::var("ATTEST_TEST_POSTGRES_URL").ok()?;
        sqlx::any::install_default_drivers();
        let name = format!("attest_t_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::AnyConnection::connect(&base).await.expect("postgres reachable");
        sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create database");
        admin.close().await.ok();
        let (prefix, _) = base.rsplit_once('/').expect("url with a database");
        let url = format!("{prefix}/{name}");
        let db = Db::connect(&url).await.expect("postgres opens");
        db.migrate().await.expect("migrations apply");
        Some(TestApp {
            db,
            backend: "postgres",
            demo: false,
            url,
            _dir: None,
            exports: tempfile::tempdir().expect("temp dir"),
            postgres: Some((base, name)),
        })
    }

    pub fn router(&self) -> Router {
        let mut state = server::state(self.db.clone(), self.demo, server::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse().expect("addr"));
        state.exports_dir = self.exports.path().to_path_buf();
        server::router(state)
    }

    pub async fn import(&self, dir: &Path, source: &str) -> Result<ImportSummary, String> {
        let snapshot = csv_bundle::read_bundle(dir, source, &Quiet).map_err(|e| e.to_string())?;
        apply::apply(&self.db, snapshot, "test", &Quiet).await.map_err(|e| e.to_string())
    }

    /// Imports vendor export files of `format` as `source`.
    pub async fn import_format(&self, format: Format, paths: &[PathBuf], source: &str) -> Result<ImportSummary, String> {
        let snapshot = format.read(paths, source).map_err(|e| e.to_string())?;
        apply::apply(&self.db, snapshot, "test", &Quiet).await.map_err(|e| e.to_string())
    }

    /// A session for a test admin.
    pub async fn session(&self) -> String {
        self.session_as("admin", &[Role::Admin]).await
    }

    /// A session for a test person named after `who`, holding `roles`.
    pub async fn session_as(&self, who: &str, roles: &[Role]) -> String {
        let subject = format!("test:{who}");
        let email = format!("{who}@example.com");
        let name = format!("Test {who}");
        let sign_in = SignIn { subject: &subject, email: Some(&email), display_name: &name, idp_roles: roles.to_vec(), via: "test" };
        repo::sign_in(&self.db, &sign_in, Timeouts::default()).await.expect("session")
    }

    /// The router with sign-in through `idp`, attest reached at [`PUBLIC_URL`].
    pub async fn oidc_router(&self, idp: &Idp, client: (&str, &str), clock_offset_secs: i64) -> Router {
        let mut oidc = server::auth::Oidc::discover(idp.settings(client)).await.expect("discovery works");
        oidc.clock_offset_secs = clock_offset_secs;
        let mut state = server::state(self.db.clone(), self.demo, server::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse().expect("addr"));
        state.oidc = true;
        server::router_with(state, server::auth::Provider(Some(std::sync::Arc::new(oidc))))
    }

    pub async fn request_to(&self, router: Router, request: Request<Body>) -> Reply {
        let response = router.oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn request(&self, request: Request<Body>) -> Reply {
        self.request_to(self.router(), request).await
    }

    /// GET as a signed-in person.
    pub async fn get(&self, path: &str) -> Reply {
        let token = self.session().await;
        self.request(
            Request::get(path).header(header::COOKIE, format!("{}={token}", app::session::COOKIE)).body(Body::empty()).expect("request"),
        )
        .await
    }

    /// POSTs a form (a server function's arguments) with the session `token`.
    pub async fn post_form(&self, token: &str, path: &str, body: &str) -> Reply {
        self.request(
            Request::post(path)
                .header(header::COOKIE, format!("{}={token}", app::session::COOKIE))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db.pool).await.expect("count")
    }

    /// Every grant's id, score, explanation and rules, in id order.
    pub async fn grant_scores(&self) -> Vec<(i64, i64, String, String)> {
        sqlx::query_as(
            "select g.access_grant_id, s.risk_score, g.risk_words, g.risk_rules from access_grant g \
             join grant_score s on s.access_grant_id = g.access_grant_id order by g.access_grant_id",
        )
        .fetch_all(&self.db.pool)
        .await
        .expect("grants")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else { return };
        // Dropping needs async work, and Drop runs inside the test's runtime: use a thread of our own.
        // `with (force)` ends the test pool's connections.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::AnyConnection::connect(&base).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}

/// Where the tests say attest is reached; the provider sends browsers back below it.
pub const PUBLIC_URL: &str = "http://attest.test";

/// A real OpenID Connect provider (`end2end/oidc/provider.mjs`, the npm `oidc-provider`),
/// stopped when dropped.
pub struct Idp {
    pub issuer: String,
    child: std::process::Child,
}

impl Idp {
    pub fn start() -> Idp {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/oidc/provider.mjs");
        let mut child = std::process::Command::new("node")
            .arg(&script)
            .args(["--port", "0", "--redirect", &format!("{PUBLIC_URL}/auth/callback")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs the test identity provider (make test-tools installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("the provider says where it listens");
        let issuer = line.trim().strip_prefix("issuer ").unwrap_or_else(|| panic!("unexpected provider output {line:?}")).to_string();
        Idp { issuer, child }
    }

    pub fn settings(&self, (client_id, secret): (&str, &str)) -> server::auth::OidcSettings {
        server::auth::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: client_id.to_string(),
            client_secret: secret.to_string(),
            public_url: PUBLIC_URL.to_string(),
            scopes: ["openid", "email", "profile", "groups"].map(str::to_string).to_vec(),
            roles_claim: "groups".to_string(),
            role_map: server::auth::OidcSettings::parse_role_map(
                "attest-admins=admin,attest-campaign-owners=campaign_owner,attest-reviewers=reviewer,attest-auditors=auditor",
            )
            .expect("role map"),
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a `Set-Cookie` named `name` in a reply, if any.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// What a browser has after signing in at the provider: the callback attest must receive,
/// and the sign-in cookie attest gave it.
pub struct AtCallback {
    pub path_and_query: String,
    pub login_cookie: String,
}

/// Plays the browser: starts a sign-in at attest, signs in as `login` on the provider's own
/// form, and stops where the provider sends the browser back to attest.
pub async fn sign_in_at_provider(app: &TestApp, router: Router, login: &str) -> AtCallback {
    let start = app.request_to(router, Request::get("/auth/sign-in").body(Body::empty()).expect("request")).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let login_cookie = set_cookie(&start, server::auth::LOGIN_COOKIE).expect("a sign-in cookie");
    let mut url = start.headers[header::LOCATION].to_str().expect("location").to_string();
    let browser = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for _ in 0..10 {
        if url.starts_with(PUBLIC_URL) {
            let path_and_query = url[PUBLIC_URL.len()..].to_string();
            return AtCallback { path_and_query, login_cookie };
        }
        let response = if url.contains("/interaction/") {
            // The provider's sign-in form: fill it in as a person would.
            let form = browser.get(&url).send().await.expect("the sign-in form");
            assert!(form.status().is_success());
            let action = format!("{}/login", url.trim_end_matches('/'));
            browser.post(&action).form(&[("login", login), ("password", "secret")]).send().await
        } else {
            browser.get(&url).send().await
        }
        .expect("the provider answers");
        let location = response.headers().get("location").map(|v| v.to_str().expect("location").to_string());
        let Some(next) = location else { panic!("the provider stopped at {url}: {}", response.text().await.unwrap_or_default()) };
        url = if next.starts_with('/') { format!("{}{next}", app_origin(&url)) } else { next };
    }
    panic!("the provider never sent the browser back to attest");
}

fn app_origin(url: &str) -> String {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after..].find('/').map(|i| after + i).unwrap_or(url.len());
    url[..end].to_string()
}
