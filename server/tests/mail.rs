//! Mail against a real SMTP server (the npm `smtp-server`, started per test): launch notices,
//! reminders on a moved clock, escalation, a worker stopped between sending and marking, an
//! SMTP server that is down, escaping, missing addresses and closing at the deadline.

use std::path::Path;
use std::sync::Arc;

use app::campaigns::server::repo;
use app::campaigns::{Action, CampaignDraft, CampaignStatus, Decision};
use app::notifications::server::clock::{Clock, ManualClock};
use app::notifications::server::{outbox, scheduler};
use app::session::{CurrentUser, Role};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use server::mail::Mailer;

use crate::helpers::{TestApp, fixture};
use crate::on_both_databases;

const DAY: i64 = 86_400;

/// A real SMTP server that writes every mail it accepts, parsed, into a folder; stopped when
/// dropped.
struct Sink {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Received {
    envelope_to: Vec<String>,
    user: Option<String>,
    message_id: Option<String>,
    from: Option<String>,
    subject: String,
    text: String,
    html: String,
}

impl Sink {
    fn start() -> Sink {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/smtp/sink.mjs");
        let mut child = std::process::Command::new("node")
            .arg(&script)
            .args(["--port", "0", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs the SMTP sink (make test-tools installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("the sink says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected sink output {line:?}"));
        Sink { port, dir, child }
    }

    fn url(&self) -> String {
        format!("smtp://attest:secret@127.0.0.1:{}?tls=none", self.port)
    }

    /// Everything received so far, in order.
    fn mails(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("sink folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("a received mail")).collect()
    }

    fn to(&self, address: &str) -> Vec<Received> {
        self.mails().into_iter().filter(|m| m.envelope_to.iter().any(|t| t == address)).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mailer(smtp_url: &str, dir: &Path) -> Mailer {
    Mailer::new(Some(smtp_url), "attest <attest@example.com>", "http://attest.test", dir).expect("mailer")
}

/// A signed-in person; `who@example.com` is matched to the inventory identity with that email.
async fn person(app: &TestApp, who: &str, roles: &[Role]) -> CurrentUser {
    let token = app.session_as(who, roles).await;
    app::session::server::repo::lookup(&app.db, &token, Default::default()).await.expect("lookup").expect("signed in")
}

/// A campaign over AWS prod, owned by Olga, launched: Ada reviews four items, Fay (the
/// fallback) reviews Ada's own access.
async fn launched(app: &TestApp, rule: &str) -> (i64, app::campaigns::Campaign) {
    app.import(&fixture("campaign"), "hr").await.expect("imports");
    let olga = person(app, "olga", &[Role::CampaignOwner]).await;
    let draft = CampaignDraft {
        name: "Q4 AWS production access".into(),
        scope_query: if rule == "identity_owner" { String::new() } else { "app:\"AWS prod\"".into() },
        reviewer_rule: rule.into(),
        fallback_reviewer: "fay@example.com".into(),
        deadline: app::time_fmt::date(app::db::now() + 30 * DAY),
        deadline_action: "recommendation".into(),
        justification: "revoke".into(),
        high_risk: 70,
        max_exception_days: 90,
        ..Default::default()
    };
    let id = repo::create(&app.db, &draft, &olga).await.expect("db").expect("a valid draft");
    repo::launch(&app.db, id, &olga).await.expect("db").expect("launches");
    let campaign = repo::get(&app.db, id).await.expect("db").expect("campaign");
    (id, campaign)
}

/// The start of the day `offset` days from the deadline's day, plus an hour.
fn day(campaign: &app::campaigns::Campaign, offset: i64) -> i64 {
    campaign.deadline_at.div_euclid(DAY) * DAY + offset * DAY + 3600
}

async fn outbox_rows(app: &TestApp, kind: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("select recipient, status, slot from outbox where kind = $1 order by recipient, outbox_id")
        .bind(kind)
        .fetch_all(&app.db.pool)
        .await
        .expect("outbox")
}

async fn high_risk_of(app: &TestApp, campaign: i64, reviewer: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from review_item r join identity v on v.identity_id = r.reviewer_id where r.campaign_id = $1 and v.email = $2 and r.risk_score >= 70",
    )
    .bind(campaign)
    .bind(reviewer)
    .fetch_one(&app.db.pool)
    .await
    .expect("count")
}

on_both_databases! {
    async fn launching_a_campaign_mails_each_reviewer_once_with_their_counts_and_deadline(app: TestApp) {
        let sink = Sink::start();
        let (id, campaign) = launched(&app, "application_owner").await;
        let launch = outbox_rows(&app, "launch").await;
        assert_eq!(launch.iter().map(|(r, s, _)| (r.as_str(), s.as_str())).collect::<Vec<_>>(), [("ada@example.com", "pending"), ("fay@example.com", "pending")]);

        let files = tempfile::tempdir().expect("dir");
        let done = mailer(&sink.url(), files.path()).send_due(&app.db, app::db::now()).await.expect("sends");
        assert_eq!(done.sent, 2);
        assert_eq!(sink.mails().len(), 2, "one mail per reviewer");
        let ada = sink.to("ada@example.com").pop().expect("Ada's notice");
        assert_eq!(ada.subject, format!("Access review: 4 items for you in “Q4 AWS production access”, due {}", app::time_fmt::date(campaign.deadline_at)));
        assert!(ada.from.as_deref().is_some_and(|f| f.contains("attest@example.com")), "{:?}", ada.from);
        assert_eq!(ada.user.as_deref(), Some("attest"), "signed in to the SMTP server");
        assert!(ada.text.contains("Items for you: 4"), "{}", ada.text);
        assert!(ada.text.contains(&format!("High risk: {}", high_risk_of(&app, id, "ada@example.com").await)), "{}", ada.text);
        assert!(ada.text.contains(&format!("Deadline: {}", app::time_fmt::date(campaign.deadline_at))), "{}", ada.text);
        assert!(ada.text.contains("Open my reviews: http://attest.test/reviews"), "{}", ada.text);
        assert!(ada.html.contains("href=\"http://attest.test/reviews\""), "an HTML part with the link");
        assert!(!ada.html.contains("<img"), "no images");
        let fay = sink.to("fay@example.com").pop().expect("Fay's notice");
        assert!(fay.text.contains("Items for you: 1"), "{}", fay.text);
        assert_eq!(outbox_rows(&app, "launch").await.iter().filter(|(_, s, _)| s == "sent").count(), 2);
        // The mails were written with the launch: a second launch is refused and writes none.
        let olga = person(&app, "olga", &[Role::CampaignOwner]).await;
        assert!(repo::launch(&app.db, id, &olga).await.expect("db").is_err());
        assert_eq!(app.count("select count(*) from outbox").await, 2);
    }

    async fn reminders_go_at_the_scheduled_slots_only_to_reviewers_with_open_items_and_never_twice(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        let (id, campaign) = launched(&app, "application_owner").await;
        let clock = ManualClock::new(app::db::now());
        let worker = mailer(&sink.url(), files.path());
        worker.send_due(&app.db, clock.now()).await.expect("launch notices");

        clock.set(day(&campaign, -8));
        assert_eq!(scheduler::run(&app.db, clock.now()).await.expect("runs").reminders, 0, "8 days before: nothing due");
        clock.set(day(&campaign, -7));
        assert_eq!(scheduler::run(&app.db, clock.now()).await.expect("runs").reminders, 2, "7 days before: Ada and Fay");
        // Running again, as after a restart, writes nothing new.
        assert_eq!(scheduler::run(&app.db, clock.now()).await.expect("runs").reminders, 0);
        let restarted = app::db::Db::connect(&app.url).await.expect("reconnects");
        clock.set(day(&campaign, -5));
        assert_eq!(scheduler::run(&restarted, clock.now()).await.expect("runs").reminders, 0, "no new slot between 7 and 3 days before");
        worker.send_due(&app.db, clock.now()).await.expect("sends");
        let ada = sink.to("ada@example.com");
        assert_eq!(ada.len(), 2, "launch notice and one reminder");
        assert_eq!(ada[1].subject, "Reminder: 4 access review items wait for you");
        assert!(ada[1].text.contains("- Q4 AWS production access · Open: 4 · High risk: "), "{}", ada[1].text);
        assert!(ada[1].text.contains("Unsubscribe from reminders: http://attest.test/unsubscribe/"), "{}", ada[1].text);

        // Ada decides everything; at 3 days before only Fay is reminded.
        let ada_user = person(&app, "ada", &[Role::Reviewer]).await;
        let queue = repo::queue(&app.db, &ada_user, &Default::default(), 50).await.expect("queue");
        for item in &queue.items {
            let request = repo::Request { item_id: item.item_id, version: item.version, action: Action::Decide(Decision::Approve), justification: "needed", until: "", bulk: false };
            repo::decide(&app.db, &ada_user, &request).await.expect("db").expect("decided");
        }
        clock.set(day(&campaign, -3));
        assert_eq!(scheduler::run(&app.db, clock.now()).await.expect("runs").reminders, 1);
        clock.set(day(&campaign, -1));
        scheduler::run(&app.db, clock.now()).await.expect("runs");
        // Overdue: daily.
        clock.set(day(&campaign, 1));
        scheduler::run(&app.db, clock.now()).await.expect("runs");
        clock.set(day(&campaign, 1) + 7200);
        scheduler::run(&app.db, clock.now()).await.expect("runs");
        clock.set(day(&campaign, 2));
        scheduler::run(&app.db, clock.now()).await.expect("runs");
        worker.send_due(&app.db, clock.now()).await.expect("sends");
        assert_eq!(sink.to("ada@example.com").len(), 2, "nothing more for Ada");
        let fay: Vec<String> = sink.to("fay@example.com").into_iter().map(|m| m.subject).collect();
        assert_eq!(fay.len(), 6, "launch, 7, 3 and 1 days before, and two overdue days: {fay:?}");
        assert_eq!(fay[5], "Overdue: 1 access review item waits for you");
        let slots: i64 = app.count(&format!("select count(*) from reminder where campaign_id = {id}")).await;
        assert_eq!(slots, 6, "each reminder records the slot it covered");
    }

    async fn a_reviewer_who_unsubscribes_gets_no_more_reminders_and_the_owner_sees_it(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        let (id, campaign) = launched(&app, "application_owner").await;
        let worker = mailer(&sink.url(), files.path());
        scheduler::run(&app.db, day(&campaign, -7)).await.expect("runs");
        worker.send_due(&app.db, day(&campaign, -7)).await.expect("sends");
        let reminder = sink.to("ada@example.com").into_iter().find(|m| m.subject.starts_with("Reminder")).expect("a reminder");
        let link = reminder.text.lines().find_map(|l| l.strip_prefix("Unsubscribe from reminders: http://attest.test")).expect("a link").trim().to_string();

        let page = app.request(Request::get(&link).body(Body::empty()).expect("request")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Stop reminder mails to <strong>ada@example.com</strong>?"), "opening the link changes nothing: {}", page.body);
        let done = app.request(Request::post(&link).body(Body::empty()).expect("request")).await;
        assert!(done.body.contains("ada@example.com gets no more reminders."), "{}", done.body);

        scheduler::run(&app.db, day(&campaign, -3)).await.expect("runs");
        worker.send_due(&app.db, day(&campaign, -3)).await.expect("sends");
        assert_eq!(sink.to("ada@example.com").iter().filter(|m| m.subject.starts_with("Reminder")).count(), 1);
        assert_eq!(sink.to("fay@example.com").iter().filter(|m| m.subject.starts_with("Reminder")).count(), 2);
        let shown = app::notifications::server::outbox::campaign_mail(&app.db, id, app::db::now()).await.expect("campaign mail");
        assert_eq!(shown.unsubscribed.iter().map(|(n, e, _)| (n.as_str(), e.as_str())).collect::<Vec<_>>(), [("Ada Okafor", "ada@example.com")]);
        let page = app.get(&format!("/campaigns/{id}")).await;
        assert!(page.body.contains("Ada Okafor (ada@example.com)"), "the campaign page names who unsubscribed");
    }

    async fn overdue_reviewers_are_escalated_to_their_manager_and_the_campaign_owner_once(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        let (_, campaign) = launched(&app, "application_owner").await;
        // Fay's manager, as the inventory says, is Sid.
        sqlx::query("update identity set manager_identity_id = (select identity_id from identity where email = 'sid@example.com') where email = 'fay@example.com'")
            .execute(&app.db.pool)
            .await
            .expect("manager");
        let worker = mailer(&sink.url(), files.path());
        assert_eq!(scheduler::run(&app.db, day(&campaign, 2)).await.expect("runs").escalations, 0, "2 days overdue: not yet");
        assert_eq!(scheduler::run(&app.db, day(&campaign, 3)).await.expect("runs").escalations, 2, "3 days overdue: owner and manager");
        assert_eq!(scheduler::run(&app.db, day(&campaign, 4)).await.expect("runs").escalations, 0, "once per stage");
        worker.send_due(&app.db, day(&campaign, 4)).await.expect("sends");

        let olga: Vec<Received> = sink.to("olga@example.com").into_iter().filter(|m| m.subject.starts_with("Escalation")).collect();
        assert_eq!(olga.len(), 1, "{olga:?}");
        assert!(olga[0].subject.starts_with("Escalation: “Q4 AWS production access” is 3 days overdue, 2 reviewers stalled"), "{}", olga[0].subject);
        assert!(olga[0].text.contains("Ada Okafor: 4 open"), "{}", olga[0].text);
        assert!(olga[0].text.contains("(manager: no manager on file)"), "{}", olga[0].text);
        assert!(olga[0].text.contains("Fay Fallback: 1 open, 1 high risk (manager: Sid Second)") || olga[0].text.contains("Fay Fallback: 1 open, 0 high risk (manager: Sid Second)"), "{}", olga[0].text);
        let sid = sink.to("sid@example.com");
        assert_eq!(sid.len(), 1);
        assert!(sid[0].text.contains("Fay Fallback") && !sid[0].text.contains("Ada Okafor:"), "only his report: {}", sid[0].text);
        assert!(sid[0].text.contains("AdministratorAccess"), "the stalled items: {}", sid[0].text);
        assert!(sink.to("ada@example.com").iter().all(|m| !m.subject.starts_with("Escalation")));
    }

    async fn a_worker_stopped_between_sending_and_marking_loses_nothing_and_repeats_one_mail_at_most(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        launched(&app, "application_owner").await;
        let now = app::db::now();
        let first = mailer(&sink.url(), files.path());
        // The worker takes the first mail and sends it, then stops before marking it sent.
        let due = outbox::due(&app.db, now, 10).await.expect("due");
        assert_eq!(due.len(), 2);
        assert!(outbox::claim(&app.db, due[0].outbox_id, now, 300).await.expect("claim"));
        first.deliver(&due[0]).await.expect("sent");
        drop(first);

        // A new worker right away leaves the taken mail alone and sends the other.
        let second = mailer(&sink.url(), files.path());
        assert_eq!(second.send_due(&app.db, now + 1).await.expect("sends").sent, 1);
        // After the lease, the taken mail is sent again: once.
        assert_eq!(second.send_due(&app.db, now + 301).await.expect("sends").sent, 1);
        assert_eq!(second.send_due(&app.db, now + 3600).await.expect("sends").sent, 0);
        let mails = sink.mails();
        assert_eq!(mails.len(), 3, "two mails, one of them twice");
        let repeated = sink.to(&due[0].recipient);
        assert_eq!(repeated.len(), 2);
        assert_eq!(repeated[0].message_id, repeated[1].message_id, "recognisably the same mail");
        assert_eq!(sink.to(&due[1].recipient).len(), 1);
        assert_eq!(app.count("select count(*) from outbox where status = 'sent'").await, 2, "nothing lost");
    }

    async fn when_the_smtp_server_is_down_mail_is_retried_with_backoff_then_shown_as_failed(app: TestApp) {
        let files = tempfile::tempdir().expect("dir");
        launched(&app, "application_owner").await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let down = mailer(&format!("smtp://127.0.0.1:{closed}?tls=none"), files.path());
        let mut now = app::db::now();
        let mut waits = Vec::new();
        for _ in 0..5 {
            let done = down.send_due(&app.db, now).await.expect("runs");
            assert_eq!(done.sent, 0);
            let next: i64 = app.count("select min(next_attempt_at) from outbox").await;
            waits.push(next - now);
            // Nothing is tried again before its time.
            assert_eq!(down.send_due(&app.db, next - 1).await.expect("runs"), server::mail::Delivery::default());
            now = next;
        }
        assert_eq!(&waits[..4], [60, 120, 240, 480], "the pause doubles");
        let failed: Vec<(String, i64, Option<String>)> = sqlx::query_as("select status, attempts, last_error from outbox order by outbox_id").fetch_all(&app.db.pool).await.expect("rows");
        for (status, attempts, error) in &failed {
            assert_eq!((status.as_str(), *attempts), ("failed", 5));
            assert!(error.as_deref().is_some_and(|e| e.starts_with("SMTP:")), "{error:?}");
        }
        let page = app.get("/admin/outbox").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("failed after 5 attempts"), "the Outbox page shows the failure");
        assert!(page.body.contains("SMTP:"), "and why");
        assert!(page.body.contains("0 sent · 0 waiting · 2 failed"), "and the counts");
    }

    async fn a_display_name_with_markup_arrives_escaped_in_the_html_part(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        // The bot `<script>alert('x')</script>` is reviewed by Fay, the fallback.
        let (id, _) = launched(&app, "identity_owner").await;
        scheduler::remind_now(&app.db, id, app::db::now()).await.expect("reminds");
        mailer(&sink.url(), files.path()).send_due(&app.db, app::db::now()).await.expect("sends");
        let fay = sink.to("fay@example.com").into_iter().find(|m| m.subject.starts_with("Reminder")).expect("Fay's reminder");
        assert!(fay.html.contains("&#60;script&#62;alert("), "{}", fay.html);
        assert!(!fay.html.contains("<script"), "no markup from imported data: {}", fay.html);
        assert!(fay.text.contains("<script>alert('x')</script>"), "the plain-text part carries the name as text");
    }

    async fn a_reviewer_without_a_usable_address_is_reported_to_the_campaign_owner(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        let (id, _) = launched(&app, "application_owner").await;
        sqlx::query("update identity set email = 'fay at example' where email = 'fay@example.com'").execute(&app.db.pool).await.expect("bad address");
        scheduler::remind_now(&app.db, id, app::db::now()).await.expect("reminds");
        mailer(&sink.url(), files.path()).send_due(&app.db, app::db::now()).await.expect("sends");
        let failed = outbox_rows(&app, "reminder").await;
        assert!(failed.iter().any(|(r, s, _)| r == "no address: Fay Fallback" && s == "failed"), "{failed:?}");
        let olga = sink.to("olga@example.com");
        assert_eq!(olga.len(), 1, "{olga:?}");
        assert_eq!(olga[0].subject, "No address for Fay Fallback in “Q4 AWS production access”");
        assert!(olga[0].text.contains("`fay at example`, is not a valid address"), "{}", olga[0].text);
        let shown = outbox::campaign_mail(&app.db, id, app::db::now()).await.expect("campaign mail");
        assert!(shown.failed.iter().any(|f| f.recipient == "no address: Fay Fallback"), "visible on the campaign page");
    }

    async fn the_scheduler_closes_a_stage_still_open_after_the_deadline_in_the_owners_name(app: TestApp) {
        let (id, campaign) = launched(&app, "application_owner").await;
        let clock = Arc::new(ManualClock::new(campaign.deadline_at + 6 * DAY));
        assert!(scheduler::run(&app.db, clock.now()).await.expect("runs").closed.is_empty(), "within the 7 days' grace");
        clock.advance(DAY + 1);
        assert_eq!(scheduler::run(&app.db, clock.now()).await.expect("runs").closed, [id]);
        let closed = repo::get(&app.db, id).await.expect("db").expect("campaign");
        assert_eq!(closed.status, CampaignStatus::Closed);
        let (approver, note): (String, Option<String>) = sqlx::query_as("select approver, justification from decision_log where campaign_id = $1 and action = 'close'")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the closing entry");
        assert_eq!(approver, "Test olga", "a person, the owner who set the rule");
        assert!(note.as_deref().is_some_and(|n| n.contains("at the deadline")), "{note:?}");
        assert_eq!(app.count(&format!("select count(*) from review_item where campaign_id = {id} and outcome is null")).await, 0, "the deadline rule settled every item");
        assert!(scheduler::run(&app.db, clock.now()).await.expect("runs").closed.is_empty(), "closed once");
    }

    async fn with_no_grace_the_stage_closes_right_at_the_deadline(app: TestApp) {
        let (id, campaign) = launched(&app, "application_owner").await;
        assert!(outbox::set_schedule(&app.db, id, "7,3,1", 0, 0).await.expect("db"));
        assert!(scheduler::run(&app.db, campaign.deadline_at).await.expect("runs").closed.is_empty());
        assert_eq!(scheduler::run(&app.db, campaign.deadline_at + 1).await.expect("runs").closed, [id]);
    }

    async fn without_smtp_mails_are_written_as_eml_files_and_listed_on_the_outbox_page(app: TestApp) {
        let files = tempfile::tempdir().expect("dir");
        launched(&app, "application_owner").await;
        let worker = Mailer::new(None, "attest <attest@example.com>", "http://attest.test", files.path()).expect("mailer");
        assert_eq!(worker.info().transport, format!("files in {}", files.path().display()));
        assert_eq!(worker.send_due(&app.db, app::db::now()).await.expect("writes").sent, 2);
        let mut written: Vec<String> = std::fs::read_dir(files.path()).expect("dir").filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        written.sort();
        assert_eq!(written.len(), 2);
        assert!(written.iter().all(|n| n.ends_with("-launch.eml")), "{written:?}");
        let eml = std::fs::read_to_string(files.path().join(&written[0])).expect("read");
        assert!(eml.contains("Content-Type: multipart/alternative"), "both parts");
        let page = app.get("/admin/outbox").await;
        assert!(page.body.contains("2 sent · 0 waiting · 0 failed"), "listed");
        assert!(page.body.contains("-launch.eml"), "with its file");
    }

    async fn an_admin_sends_a_test_mail_from_the_settings_page(app: TestApp) {
        let sink = Sink::start();
        let files = tempfile::tempdir().expect("dir");
        let token = app.session().await;
        let request = Request::post("/api/send_test_mail")
            .header(header::COOKIE, format!("{}={token}", app::session::COOKIE))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("to=it%40example.com"))
            .expect("request");
        let reply = app.request(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        mailer(&sink.url(), files.path()).send_due(&app.db, app::db::now()).await.expect("sends");
        let got = sink.to("it@example.com");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].subject, "attest test mail");
        assert!(got[0].text.contains("Test admin sent this test mail"), "{}", got[0].text);
        let page = app.get("/admin/mail").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Send a test mail"));
    }
}
