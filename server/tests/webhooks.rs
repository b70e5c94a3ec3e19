//! Webhooks against a real HTTP receiver (an axum server on a free port): remediation events
//! posted signed, retried when the receiver fails, and never sent to a disabled receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use app::evidence::server::remediation;
use app::notifications::server::webhooks;
use app::session::Role;
use axum::http::{HeaderMap, StatusCode};
use server::mail::Mailer;

use crate::evidence::{person, reimport_without, reviewed_and_closed};
use crate::on_both_databases;

/// What the receiver got: headers and body of each POST.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A real HTTP server that answers each POST with the next status in its script (204 once
/// the script is used up) and keeps what it received.
struct Receiver {
    url: String,
    got: Received,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let got: Received = Arc::default();
        let answers = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<u16>>()));
        let (keep, next) = (got.clone(), answers.clone());
        let router = axum::Router::new().route(
            "/hooks/attest",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (keep, next) = (keep.clone(), next.clone());
                async move {
                    keep.lock().expect("lock").push((headers, body));
                    let code = next.lock().expect("lock").pop_front().unwrap_or(204);
                    (StatusCode::from_u16(code).expect("status"), if code >= 400 { "receiver down" } else { "" })
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks/attest", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url, got, answers }
    }

    fn events(&self) -> Vec<(String, serde_json::Value)> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(h, body)| {
                let event = h.get(webhooks::EVENT_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                (event, serde_json::from_str(body).expect("JSON body"))
            })
            .collect()
    }
}

fn worker() -> (Mailer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (Mailer::new(None, "attest <attest@example.com>", "http://attest.test", dir.path()).expect("mailer"), dir)
}

/// Recomputes the signature the way a receiver does and says whether it matches.
fn signed_with(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let Some(header) = headers.get(webhooks::SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else { return false };
    let Some(t) = header.strip_prefix("t=").and_then(|rest| rest.split(',').next()).and_then(|t| t.parse::<i64>().ok()) else {
        return false;
    };
    webhooks::signature(secret, t, body) == header
}

on_both_databases! {
    async fn every_change_to_a_remediation_task_is_posted_signed_to_the_webhook(app: TestApp) {
        let receiver = Receiver::start(&[]).await;
        let admin = person(&app, "root", &[Role::Admin]).await;
        let (hook, secret) = webhooks::create(&app.db, &receiver.url, "tickets", &admin, app::db::now()).await.expect("created");
        assert!(secret.starts_with("whsec_") && secret.len() > 40);
        assert_eq!(hook.url, receiver.url);

        let r = reviewed_and_closed(&app).await;
        let (mailer, _dir) = worker();
        mailer.send_due(&app.db, app::db::now()).await.expect("sends");
        let opened = receiver.events();
        assert_eq!(opened.len(), 2, "one delivery per opened task");
        assert!(opened.iter().all(|(event, _)| event == "remediation.opened"), "{opened:?}");
        let identities: Vec<&str> = opened.iter().filter_map(|(_, b)| b["task"]["identity"].as_str()).collect();
        assert!(identities.contains(&"svc-legacy-etl") && identities.contains(&"AKIAEXAMPLE0001"), "{identities:?}");
        assert_eq!(opened[0].1["task"]["status"], "open");
        assert_eq!(opened[0].1["task"]["campaign"], "Q4 AWS production access");
        for (headers, body) in receiver.got.lock().expect("lock").iter() {
            assert!(signed_with(&secret, headers, body), "every delivery carries a valid signature");
            assert!(!signed_with("whsec_wrong", headers, body), "a wrong secret does not verify");
            assert!(headers.get(webhooks::DELIVERY_HEADER).is_some());
        }

        // Marked done, then the next import shows the key's grant gone: two more events.
        let key: i64 = app.count("select t.task_id from remediation_task t join review_item r on r.item_id = t.item_id where r.identity_name = 'AKIAEXAMPLE0001'").await;
        remediation::mark_done(&app.db, key, "CHG-1042: key deactivated", &r.olga, app::db::now()).await.expect("db").expect("done");
        reimport_without(&app, &["key-1,aws-prod,billing-export-writer"]).await;
        mailer.send_due(&app.db, app::db::now()).await.expect("sends");
        let events: Vec<(String, String)> = receiver.events()[2..]
            .iter()
            .map(|(e, b)| (e.clone(), b["task"]["done_note"].as_str().unwrap_or_default().to_string()))
            .collect();
        assert_eq!(
            events,
            [
                ("remediation.done".to_string(), "CHG-1042: key deactivated".to_string()),
                ("remediation.verified".to_string(), "CHG-1042: key deactivated".to_string()),
            ]
        );
        assert_eq!(receiver.events()[3].1["task"]["checked_by"], "test", "the verification names the import's runner");
    }

    async fn a_receiver_that_fails_gets_the_same_delivery_again_and_after_five_attempts_it_shows_as_failed(app: TestApp) {
        let receiver = Receiver::start(&[500, 503]).await;
        let admin = person(&app, "root", &[Role::Admin]).await;
        let (hook, _) = webhooks::create(&app.db, &receiver.url, "", &admin, app::db::now()).await.expect("created");
        assert!(webhooks::ping(&app.db, hook.webhook_id, &admin, app::db::now()).await.expect("ping"));
        let (mailer, _dir) = worker();
        let mut now = app::db::now();
        assert_eq!(mailer.send_due(&app.db, now).await.expect("sends").retrying, 1);
        assert_eq!(mailer.send_due(&app.db, now + 30).await.expect("sends").retrying, 0, "not before the pause");
        now += 60;
        assert_eq!(mailer.send_due(&app.db, now).await.expect("sends").retrying, 1);
        now += 120;
        assert_eq!(mailer.send_due(&app.db, now).await.expect("sends").sent, 1, "the third attempt is answered 204");
        let deliveries: Vec<String> = receiver
            .got
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(h, _)| h.get(webhooks::DELIVERY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string))
            .collect();
        assert_eq!(deliveries.len(), 3);
        assert!(deliveries.iter().all(|d| d == &deliveries[0]), "the same delivery id on every attempt: {deliveries:?}");
        assert_eq!(receiver.events()[0].1["sent_by"], "Test root");

        // A receiver that never recovers: given up after five attempts, with its answer shown.
        receiver.answers.lock().expect("lock").extend([500; 5]);
        assert!(webhooks::ping(&app.db, hook.webhook_id, &admin, now + 1).await.expect("ping"));
        for attempt in 0..5 {
            now += 3600;
            let done = mailer.send_due(&app.db, now).await.expect("sends");
            assert_eq!(done.failed, usize::from(attempt == 4), "attempt {attempt}");
        }
        let page = app::notifications::server::outbox::page(&app.db, 10, "files", now).await.expect("outbox");
        let failed = page.rows.iter().find(|r| r.status == app::notifications::MailStatus::Failed).expect("a failed delivery");
        assert_eq!(failed.kind, app::notifications::MailKind::Webhook);
        assert_eq!(failed.attempts, 5);
        let error = failed.last_error.clone().unwrap_or_default();
        assert!(error.contains("HTTP 500: receiver down"), "{error}");
        let listed = webhooks::list(&app.db).await.expect("list");
        assert_eq!((listed[0].sent, listed[0].failed), (1, 1));
    }

    async fn a_disabled_webhook_receives_nothing_more(app: TestApp) {
        let receiver = Receiver::start(&[]).await;
        let admin = person(&app, "root", &[Role::Admin]).await;
        let (hook, _) = webhooks::create(&app.db, &receiver.url, "old tickets", &admin, app::db::now()).await.expect("created");
        reviewed_and_closed(&app).await;
        assert!(webhooks::disable(&app.db, hook.webhook_id, &admin, app::db::now()).await.expect("disable"));
        assert!(!webhooks::disable(&app.db, hook.webhook_id, &admin, app::db::now()).await.expect("disable"), "once");
        let (mailer, _dir) = worker();
        mailer.send_due(&app.db, app::db::now()).await.expect("sends launch notices");
        assert!(receiver.events().is_empty(), "nothing reaches a disabled webhook");
        let listed = webhooks::list(&app.db).await.expect("list");
        assert_eq!(listed[0].failed, 2, "the deliveries that were waiting are shown failed");
        assert_eq!(listed[0].disabled_by.as_deref(), Some("Test root"));
        assert!(!webhooks::ping(&app.db, hook.webhook_id, &admin, app::db::now()).await.expect("ping"));
        let retried = app::notifications::server::outbox::retry(&app.db, app.count("select min(outbox_id) from outbox where kind = 'webhook'").await, app::db::now()).await.expect("retry");
        assert!(!retried, "a delivery to a disabled webhook cannot be sent again");
    }
}
