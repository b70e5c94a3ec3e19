//! `attest bench`: import throughput and memory against `sqlite3 .import` of the same rows,
//! the identities page's latency over the imported estate, and a campaign over all of it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use app::db::Db;
use app::session::server::repo::{self, Timeouts};
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt;

use crate::cli::AnyError;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 100_000)]
    pub identities: usize,
    #[arg(long, default_value_t = 1_000_000)]
    pub grants: usize,
    /// Working folder: the generated bundle and the databases go here.
    #[arg(long, default_value = "target/bench")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Requests made to the identities page.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
}

/// "(4.1 s applying, 2.0 s scoring)" from an import's summary.
fn phases(output: &str) -> (f64, f64) {
    let Some(start) = output.find("active grants scored (") else { return (0.0, 0.0) };
    let rest = &output[start + "active grants scored (".len()..];
    let mut numbers =
        rest.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|s| !s.is_empty()).filter_map(|s| s.parse::<f64>().ok());
    (numbers.next().unwrap_or(0.0), numbers.next().unwrap_or(0.0))
}

/// Rounds of the reference and a first import taken in turns.
const RATIO_ROUNDS: usize = 3;

/// Waits for the disk to write what earlier steps left in the page cache, so a timed step does
/// not pay for them.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(2));
}

/// The reference: the `sqlite3` shell's `.import` of the bundle's identities and grants into
/// plain tables of a new database at `db`. None, saying why, when `sqlite3` fails or is missing.
fn reference(bundle: &std::path::Path, db: &std::path::Path) -> Result<Option<Duration>, AnyError> {
    let script = format!(
        ".mode csv\n.import {} identities\n.import {} grants\n",
        bundle.join("identities.csv").display(),
        bundle.join("grants.csv").display()
    );
    settle();
    let started = Instant::now();
    let output = Command::new("sqlite3")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(script.as_bytes())?;
            }
            child.wait_with_output()
        });
    match output {
        Ok(out) if out.status.success() => Ok(Some(started.elapsed())),
        Ok(out) => {
            eprintln!("  sqlite3 failed: {}", String::from_utf8_lossy(&out.stderr));
            Ok(None)
        }
        Err(e) => {
            eprintln!("  sqlite3 not found ({e}); install it for the reference figure");
            Ok(None)
        }
    }
}

fn run_timed(command: &mut Command) -> Result<(Duration, String), AnyError> {
    let started = Instant::now();
    let output = command.output()?;
    if !output.status.success() {
        return Err(
            format!("{command:?} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)).into()
        );
    }
    Ok((started.elapsed(), String::from_utf8_lossy(&output.stdout).into_owned()))
}

fn per_second(rows: usize, took: Duration) -> String {
    app::components::thousands((rows as f64 / took.as_secs_f64()) as i64)
}

pub async fn run(_database_url: &str, args: BenchArgs) -> Result<(), AnyError> {
    let bundle = args.dir.join("bundle");
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let rows = args.identities + args.grants;
    println!("attest bench: {} identities, {} grants, SQLite", args.identities, args.grants);

    let started = Instant::now();
    let snapshot = crate::generate::estate(args.seed, args.identities, args.grants, crate::generate::now());
    crate::generate::write_bundle(&snapshot, &bundle)?;
    let grants = snapshot.grants.len();
    drop(snapshot);
    println!("  generated the CSV bundle in {:.1} s", started.elapsed().as_secs_f64());

    // attest import, in a child process so its peak memory is its own.
    let db_path = args.dir.join("attest.db");
    let url = format!("sqlite://{}", db_path.display());
    let exe = std::env::current_exe()?;
    let import = |source: &str| {
        let mut command = Command::new(&exe);
        command.args(["import", "csv"]).arg(&bundle).args(["--source", source]).env("DATABASE_URL", &url).env("RUST_LOG", "warn");
        command
    };
    run_timed(Command::new(&exe).arg("migrate").env("DATABASE_URL", &url))?;
    let grants = grants as u64;
    let (first, first_out, peak) = run_with_peak(&mut import("bench"))?;
    let (again, again_out, again_peak) = run_with_peak(&mut import("bench"))?;
    let (first_apply, first_scoring) = phases(&first_out);
    let (again_apply, again_scoring) = phases(&again_out);
    let rescores = settings_change(&exe, &url).await?;

    // The reference and a first import into a fresh database take turns, each after the disk
    // has caught up: this machine's speed drifts from minute to minute, so one of each says
    // little about their ratio.
    let mut rounds: Vec<(f64, f64)> = Vec::new();
    let (reference_db, round_db) = (args.dir.join("reference.db"), args.dir.join("round.db"));
    let round_url = format!("sqlite://{}", round_db.display());
    for _ in 0..RATIO_ROUNDS {
        for path in [&reference_db, &round_db] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        let Some(reference) = reference(&bundle, &reference_db)? else { break };
        run_timed(Command::new(&exe).arg("migrate").env("DATABASE_URL", &round_url))?;
        settle();
        let (_, out) = run_timed(import("bench").env("DATABASE_URL", &round_url))?;
        rounds.push((phases(&out).0, reference.as_secs_f64()));
    }
    println!();
    println!(
        "  import (first snapshot)     {:>8.2} s  {:>10} rows/s  peak RSS {:.0} MiB",
        first.as_secs_f64(),
        per_second(rows, first),
        peak
    );
    println!(
        "    of which applying          {first_apply:>6.2} s  {:>10} rows/s",
        per_second(rows, Duration::from_secs_f64(first_apply.max(0.001)))
    );
    println!("    of which scoring {grants} grants {first_scoring:>6.2} s");
    println!(
        "  re-import (no changes)      {:>8.2} s  {:>10} rows/s  peak RSS {again_peak:.0} MiB",
        again.as_secs_f64(),
        per_second(rows, again)
    );
    println!("    of which applying          {again_apply:>6.2} s, scoring {again_scoring:.2} s");
    if let Some(&(_, reference)) = rounds.first() {
        println!("  sqlite3 .import reference   {reference:>8.2} s  {:>10} rows/s", per_second(rows, Duration::from_secs_f64(reference)));
        let mut ratios: Vec<f64> = rounds.iter().map(|(apply, reference)| apply / reference).collect();
        for (n, ((apply, reference), ratio)) in rounds.iter().zip(&ratios).enumerate() {
            println!("    round {}: applying {apply:.2} s, reference {reference:.2} s: {ratio:.2}×", n + 1);
        }
        ratios.sort_by(f64::total_cmp);
        println!("  applying / reference        {:>8.2}×  the middle of {} rounds", ratios[ratios.len() / 2], ratios.len());
    }

    for line in rescores {
        println!("{line}");
    }

    // The identities page: filtered, paged, rendered on the server, through the router.
    let db = Db::connect(&url).await?;
    let token = repo::sign_in(
        &db,
        &repo::SignIn { subject: "bench", email: None, display_name: "Bench", idp_roles: vec![app::session::Role::Auditor], via: "bench" },
        Timeouts::default(),
    )
    .await?;
    let state = crate::state(db, false, crate::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse()?);
    let router = crate::router(state);
    let paths = [
        "/identities?kind=service_account&owner=absent&page=3",
        "/identities?kind=human&status=active&department=Finance",
        "/identities?q=payments&page=2",
    ];
    pages(&router, &token, "identities page (filtered) ", &paths, args.requests).await?;
    // The grants page: a query of two filters, riskiest first, the first page of 50.
    let paths = [
        "/grants?query=privilege%3Aadmin%20idle%3E30d",
        "/grants?query=kind%3Aservice_account%20owner%3Anone",
        "/grants?query=kind%3Aapi_key%20rotated%3E90d",
        "/grants?query=risk%3E%3D70%20-kind%3Ahuman",
    ];
    pages(&router, &token, "grants query (two filters) ", &paths, args.requests).await?;
    println!("  ({grants} grants imported)");
    campaigns(&url, args.requests, &args.dir).await
}

/// Scoring after a recorded settings change that moves most scores, then after every grant's
/// words went stale (as a day later, when every idle grant has been idle one day longer), each
/// `attest rescore` in a child process so its peak memory is its own. Returns lines to print.
async fn settings_change(exe: &std::path::Path, url: &str) -> Result<Vec<String>, AnyError> {
    use app::scoring::server::settings;
    let db = Db::connect(url).await?;
    let mut changed = settings::current(&db.pool).await?;
    for points in [&mut changed.dormant_points, &mut changed.admin_points, &mut changed.write_points, &mut changed.no_expiry_points] {
        *points += 5;
    }
    settings::save(&db, &changed, "attest bench", "bench", app::db::now()).await?;
    sqlx::query("create table bench_score as select access_grant_id, risk_score from grant_score").execute(&db.pool).await?;
    let mut lines = Vec::new();
    let rescore = || run_with_peak(Command::new(exe).arg("rescore").env("DATABASE_URL", url).env("RUST_LOG", "warn"));
    let (took, _, peak) = rescore()?;
    let moved: i64 = sqlx::query_scalar(
        "select count(*) from grant_score g join bench_score b on b.access_grant_id = g.access_grant_id where g.risk_score <> b.risk_score",
    )
    .fetch_one(&db.pool)
    .await?;
    lines.push(format!(
        "  rescore after a settings change {:>4.2} s  {} scores moved  peak RSS {peak:.0} MiB",
        took.as_secs_f64(),
        app::components::thousands(moved)
    ));
    sqlx::query("drop table bench_score").execute(&db.pool).await?;
    let stale = sqlx::query("update access_grant set risk_words = '', risk_hash = 0 where ended_at is null")
        .execute(&db.pool)
        .await?
        .rows_affected();
    let (took, _, peak) = rescore()?;
    lines.push(format!(
        "  rescore, every grant's words stale {:>4.2} s  {} rewritten  peak RSS {peak:.0} MiB",
        took.as_secs_f64(),
        app::components::thousands(stale as i64)
    ));
    db.pool.close().await;
    Ok(lines)
}

/// Requests `paths` in turn, `requests` times after ten to warm up, and prints how long the
/// full pages took under `label`.
async fn pages(router: &axum::Router, token: &str, label: &str, paths: &[&str], requests: usize) -> Result<(), AnyError> {
    let mut timings = Vec::with_capacity(requests);
    for i in 0..requests + 10 {
        let path = paths[i % paths.len()];
        let request = Request::get(path).header(header::COOKIE, format!("{}={token}", app::session::COOKIE)).body(Body::empty())?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if !status.is_success() {
            return Err(format!("{path} answered {status}").into());
        }
        if i >= 10 {
            timings.push(started.elapsed());
        }
    }
    println!(
        "  {label} p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms over {} requests",
        percentile(&mut timings, 0.5),
        percentile(&mut timings, 0.95),
        percentile(&mut timings, 1.0),
        timings.len()
    );
    Ok(())
}

/// The `q` quantile of `timings`, in milliseconds.
fn percentile(timings: &mut [Duration], q: f64) -> f64 {
    timings.sort();
    if timings.is_empty() {
        return 0.0;
    }
    timings[((timings.len() as f64 * q).ceil() as usize).saturating_sub(1).min(timings.len() - 1)].as_secs_f64() * 1000.0
}

/// A campaign over every grant: launch, 32 reviewers loading their queues at once, decisions
/// with the hash chain, and verifying the chain.
async fn campaigns(url: &str, requests: usize, dir: &std::path::Path) -> Result<(), AnyError> {
    use app::campaigns::server::{chain, repo as campaigns};
    let db = Db::connect(url).await?;
    let person = |subject: &'static str, email: Option<String>, role| {
        let db = db.clone();
        async move {
            let sign_in = repo::SignIn { subject, email: email.as_deref(), display_name: subject, idp_roles: vec![role], via: "bench" };
            let token = repo::sign_in(&db, &sign_in, Timeouts::default()).await?;
            let user = repo::lookup(&db, &token, Timeouts::default()).await?.ok_or("bench sign-in failed")?;
            Ok::<_, AnyError>((token, user))
        }
    };
    let (_, owner) = person("bench owner", None, app::session::Role::CampaignOwner).await?;
    let fallback: String = sqlx::query_scalar(
        "select email from identity where kind = 'human' and status = 'active' and email is not null order by identity_id limit 1",
    )
    .fetch_one(&db.pool)
    .await?;
    let draft = app::campaigns::CampaignDraft {
        name: "bench".into(),
        reviewer_rule: "identity_owner".into(),
        fallback_reviewer: fallback,
        deadline: app::time_fmt::date(crate::generate::now() + 30 * 86_400),
        deadline_action: "keep".into(),
        justification: "revoke".into(),
        high_risk: 70,
        max_exception_days: 90,
        ..Default::default()
    };
    let id = campaigns::create(&db, &draft, &owner).await?.map_err(|e| format!("{e:?}"))?;
    let started = Instant::now();
    let items = campaigns::launch(&db, id, &owner).await?.map_err(|e| format!("{e:?}"))?;
    let launch = started.elapsed();
    println!(
        "  campaign launch             {:>8.2} s  {} items frozen and assigned",
        launch.as_secs_f64(),
        app::components::thousands(items)
    );

    // The 32 busiest reviewers, each signed in as themselves.
    let busiest: Vec<String> = sqlx::query_scalar(
        "select v.email from review_item r join identity v on v.identity_id = r.reviewer_id where r.campaign_id = $1 and v.email is not null \
         group by v.email order by count(*) desc limit 32",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    const SUBJECTS: [&str; 32] = [
        "r00", "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10", "r11", "r12", "r13", "r14", "r15", "r16", "r17",
        "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28", "r29", "r30", "r31",
    ];
    let mut reviewers = Vec::new();
    for (subject, email) in SUBJECTS.iter().zip(busiest) {
        reviewers.push(person(subject, Some(email), app::session::Role::Reviewer).await?);
    }
    let state = crate::state(db.clone(), false, crate::DEFAULT_SITE_ROOT, "127.0.0.1:0".parse()?);
    let router = crate::router(state);
    let per_reviewer = (requests / reviewers.len().max(1)).max(3);
    let mut tasks = tokio::task::JoinSet::new();
    for (token, _) in &reviewers {
        let router = router.clone();
        let token = token.clone();
        tasks.spawn(async move {
            let mut timings = Vec::new();
            for i in 0..per_reviewer + 1 {
                let path = if i % 2 == 0 { "/reviews?kind=machine" } else { "/reviews" };
                let request = Request::get(path).header(header::COOKIE, format!("{}={token}", app::session::COOKIE)).body(Body::empty())?;
                let started = Instant::now();
                let response = router.clone().oneshot(request).await?;
                let status = response.status();
                let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
                if i > 0 {
                    timings.push((started.elapsed(), status.is_success()));
                }
            }
            Ok::<_, AnyError>(timings)
        });
    }
    let mut timings = Vec::new();
    let mut failed = 0;
    while let Some(result) = tasks.join_next().await {
        for (took, ok) in result?? {
            timings.push(took);
            failed += usize::from(!ok);
        }
    }
    let n = timings.len();
    println!(
        "  review queue, {} at once    p50 {:.1} ms  p95 {:.1} ms over {n} pages of 50 items ({failed} failed)",
        reviewers.len(),
        percentile(&mut timings, 0.5),
        percentile(&mut timings, 0.95)
    );

    // Decisions, one after another, each with its log entry; the queues they come from are
    // read first (the queue page is measured above).
    let mut queues = Vec::new();
    for (_, user) in &reviewers {
        queues.push((user, campaigns::queue(&db, user, &Default::default(), 50).await?));
    }
    let mut decided = 0;
    let mut each = Vec::new();
    let started = Instant::now();
    for (user, queue) in queues {
        for item in queue.items {
            let one = Instant::now();
            let request = campaigns::Request {
                item_id: item.item_id,
                version: item.version,
                action: app::campaigns::Action::Decide(app::campaigns::Decision::Approve),
                justification: "still needed",
                until: "",
                bulk: false,
            };
            if campaigns::decide(&db, user, &request).await?.is_ok() {
                decided += 1;
            }
            each.push(one.elapsed());
        }
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    let took = started.elapsed();
    println!(
        "  decisions with hash chain   {:>8.2} s  {:>10} decisions/s ({decided} decisions)",
        took.as_secs_f64(),
        per_second(decided, took)
    );
    let first = each.first().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "    each: first {first:.1} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.1} ms",
        percentile(&mut each, 0.5),
        percentile(&mut each, 0.95),
        percentile(&mut each, 1.0)
    );
    let started = Instant::now();
    let check = chain::verify(&db).await?;
    let took = started.elapsed();
    let entries = match check {
        app::campaigns::ChainCheck::Verified { entries, .. } => entries,
        app::campaigns::ChainCheck::Broken { seq, reason } => {
            return Err(format!("the decision log does not verify at {seq}: {reason}").into());
        }
    };
    println!(
        "  attest verify               {:>8.3} s  {:>10} entries/s ({entries} entries)",
        took.as_secs_f64(),
        per_second(entries as usize, took)
    );

    // The evidence export of the whole campaign, in a child process so its memory is its own.
    let out = dir.join("export");
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .args(["export", "--campaign", &id.to_string(), "--out"])
        .arg(&out)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let (status, peak) = wait_with_peak(child)?;
    let took = started.elapsed();
    if !status.success() {
        return Err(format!("attest export failed: {status}").into());
    }
    let csv_bytes = std::fs::metadata(out.join("decisions.csv")).map(|m| m.len()).unwrap_or(0);
    println!(
        "  evidence export (4 files)   {:>8.2} s  {:>10} items/s  peak RSS {peak:.0} MiB, decisions.csv {:.0} MiB",
        took.as_secs_f64(),
        per_second(items as usize, took),
        csv_bytes as f64 / 1_048_576.0
    );
    let started = Instant::now();
    let verified = Command::new(std::env::current_exe()?)
        .args(["verify", "--export"])
        .arg(&out)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()?;
    if !verified.status.success() {
        return Err(format!("attest verify --export failed: {}", String::from_utf8_lossy(&verified.stderr)).into());
    }
    println!("  attest verify --export      {:>8.2} s", started.elapsed().as_secs_f64());

    // The decision log a campaign of this size leaves behind, then `attest verify` over it.
    let started = Instant::now();
    let entries = fill_log(&db, id, LOG_ENTRIES).await?;
    println!("  decision log filled to {} entries in {:.1} s", app::components::thousands(entries), started.elapsed().as_secs_f64());
    let started = Instant::now();
    let verified = Command::new(std::env::current_exe()?).arg("verify").env("DATABASE_URL", url).env("RUST_LOG", "warn").output()?;
    let took = started.elapsed();
    if !verified.status.success() {
        return Err(format!("attest verify failed: {}", String::from_utf8_lossy(&verified.stdout)).into());
    }
    println!("  attest verify               {:>8.2} s  {:>10} entries/s", took.as_secs_f64(), per_second(entries as usize, took));
    Ok(())
}

/// The size of the decision log `attest verify` is timed over.
const LOG_ENTRIES: i64 = 1_000_000;

/// Appends approvals of the campaign's items to the decision log until it holds `total`
/// entries, each hashed and linked to the one before exactly as a reviewer's decision is.
/// Returns the entries in the log.
async fn fill_log(db: &Db, campaign_id: i64, total: i64) -> Result<i64, AnyError> {
    use app::campaigns::server::chain::{ENTRY_COLUMNS, Entry};
    use sqlx::Row;
    let head = sqlx::query("select seq, hash from decision_log_head where id = 1").fetch_one(&db.pool).await?;
    let (mut seq, mut prev): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    let items: Vec<i64> = sqlx::query_scalar("select item_id from review_item where campaign_id = $1 order by item_id limit $2")
        .bind(campaign_id)
        .bind((total - seq).max(0))
        .fetch_all(&db.pool)
        .await?;
    let at = app::db::now();
    // A thousand rows cross as one JSON value: binding thousands of parameters one by one is
    // slower than the inserts.
    let columns: Vec<String> = (0..ENTRY_COLUMNS.split(", ").count()).map(|n| format!("value ->> {n}")).collect();
    let insert = format!("insert into decision_log ({ENTRY_COLUMNS}) select {} from json_each($1)", columns.join(", "));
    let mut tx = db.pool.begin().await?;
    for chunk in items.chunks(1000) {
        let mut rows = Vec::with_capacity(chunk.len());
        for item in chunk {
            seq += 1;
            let entry = Entry {
                seq,
                campaign_id,
                item_id: Some(*item),
                stage: 1,
                action: "approve".into(),
                justification: Some("still needed for the nightly settlement run".into()),
                exception_until: None,
                reassigned_to: None,
                bulk: false,
                approver: "Bench Reviewer".into(),
                approver_subject: "bench-reviewer".into(),
                at,
                prev_hash: std::mem::take(&mut prev),
            };
            prev = entry.hash();
            rows.push(serde_json::json!([
                entry.seq,
                entry.campaign_id,
                entry.item_id,
                entry.stage,
                entry.action,
                entry.justification,
                entry.exception_until,
                entry.reassigned_to,
                i64::from(entry.bulk),
                entry.approver,
                entry.approver_subject,
                entry.at,
                entry.prev_hash,
                prev,
            ]));
        }
        sqlx::query(&insert).bind(serde_json::Value::Array(rows).to_string()).execute(&mut *tx).await?;
    }
    sqlx::query("update decision_log_head set seq = $1, hash = $2 where id = 1").bind(seq).bind(&prev).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Waits for a child, reading its own peak resident memory (VmHWM, in MiB) while it runs. The
/// kernel's rusage of a child also counts the parent's memory at the time it was spawned, so
/// it would show this benchmark's own size instead.
fn wait_with_peak(mut child: std::process::Child) -> Result<(std::process::ExitStatus, f64), AnyError> {
    let pid = child.id().to_string();
    let mut peak_kib = 0u64;
    loop {
        if let Some(kib) = app::imports::server::peak_kib(&pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            return Ok((status, peak_kib as f64 / 1024.0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `command` in a child process and returns how long it took, what it printed and its
/// peak memory in MiB; its output is a summary, small enough for the pipe.
fn run_with_peak(command: &mut Command) -> Result<(Duration, String, f64), AnyError> {
    use std::io::Read;
    let started = Instant::now();
    let mut child = command.stdout(std::process::Stdio::piped()).spawn()?;
    let stdout = child.stdout.take();
    let (status, peak) = wait_with_peak(child)?;
    let took = started.elapsed();
    let mut out = String::new();
    if let Some(mut stdout) = stdout {
        stdout.read_to_string(&mut out)?;
    }
    if !status.success() {
        return Err(format!("attest failed ({status}): {out}").into());
    }
    Ok((took, out, peak))
}
