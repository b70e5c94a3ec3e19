//! `attest` subcommands: serve, migrate, import, identities, grants, demo, generate, bench.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use app::db::Db;
use app::identities::IdentityFilter;
use app::imports::server::{Progress, apply, csv_bundle};
use clap::{Parser, Subcommand};

use crate::output::{self, Format};

#[derive(Debug, Parser)]
#[command(name = "attest", version, about = "Access reviews for human and machine identities")]
pub struct Cli {
    /// sqlite://PATH (created on first use) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/attest.db", global = true)]
    pub database_url: String,
    /// `text` or `json` (one object a line).
    #[arg(long, env = "ATTEST_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Import a snapshot of a source; it replaces what that source said before.
    Import {
        #[command(subcommand)]
        format: ImportFormat,
    },
    /// List current identities.
    Identities(ListArgs),
    /// List current grants.
    Grants(ListArgs),
    /// Seed the demo estate (deterministic for a seed) as the source `demo`.
    Demo(DemoArgs),
    /// Write a generated estate as a CSV bundle, for trying imports and for benchmarks.
    Generate(GenerateArgs),
    /// Measure import speed and memory, and the identities page latency; prints figures.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long, env = "ATTEST_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Offer the demo sign-in and show a demo banner on every page; seeds the demo estate
    /// into an empty database.
    #[arg(long, env = "ATTEST_DEMO", value_parser = clap::builder::FalseyValueParser::new())]
    pub demo: bool,
    /// Folder with the browser bundle (`pkg/`), as built by cargo-leptos.
    #[arg(long, env = "ATTEST_SITE_ROOT", default_value = crate::DEFAULT_SITE_ROOT)]
    pub site_root: String,
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// A folder with identities.csv, grants.csv and optionally applications.csv.
    Csv(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub path: PathBuf,
    /// The source's name; defaults to the folder's name.
    #[arg(long)]
    pub source: Option<String>,
    /// Who runs the import, recorded with it.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub actor: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(long)]
    pub limit: Option<u32>,
    /// `risk` lists the riskiest first.
    #[arg(long, value_enum, default_value = "name")]
    pub sort: Sort,
    /// Grants only: a query such as `privilege:admin idle>30d -kind:human`.
    #[arg(long)]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    Name,
    Risk,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 400)]
    pub identities: usize,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Folder to write identities.csv, applications.csv and grants.csv into.
    pub dir: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 1_000)]
    pub identities: usize,
    #[arg(long, default_value_t = 10_000)]
    pub grants: usize,
}

pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

pub async fn connect(url: &str) -> Result<Db, AnyError> {
    let db = Db::connect(url).await.map_err(|e| format!("cannot open the database {url}: {e}"))?;
    db.migrate().await.map_err(|e| format!("cannot migrate the database {url}: {e}"))?;
    Ok(db)
}

pub async fn run(cli: Cli) -> Result<ExitCode, AnyError> {
    match cli.command {
        Command::Serve(args) => {
            let db = connect(&cli.database_url).await?;
            if !args.demo {
                return Err("sign-in is not configured: start with --demo (or ATTEST_DEMO=1) for the demo sign-in; \
                            attest does not serve without sign-in"
                    .into());
            }
            if args.demo && crate::generate::estate_is_empty(&db).await? {
                let summary = crate::generate::seed_demo(&db, 42, 400).await?;
                tracing::info!(identities = summary.identities_added, grants = summary.grants_added, "seeded the demo estate");
            }
            crate::serve(crate::state(db, args.demo, &args.site_root, args.addr), args.addr).await?;
        }
        Command::Migrate => {
            connect(&cli.database_url).await?;
            println!("migrations applied to {}", cli.database_url);
        }
        Command::Import { format: ImportFormat::Csv(args) } => {
            let source = match args.source {
                Some(source) => source,
                None => args
                    .path
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .ok_or("cannot name the source after the folder; give --source NAME")?,
            };
            let db = connect(&cli.database_url).await?;
            let progress = output::TerminalProgress::new();
            let snapshot = match csv_bundle::read_bundle(&args.path, &source, &progress) {
                Ok(snapshot) => snapshot,
                Err(bad) => {
                    progress.finish();
                    eprintln!("{bad}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let summary = apply::apply(&db, &snapshot, &format!("cli:{}", args.actor), &progress).await?;
            println!("{summary}");
        }
        Command::Identities(args) => {
            let db = connect(&cli.database_url).await?;
            let limit = args.limit.unwrap_or(u32::MAX / 2);
            let page = app::identities::server::repo::list(
                &db,
                &IdentityFilter { page: 1, sort: (args.sort == Sort::Risk).then(|| "risk".to_string()), ..Default::default() },
                limit,
            )
            .await?
            .map_err(|e| e.to_string())?;
            output::print_identities(&page.rows, args.format)?;
        }
        Command::Grants(args) => {
            let db = connect(&cli.database_url).await?;
            let rows = match &args.query {
                None => app::identities::server::repo::grants(&db, args.sort == Sort::Risk, args.limit.map(i64::from)).await?,
                Some(query) => {
                    let limit = args.limit.map(i64::from).unwrap_or(i64::MAX / 2);
                    match app::identities::server::repo::query_grants(&db, query, args.sort == Sort::Risk, limit, 0).await? {
                        Ok((rows, _)) => rows,
                        Err(e) => {
                            eprintln!("{query}\n{}^\nerror: {e}", " ".repeat(e.column.saturating_sub(1)));
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
            };
            output::print_grants(&rows, args.format)?;
        }
        Command::Demo(args) => {
            let db = connect(&cli.database_url).await?;
            let summary = crate::generate::seed_demo(&db, args.seed, args.identities).await?;
            println!("{summary}");
        }
        Command::Generate(args) => {
            let snapshot = crate::generate::estate(args.seed, args.identities, args.grants, crate::generate::now());
            crate::generate::write_bundle(&snapshot, &args.dir)?;
            println!(
                "wrote {} identities, {} applications and {} grants to {}",
                snapshot.identities.len(),
                snapshot.applications.len(),
                snapshot.grants.len(),
                args.dir.display()
            );
        }
        Command::Bench(args) => crate::bench::run(&cli.database_url, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}
