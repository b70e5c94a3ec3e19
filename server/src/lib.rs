//! The composition root: configuration, the router, the CLI and background work.

use std::net::SocketAddr;

use app::db::Db;
use app::state::AppState;
use axum::Router;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};

pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod evidence;
pub mod generate;
pub mod mail;
pub mod output;
pub mod rescore;
pub mod telemetry;
pub mod upload;
pub mod web;

/// Where the browser bundle (`pkg/`) and public files are served from.
pub const DEFAULT_SITE_ROOT: &str = "target/site";

pub fn leptos_options(site_root: &str, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("attest")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(leptos::config::Env::PROD)
        .build()
}

/// An error with its causes, e.g. "error sending request: connection refused".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Where evidence exports are kept unless configured otherwise.
pub const DEFAULT_EXPORTS_DIR: &str = "data/exports";

/// Largest upload read (REST API, Imports page), unless configured otherwise.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// Everything a request needs, built once, with default sessions and no identity provider.
pub fn state(db: Db, demo: bool, site_root: &str, addr: SocketAddr) -> AppState {
    AppState {
        leptos_options: leptos_options(site_root, addr),
        db,
        demo,
        oidc: false,
        timeouts: app::session::server::repo::Timeouts::default(),
        secure_cookies: false,
        exports_dir: DEFAULT_EXPORTS_DIR.into(),
        mail: app::notifications::MailInfo {
            transport: format!("files in {}", mail::DEFAULT_MAIL_DIR),
            from: mail::DEFAULT_MAIL_FROM.to_string(),
            public_url: format!("http://{addr}"),
        },
        max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
    }
}

/// The whole web application without an identity provider, testable without a socket.
pub fn router(state: AppState) -> Router {
    router_with(state, auth::Provider::default())
}

/// The whole web application.
pub fn router_with(state: AppState, provider: auth::Provider) -> Router {
    let max_upload_bytes = state.max_upload_bytes;
    let routes = generate_route_list(app::app::App);
    let shell_options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(web::healthz))
        .route("/evidence/{export_id}/{file}", get(evidence::download))
        .merge(auth::routes())
        .merge(api::routes(max_upload_bytes))
        .merge(mail::routes())
        .route(
            "/admin/imports/upload",
            axum::routing::post(upload::admin_upload).layer(axum::extract::DefaultBodyLimit::max(max_upload_bytes)),
        )
        .leptos_routes_with_context(&state, routes, || {}, move || app::app::shell(shell_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::app::shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), web::session_layer))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::Extension(provider))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until SIGINT or SIGTERM, then finishes the requests under way.
pub async fn serve(router: Router, addr: SocketAddr, demo: bool, oidc: bool) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, demo, oidc, "attest is listening");
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests under way");
}
