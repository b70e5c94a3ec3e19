//! `attest` subcommands: serve, migrate, import, identities, grants, demo, generate, bench, verify.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use app::db::Db;
use app::identities::IdentityFilter;
use app::imports::server::formats::Format as ImportFileFormat;
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
    /// Recompute the decision log's hash chain, or check an export folder; exits non-zero
    /// naming the first bad entry or every changed file.
    Verify(VerifyArgs),
    /// Write an evidence export (decisions.csv, decisions.json, report.html, manifest.json)
    /// into a folder, and record it.
    Export(ExportArgs),
    /// Open follow-up reviews for exceptions whose date has passed (the server does this too).
    FollowUp,
    /// Score every active grant again with the settings in force (saving settings on the risk
    /// page and every import do this too), for example after a day without imports, since
    /// dormancy grows with time.
    Rescore,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// An export folder to check against its manifest, and against this server's log.
    #[arg(long)]
    pub export: Option<std::path::PathBuf>,
    /// With --export: check the folder against itself only, without this server's database.
    #[arg(long, requires = "export")]
    pub offline: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The campaign to export; without it, every campaign (narrowed by --from/--to).
    #[arg(long)]
    pub campaign: Option<i64>,
    /// First day of decisions to include, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of decisions to include, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
    /// Folder to write; created if missing.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Who takes the export, recorded with it.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub actor: String,
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
    /// Folder where evidence exports are written, one folder per export.
    #[arg(long, env = "ATTEST_EXPORTS_DIR", default_value = crate::DEFAULT_EXPORTS_DIR)]
    pub exports_dir: std::path::PathBuf,
    /// The OpenID Connect provider's issuer URL, e.g. https://login.example.com/realms/acme.
    #[arg(long, env = "ATTEST_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "ATTEST_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    #[arg(long, env = "ATTEST_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Where people reach attest, e.g. https://attest.example.com; the provider sends them
    /// back to PUBLIC_URL/auth/callback. Cookies are `Secure` when it is https.
    #[arg(long, env = "ATTEST_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Scopes asked of the provider.
    #[arg(long, env = "ATTEST_OIDC_SCOPES", default_value = "openid email profile")]
    pub oidc_scopes: String,
    /// The ID token claim that lists a person's groups.
    #[arg(long, env = "ATTEST_OIDC_ROLES_CLAIM", default_value = "groups")]
    pub oidc_roles_claim: String,
    /// Groups to roles: `group=role,…`; roles are admin, campaign_owner, reviewer, auditor.
    #[arg(
        long,
        env = "ATTEST_OIDC_ROLE_MAP",
        default_value = "attest-admins=admin,attest-campaign-owners=campaign_owner,attest-reviewers=reviewer,attest-auditors=auditor"
    )]
    pub oidc_role_map: String,
    /// A session ends after this many minutes without use.
    #[arg(long, env = "ATTEST_SESSION_IDLE_MINUTES", default_value_t = 480)]
    pub session_idle_minutes: i64,
    /// A session ends this many hours after sign-in, used or not.
    #[arg(long, env = "ATTEST_SESSION_MAX_HOURS", default_value_t = 24)]
    pub session_max_hours: i64,
    /// Largest upload the REST API accepts, in MiB.
    #[arg(long, env = "ATTEST_MAX_UPLOAD_MB", default_value_t = 256)]
    pub max_upload_mb: usize,
    /// Score every active grant again this often, in minutes, as dormancy grows between
    /// imports (at each multiple of it since midnight UTC: by default daily at 00:00 UTC);
    /// 0 never does. At most a year.
    #[arg(long, env = "ATTEST_RESCORE_MINUTES", default_value_t = 1440, value_parser = clap::value_parser!(u64).range(0..=525_600))]
    pub rescore_minutes: u64,
    /// The SMTP server mail goes through: smtp://user:password@host:587 (STARTTLS),
    /// smtps://user:password@host:465 (TLS from the start), or smtp://host:25?tls=none (no
    /// encryption, for a relay on the same host). Without it, mails are written as .eml files.
    #[arg(long, env = "ATTEST_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail, e.g. `attest <attest@example.com>`.
    #[arg(long, env = "ATTEST_MAIL_FROM", default_value = crate::mail::DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// Where mails are written as .eml files when no SMTP server is set.
    #[arg(long, env = "ATTEST_MAIL_DIR", default_value = crate::mail::DEFAULT_MAIL_DIR)]
    pub mail_dir: PathBuf,
}

impl ServeArgs {
    /// The identity provider's settings: all four set, none set, or an error naming the missing.
    pub fn oidc_settings(&self) -> Result<Option<crate::auth::OidcSettings>, String> {
        let given = [
            ("ATTEST_OIDC_ISSUER", &self.oidc_issuer),
            ("ATTEST_OIDC_CLIENT_ID", &self.oidc_client_id),
            ("ATTEST_OIDC_CLIENT_SECRET", &self.oidc_client_secret),
            ("ATTEST_PUBLIC_URL", &self.public_url),
        ];
        let missing: Vec<&str> = given.iter().filter(|(_, v)| v.as_deref().is_none_or(str::is_empty)).map(|(n, _)| *n).collect();
        if missing.len() == given.len() {
            return Ok(None);
        }
        if !missing.is_empty() {
            return Err(format!("sign-in through an identity provider needs {} as well", missing.join(", ")));
        }
        let role_map = crate::auth::OidcSettings::parse_role_map(&self.oidc_role_map).map_err(|e| format!("ATTEST_OIDC_ROLE_MAP: {e}"))?;
        let scopes: Vec<String> = self.oidc_scopes.split_whitespace().map(str::to_string).collect();
        Ok(Some(crate::auth::OidcSettings {
            issuer: self.oidc_issuer.clone().unwrap_or_default(),
            client_id: self.oidc_client_id.clone().unwrap_or_default(),
            client_secret: self.oidc_client_secret.clone().unwrap_or_default(),
            public_url: self.public_url.clone().unwrap_or_default(),
            scopes,
            roles_claim: self.oidc_roles_claim.clone(),
            role_map,
        }))
    }

    pub fn timeouts(&self) -> Result<app::session::server::repo::Timeouts, String> {
        if self.session_idle_minutes < 1 || self.session_max_hours < 1 {
            return Err("session timeouts must be at least one minute idle and one hour in all".into());
        }
        Ok(app::session::server::repo::Timeouts { idle_secs: self.session_idle_minutes * 60, absolute_secs: self.session_max_hours * 3600 })
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// A folder with identities.csv, grants.csv and optionally applications.csv.
    Csv(ImportArgs),
    /// SCIM 2.0 Users, Groups or ListResponse JSON (RFC 7643/7644).
    Scim(VendorArgs),
    /// The IAM credential report CSV (aws iam get-credential-report).
    AwsCredentialReport(VendorArgs),
    /// IAM users, groups, roles and policies JSON (aws iam get-account-authorization-details).
    AwsAuthorizationDetails(VendorArgs),
    /// GitHub fine-grained personal access tokens JSON (GET /orgs/{org}/personal-access-tokens).
    GithubPats(VendorArgs),
    /// Okta users, app users, role assignments and app grants JSON (Management API).
    Okta(VendorArgs),
    /// Entra ID users with signInActivity, servicePrincipals and their sign-in activity (Graph JSON).
    Entra(VendorArgs),
    /// ConductorOne baton sync files (.c1z, written by baton-<connector> -f sync.c1z).
    Baton(VendorArgs),
    /// IAM access advisor reports, one per user or role (aws iam get-service-last-accessed-details).
    AwsAccessAdvisor(VendorArgs),
}

impl ImportFormat {
    /// The vendor format and its arguments; `None` for the CSV bundle.
    fn vendor(&self) -> Option<(ImportFileFormat, &VendorArgs)> {
        Some(match self {
            ImportFormat::Csv(_) => return None,
            ImportFormat::Scim(args) => (ImportFileFormat::Scim, args),
            ImportFormat::AwsCredentialReport(args) => (ImportFileFormat::AwsCredentialReport, args),
            ImportFormat::AwsAuthorizationDetails(args) => (ImportFileFormat::AwsAuthorizationDetails, args),
            ImportFormat::GithubPats(args) => (ImportFileFormat::GithubPats, args),
            ImportFormat::Okta(args) => (ImportFileFormat::Okta, args),
            ImportFormat::Entra(args) => (ImportFileFormat::Entra, args),
            ImportFormat::Baton(args) => (ImportFileFormat::Baton, args),
            ImportFormat::AwsAccessAdvisor(args) => (ImportFileFormat::AwsAccessAdvisor, args),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct VendorArgs {
    /// The exported files, read together as one snapshot (pages of one export, or its parts).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The source's name; defaults to the format's name.
    #[arg(long)]
    pub source: Option<String>,
    /// Who runs the import, recorded with it.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub actor: String,
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
            let settings = args.oidc_settings()?;
            let timeouts = args.timeouts()?;
            if settings.is_none() && !args.demo {
                return Err("sign-in is not configured: set ATTEST_OIDC_ISSUER, ATTEST_OIDC_CLIENT_ID, ATTEST_OIDC_CLIENT_SECRET and \
                            ATTEST_PUBLIC_URL for your identity provider, or start with --demo (ATTEST_DEMO=1) for the demo sign-in; \
                            attest does not serve without sign-in"
                    .into());
            }
            let db = connect(&cli.database_url).await?;
            let secure_cookies = settings.as_ref().is_some_and(|s| s.public_url.starts_with("https://"));
            let oidc = match settings {
                Some(settings) => Some(std::sync::Arc::new(crate::auth::Oidc::discover(settings).await?)),
                None => None,
            };
            if args.demo && crate::generate::estate_is_empty(&db).await? {
                let summary = crate::generate::seed_demo(&db, 42, 400).await?;
                tracing::info!(identities = summary.identities_added, grants = summary.grants_added, "seeded the demo estate");
            }
            let public_url = args.public_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| format!("http://{}", args.addr));
            let mailer = crate::mail::Mailer::new(args.smtp_url.as_deref(), &args.mail_from, &public_url, &args.mail_dir)?;
            let mut state = crate::state(db.clone(), args.demo, &args.site_root, args.addr);
            state.oidc = oidc.is_some();
            state.timeouts = timeouts;
            state.secure_cookies = secure_cookies;
            state.exports_dir = args.exports_dir.clone();
            state.mail = mailer.info();
            state.max_upload_bytes = args.max_upload_mb.saturating_mul(1024 * 1024);
            tracing::info!(transport = %state.mail.transport, "mail");
            let clock = std::sync::Arc::new(app::notifications::server::clock::SystemClock);
            let rescore = (args.rescore_minutes > 0)
                .then(|| crate::rescore::spawn(db.clone(), std::time::Duration::from_secs(args.rescore_minutes.saturating_mul(60))));
            let worker = crate::mail::spawn(db, std::sync::Arc::new(mailer), clock, crate::mail::Intervals::default());
            let router = crate::router_with(state, crate::auth::Provider(oidc.clone()));
            let served = crate::serve(router, args.addr, args.demo, oidc.is_some()).await;
            worker.abort();
            if let Some(rescore) = rescore {
                rescore.abort();
            }
            served?;
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
            let summary = apply::apply(&db, snapshot, &format!("cli:{}", args.actor), &progress).await?;
            println!("{summary}");
        }
        Command::Import { format } => {
            let Some((format, args)) = format.vendor() else { return Err("the CSV bundle is imported above".into()) };
            let source = args.source.clone().unwrap_or_else(|| format.name().to_string());
            let snapshot = match format.read(&args.paths, &source) {
                Ok(snapshot) => snapshot,
                Err(bad) => {
                    eprintln!("{bad}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let db = connect(&cli.database_url).await?;
            let progress = output::TerminalProgress::new();
            let summary = apply::apply(&db, snapshot, &format!("cli:{}", args.actor), &progress).await?;
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
                        Ok(rows) => rows,
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
        Command::Verify(args) => match args.export {
            None => {
                let db = connect(&cli.database_url).await?;
                match app::campaigns::server::chain::verify(&db).await? {
                    app::campaigns::ChainCheck::Verified { entries, head } => {
                        println!("decision log verified: {entries} entries, head {head}");
                    }
                    app::campaigns::ChainCheck::Broken { seq, reason } => {
                        eprintln!("decision log BROKEN at entry {seq}: {reason}");
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Some(dir) => {
                let db = if args.offline { None } else { Some(connect(&cli.database_url).await?) };
                let verdict = app::evidence::server::export::verify_dir(&dir, db.as_ref()).await?;
                for problem in &verdict.problems {
                    eprintln!("{}: {problem}", dir.display());
                }
                if !verdict.ok() {
                    eprintln!("export {} NOT verified: {} problem(s)", dir.display(), verdict.problems.len());
                    return Ok(ExitCode::FAILURE);
                }
                let against = if verdict.live { format!(" and this server's log ({})", cli.database_url) } else { String::new() };
                println!(
                    "export {} verified: {} files and {} log entries match the manifest{against}",
                    verdict.export_id.map(|id| id.to_string()).unwrap_or_default(),
                    verdict.files_checked,
                    verdict.entries_checked
                );
            }
        },
        Command::Export(args) => {
            use app::evidence::server::export;
            let db = connect(&cli.database_url).await?;
            let request = app::evidence::ExportRequest { campaign_id: args.campaign, from: args.from, to: args.to };
            let scope = match export::scope_of(&db, &request).await? {
                Ok(scope) => scope,
                Err(problem) => {
                    eprintln!("{problem}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let name = format!("cli:{}", args.actor);
            let record = export::write(&db, &scope, &args.out, &export::Taker { name: &name, subject: &name }, app::db::now()).await?;
            println!("export {} of {}: {} items, written to {}", record.export_id, scope.describe(), record.item_rows, args.out.display());
            for file in &record.files {
                println!("  {}  {}  {} bytes", file.sha256, file.name, file.bytes);
            }
            println!("  {}  {}", record.manifest_sha256, app::evidence::MANIFEST);
        }
        Command::FollowUp => {
            let db = connect(&cli.database_url).await?;
            let opened = app::evidence::server::exceptions::follow_up_expired(&db, app::db::now()).await?;
            println!("{} follow-up review(s) opened for expired exceptions", opened.len());
        }
        Command::Rescore => {
            let db = connect(&cli.database_url).await?;
            let started = std::time::Instant::now();
            let scored = app::scoring::server::repo::rescore(&db).await?;
            println!("{scored} active grants scored in {:.2} s", started.elapsed().as_secs_f64());
        }
    }
    Ok(ExitCode::SUCCESS)
}
