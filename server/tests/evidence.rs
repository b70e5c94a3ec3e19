//! Remediation verified by imports, exceptions that come back, and exports an auditor can
//! check byte for byte.

use app::campaigns::server::{chain, repo};
use app::campaigns::{Action, CampaignDraft, ChainCheck, Decision};
use app::evidence::RemediationStatus;
use app::evidence::server::{exceptions, export, remediation};
use app::session::{CurrentUser, Role};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{TestApp, fixture};
use crate::on_both_databases;

const DAY: i64 = 86_400;

pub(crate) async fn person(app: &TestApp, who: &str, roles: &[Role]) -> CurrentUser {
    let token = app.session_as(who, roles).await;
    app::session::server::repo::lookup(&app.db, &token, Default::default()).await.expect("lookup").expect("signed in")
}

fn draft() -> CampaignDraft {
    CampaignDraft {
        name: "Q4 AWS production access".into(),
        description: "Quarterly certification".into(),
        scope_query: "app:\"AWS prod\"".into(),
        reviewer_rule: "application_owner".into(),
        fallback_reviewer: "fay@example.com".into(),
        deadline: app::time_fmt::date(app::db::now() + 30 * DAY),
        deadline_action: "keep".into(),
        justification: "revoke".into(),
        high_risk: 70,
        max_exception_days: 90,
        ..Default::default()
    }
}

pub(crate) struct Reviewed {
    pub(crate) campaign: i64,
    pub(crate) olga: CurrentUser,
}

async fn item_id(app: &TestApp, campaign: i64, entitlement: &str, identity: &str) -> i64 {
    sqlx::query_scalar("select item_id from review_item where campaign_id = $1 and entitlement = $2 and identity_name = $3")
        .bind(campaign)
        .bind(entitlement)
        .bind(identity)
        .fetch_one(&app.db.pool)
        .await
        .expect("item")
}

/// Ada revokes the orphaned `s3:*` grant and the API key's grant (with spreadsheet formulas
/// as justifications), grants Ben an exception, and Olga closes the campaign.
pub(crate) async fn reviewed_and_closed(app: &TestApp) -> Reviewed {
    app.import(&fixture("campaign"), "hr").await.expect("imports");
    let olga = person(app, "olga", &[Role::CampaignOwner]).await;
    let ada = person(app, "ada", &[Role::Reviewer]).await;
    let campaign = repo::create(&app.db, &draft(), &olga).await.expect("db").expect("a valid draft");
    repo::launch(&app.db, campaign, &olga).await.expect("db").expect("launches");
    let until = app::time_fmt::date(app::db::now() + 30 * DAY);
    let decisions = [
        ("s3:*", "svc-legacy-etl", Decision::Revoke, "=cmd|' /C calc'!A0", ""),
        ("billing-export-writer", "AKIAEXAMPLE0001", Decision::Revoke, "@SUM(1+1) unused key", ""),
        ("ReadOnlyAccess", "Ben Lindqvist", Decision::Exception, "+audit support until the year closes", until.as_str()),
    ];
    for (entitlement, identity, decision, justification, until) in decisions {
        let item = repo::item(&app.db, item_id(app, campaign, entitlement, identity).await).await.expect("db").expect("item");
        let request = repo::Request {
            item_id: item.item_id,
            version: item.version,
            action: Action::Decide(decision),
            justification,
            until,
            bulk: false,
        };
        repo::decide(&app.db, &ada, &request).await.expect("db").expect("decided");
    }
    repo::close_stage(&app.db, campaign, &olga).await.expect("db").expect("closed");
    Reviewed { campaign, olga }
}

pub(crate) async fn task_status(app: &TestApp, campaign: i64, identity: &str) -> String {
    sqlx::query_scalar("select t.status from remediation_task t join review_item r on r.item_id = t.item_id where t.campaign_id = $1 and r.identity_name = $2")
        .bind(campaign)
        .bind(identity)
        .fetch_one(&app.db.pool)
        .await
        .expect("task")
}

/// The campaign fixture re-imported without the lines that contain `without`.
pub(crate) async fn reimport_without(app: &TestApp, without: &[&str]) -> app::imports::ImportSummary {
    let dir = crate::helpers::bundle_copy("campaign");
    let grants = std::fs::read_to_string(dir.path().join("grants.csv")).expect("read");
    let kept: String = grants.lines().filter(|l| !without.iter().any(|w| l.contains(w))).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("grants.csv"), kept).expect("write");
    app.import(dir.path(), "hr").await.expect("re-import")
}

fn copy_dir(from: &std::path::Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
    }
    to
}

on_both_databases! {
    async fn every_final_revocation_becomes_a_task_that_the_next_import_verifies(app: TestApp) {
        let r = reviewed_and_closed(&app).await;
        assert_eq!(app.count(&format!("select count(*) from remediation_task where campaign_id = {}", r.campaign)).await, 2, "two revocations");
        assert_eq!(task_status(&app, r.campaign, "svc-legacy-etl").await, "open");

        let summary = reimport_without(&app, &["svc-orphan,aws-prod,s3:*"]).await;
        assert_eq!((summary.remediation_verified, summary.remediation_failed), (1, 0));
        assert!(summary.to_string().contains("remediation: 1 revocations verified, 0 failed"), "{summary}");
        assert_eq!(task_status(&app, r.campaign, "svc-legacy-etl").await, "verified");
        assert_eq!(task_status(&app, r.campaign, "AKIAEXAMPLE0001").await, "open", "still granted, never marked done: still open");

        let (approver, justification): (String, Option<String>) =
            sqlx::query_as("select approver, justification from decision_log where action = 'remediation: verified'")
                .fetch_one(&app.db.pool)
                .await
                .expect("logged");
        assert_eq!(approver, "test", "the import's runner");
        assert_eq!(justification.as_deref(), Some("an import by test no longer holds the grant"));
        assert!(matches!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Verified { .. }));
    }

    async fn a_revocation_marked_done_but_still_granted_after_the_grace_period_fails(app: TestApp) {
        let r = reviewed_and_closed(&app).await;
        let task: i64 = app.count("select t.task_id from remediation_task t join review_item r on r.item_id = t.item_id where r.identity_name = 'AKIAEXAMPLE0001'").await;
        let refused = remediation::mark_done(&app.db, task, "  ", &r.olga, app::db::now()).await.expect("db").expect_err("a note is needed");
        assert_eq!(refused, "note: say what was done (a ticket, a change, a command)");
        let done = remediation::mark_done(&app.db, task, "CHG-1042: key deactivated", &r.olga, app::db::now()).await.expect("db").expect("done");
        assert_eq!((done.status, done.done_by.as_deref()), (RemediationStatus::Done, Some("Test olga")));

        // Re-imported the next day, still granted: within the 7-day grace period, nothing yet.
        reimport_without(&app, &[]).await;
        assert_eq!(task_status(&app, r.campaign, "AKIAEXAMPLE0001").await, "done");
        sqlx::query("update remediation_task set done_at = $1 where task_id = $2").bind(app::db::now() - 8 * DAY).bind(task).execute(&app.db.pool).await.expect("age");
        let summary = reimport_without(&app, &[]).await;
        assert_eq!(summary.remediation_failed, 1);
        assert_eq!(task_status(&app, r.campaign, "AKIAEXAMPLE0001").await, "failed");
        let failed = remediation::list(&app.db, &remediation::Filter { status: Some(RemediationStatus::Failed), ..Default::default() }, 10).await.expect("list");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].checked_by.as_deref(), Some("test"));

        // Carried out at last: the next import verifies it.
        reimport_without(&app, &["key-1,aws-prod,billing-export-writer"]).await;
        assert_eq!(task_status(&app, r.campaign, "AKIAEXAMPLE0001").await, "verified");
        let actions: Vec<String> = sqlx::query_scalar("select action from decision_log where action like 'remediation:%' order by seq").fetch_all(&app.db.pool).await.expect("log");
        assert_eq!(actions, ["remediation: done", "remediation: failed", "remediation: verified"]);
    }

    async fn an_expired_exception_comes_back_to_the_same_reviewer_in_a_follow_up_campaign(app: TestApp) {
        let r = reviewed_and_closed(&app).await;
        assert!(exceptions::follow_up_expired(&app.db, app::db::now()).await.expect("db").is_empty(), "not expired yet");
        let opened = exceptions::follow_up_expired(&app.db, app::db::now() + 31 * DAY).await.expect("db");
        assert_eq!(opened.len(), 1);
        let follow_up = opened[0];
        let items: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
            "select r.identity_name, r.entitlement, v.email, r.assigned_by from review_item r left join identity v on v.identity_id = r.reviewer_id where r.campaign_id = $1",
        )
        .bind(follow_up)
        .fetch_all(&app.db.pool)
        .await
        .expect("items");
        assert_eq!(
            items,
            [("Ben Lindqvist".to_string(), "ReadOnlyAccess".to_string(), Some("ada@example.com".to_string()), "follow-up: the exception Test ada granted expired".to_string())]
        );
        let campaign = repo::get(&app.db, follow_up).await.expect("db").expect("campaign");
        assert_eq!(campaign.name, "Follow-up: Q4 AWS production access (expired exceptions)");
        assert_eq!(campaign.created_by, r.olga.display_name, "the owner of the original campaign");
        assert!(exceptions::follow_up_expired(&app.db, app::db::now() + 32 * DAY).await.expect("db").is_empty(), "once only");
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let queue = repo::queue(&app.db, &ada, &Default::default(), 50).await.expect("queue");
        assert!(queue.items.iter().any(|i| i.campaign_id == follow_up && i.identity_name == "Ben Lindqvist"), "back in Ada's queue");
    }

    async fn the_owner_hears_of_expiring_exceptions_a_week_ahead_and_the_scheduler_opens_the_follow_up(app: TestApp) {
        use app::notifications::server::scheduler;
        reviewed_and_closed(&app).await;
        let now = app::db::now();
        let run = scheduler::run(&app.db, now + 24 * DAY).await.expect("scheduler");
        assert_eq!((run.exceptions, run.follow_ups.len()), (1, 0), "six days before the exception ends");
        let (recipient, subject): (String, String) =
            sqlx::query_as("select recipient, subject from outbox where kind = 'exceptions'").fetch_one(&app.db.pool).await.expect("mail");
        assert_eq!(recipient, "olga@example.com");
        assert_eq!(subject, "1 exception(s) in Q4 AWS production access expire within a week");
        assert_eq!(scheduler::run(&app.db, now + 24 * DAY + 3600).await.expect("scheduler").exceptions, 0, "once");
        let run = scheduler::run(&app.db, now + 31 * DAY).await.expect("scheduler");
        assert_eq!(run.follow_ups.len(), 1, "expired: back for review");
    }

    async fn an_export_matches_the_log_and_verify_finds_a_changed_byte_in_any_file(app: TestApp) {
        let r = reviewed_and_closed(&app).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let scope = export::scope_of(&app.db, &app::evidence::ExportRequest { campaign_id: Some(r.campaign), ..Default::default() }).await.expect("db").expect("scope");
        let record = export::write(&app.db, &scope, dir.path(), &export::Taker { name: "Audrey Auditor", subject: "sub-audrey" }, app::db::now()).await.expect("export");
        assert_eq!(record.item_rows, 5);

        let mut csv = csv::Reader::from_path(dir.path().join("decisions.csv")).expect("csv");
        let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 5);
        let column = |name: &str| export::CSV_HEADER.iter().position(|h| *h == name).expect("column");
        let justifications: Vec<&str> = rows.iter().map(|r| &r[column("Justification")]).filter(|j| !j.is_empty()).collect();
        for formula in ["'=cmd|' /C calc'!A0", "'@SUM(1+1) unused key", "'+audit support until the year closes"] {
            assert!(justifications.contains(&formula), "{formula} neutralised in {justifications:?}");
        }
        let revoked = rows.iter().find(|r| &r[column("Identity")] == "svc-legacy-etl").expect("row");
        assert_eq!((&revoked[column("Outcome")], &revoked[column("Approver")], &revoked[column("Remediation status")]), ("revoked", "Test ada", "open"));

        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("decisions.json")).expect("json")).expect("valid JSON");
        let logged = app.count(&format!("select count(*) from decision_log where campaign_id = {}", r.campaign)).await;
        assert_eq!(json["log"].as_array().expect("log").len() as i64, logged, "every entry of the campaign");
        assert_eq!(json["items"].as_array().expect("items").len(), 5);
        let report = std::fs::read_to_string(dir.path().join("report.html")).expect("report");
        assert!(report.contains("Revocations and remediation") && report.contains("svc-legacy-etl"), "the report lists the revocation");
        assert!(!report.contains("<script>alert"), "imported names are escaped in the report");

        let path = dir.path().to_str().expect("utf-8 path");
        let (ok, out, err) = crate::cli::attest(&app.url, &["verify", "--export", path]);
        assert!(ok, "{out}{err}");
        assert!(out.contains(&format!("export {} verified: 3 files and {logged} log entries match the manifest and this server's log", record.export_id)), "{out}");

        for file in ["decisions.csv", "decisions.json", "report.html", "manifest.json"] {
            let copy = copy_dir(dir.path());
            let target = copy.path().join(file);
            let mut bytes = std::fs::read(&target).expect("read");
            let at = bytes.len() / 2;
            bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
            std::fs::write(&target, bytes).expect("write");
            let (ok, _, err) = crate::cli::attest(&app.url, &["verify", "--export", copy.path().to_str().expect("utf-8"), "--offline"]);
            let (live_ok, _, live_err) = crate::cli::attest(&app.url, &["verify", "--export", copy.path().to_str().expect("utf-8")]);
            assert!(!live_ok, "{file}: a changed byte fails the live check");
            if file == "manifest.json" {
                assert!(live_err.contains("manifest.json"), "{file}: {live_err}");
            } else {
                assert!(!ok, "{file}: a changed byte fails the offline check");
                assert!(err.contains(&format!("{file}: changed")), "{file}: {err}");
            }
        }
        let recorded = app.count("select count(*) from evidence_export where created_by = 'Audrey Auditor'").await;
        assert_eq!(recorded, 1, "the export itself is recorded");
    }

    async fn an_auditor_takes_an_export_in_the_browser_and_downloads_its_files_but_a_reviewer_cannot(app: TestApp) {
        let r = reviewed_and_closed(&app).await;
        let auditor = app.session_as("audrey", &[Role::Auditor]).await;
        let cookie = format!("{}={auditor}", app::session::COOKIE);
        let request = Request::post("/api/create_export")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(format!("campaign={}&from=&to=", r.campaign)))
            .expect("request");
        let reply = app.request(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let record: app::evidence::ExportRecord = serde_json::from_str(&reply.body).expect("record");
        assert_eq!(record.created_by, "Test audrey");
        let get = |path: String, cookie: String| Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).expect("request");
        let csv = app.request(get(format!("/evidence/{}/decisions.csv", record.export_id), cookie.clone())).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.body.starts_with("Campaign ID,Campaign,"), "{}", csv.body);
        assert!(csv.headers.get(header::CONTENT_DISPOSITION).is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("attachment"))));
        let manifest = app.request(get(format!("/evidence/{}/manifest.json", record.export_id), cookie.clone())).await;
        let sha = record.files.iter().find(|f| f.name == "decisions.csv").expect("listed").sha256.clone();
        assert!(manifest.body.contains(&sha), "the manifest holds the CSV's hash");
        let other = app.request(get(format!("/evidence/{}/../attest.db", record.export_id), cookie.clone())).await;
        assert_ne!(other.status, StatusCode::OK, "only the export's own files");

        let reviewer = app.session_as("ada", &[Role::Reviewer]).await;
        let refused = app.request(get(format!("/evidence/{}/decisions.csv", record.export_id), format!("{}={reviewer}", app::session::COOKIE))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}
