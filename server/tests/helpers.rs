use std::path::{Path, PathBuf};

use app::db::Db;
use app::imports::ImportSummary;
use app::imports::server::{Quiet, apply, csv_bundle};
use app::session::server::repo::{self, Timeouts};
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
        TestApp { db, backend: "sqlite", demo: false, url, _dir: Some(dir), postgres: None }
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
        Some(TestApp { db, backend: "postgres", demo: false, url, _dir: None, postgres: Some((base, name)) })
    }

    pub fn router(&self) -> Router {
        server::router(server::state(self.db.clone(), self.demo, server::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse().expect("addr")))
    }

    pub async fn import(&self, dir: &Path, source: &str) -> Result<ImportSummary, String> {
        let snapshot = csv_bundle::read_bundle(dir, source, &Quiet).map_err(|e| e.to_string())?;
        apply::apply(&self.db, &snapshot, "test", &Quiet).await.map_err(|e| e.to_string())
    }

    pub async fn session(&self) -> String {
        repo::sign_in(&self.db, "test:reviewer", Some("reviewer@example.com"), "Test Reviewer", Timeouts::default()).await.expect("session")
    }

    pub async fn request(&self, request: Request<Body>) -> Reply {
        let response = self.router().oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// GET as a signed-in person.
    pub async fn get(&self, path: &str) -> Reply {
        let token = self.session().await;
        self.request(
            Request::get(path).header(header::COOKIE, format!("{}={token}", app::session::COOKIE)).body(Body::empty()).expect("request"),
        )
        .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db.pool).await.expect("count")
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
