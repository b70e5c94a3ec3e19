//! Sending the outbox: mails through an SMTP server (lettre), or as .eml files into a folder
//! when none is configured, and webhook deliveries as signed HTTP POSTs; the background loop
//! that runs the scheduler and sends what is due; and the unsubscribe page reminders link to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use app::db::Db;
use app::notifications::MailInfo;
use app::notifications::server::clock::Clock;
use app::notifications::server::outbox::{self, Queued};
use app::notifications::server::{compose, scheduler, webhooks};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

mod unsubscribe;

pub use unsubscribe::routes;

/// Where mails go without an SMTP server.
pub const DEFAULT_MAIL_DIR: &str = "data/outbox";
pub const DEFAULT_MAIL_FROM: &str = "attest <attest@localhost>";
/// Attempts before a mail is given up and shown as failed.
pub const MAX_ATTEMPTS: i64 = 5;
/// How long a worker holds a mail it is sending before another may take it.
const LEASE_SECS: i64 = 300;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends mails from the outbox.
pub struct Mailer {
    transport: Transport,
    description: String,
    from: Mailbox,
    public_url: String,
    /// Posts webhook deliveries; follows no redirects, so a delivery goes only where the admin said.
    http: reqwest::Client,
    pub max_attempts: i64,
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Mailer {
    /// `smtp_url`: `smtp://user:pass@host:587` (STARTTLS), `smtps://…:465` (TLS from the
    /// start), `smtp://host:25?tls=none` (no encryption, for a local relay). Without it, mails
    /// are written as .eml files into `dir`.
    pub fn new(smtp_url: Option<&str>, from: &str, public_url: &str, dir: &Path) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("ATTEST_MAIL_FROM `{from}`: {e}"))?;
        let (transport, description) = match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let (transport, description) = smtp_transport(url)?;
                (Transport::Smtp(transport), description)
            }
            None => (Transport::Files(dir.to_path_buf()), format!("files in {}", dir.display())),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("attest/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client for webhooks: {e}"))?;
        Ok(Mailer {
            transport,
            description,
            from,
            public_url: public_url.trim_end_matches('/').to_string(),
            http,
            max_attempts: MAX_ATTEMPTS,
        })
    }

    pub fn info(&self) -> MailInfo {
        MailInfo { transport: self.description.clone(), from: self.from.to_string(), public_url: self.public_url.clone() }
    }

    /// The message as it is sent. Its Message-ID is the outbox row's, so a mail sent twice
    /// after a crash is recognisably the same mail.
    pub fn message(&self, mail: &Queued) -> Result<Message, String> {
        let to: Mailbox = mail.recipient.parse().map_err(|e| format!("recipient `{}`: {e}", mail.recipient))?;
        let (html, text) = compose::render(&mail.subject, &mail.content, &self.public_url).map_err(|e| format!("template: {e}"))?;
        let domain = self.from.email.domain().to_string();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<attest.{}.{}.{}@{domain}>", mail.kind.as_str(), mail.outbox_id, mail.created_at)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| format!("message: {e}"))
    }

    /// Sends one mail; says where it went (`smtp` or the file), or why it did not.
    pub async fn deliver(&self, mail: &Queued) -> Result<String, String> {
        let message = self.message(mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| format!("SMTP: {e}"))?;
                Ok("smtp".to_string())
            }
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{:06}-{}.eml", mail.outbox_id, mail.kind.as_str()));
                tokio::fs::write(&path, message.formatted()).await.map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(path.display().to_string())
            }
        }
    }

    /// Posts one webhook delivery, signed at `now`; says how the receiver answered, or why it failed.
    pub async fn post(&self, hook: &webhooks::Due, now: i64) -> Result<String, String> {
        let answer = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(webhooks::EVENT_HEADER, &hook.event)
            .header(webhooks::DELIVERY_HEADER, hook.outbox_id.to_string())
            .header(webhooks::SIGNATURE_HEADER, webhooks::signature(&hook.secret, now, &hook.body))
            .body(hook.body.clone())
            .send()
            .await
            .map_err(|e| format!("POST {}: {}", hook.url, crate::error_chain(&e)))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(format!("HTTP {}", status.as_u16()));
        }
        let text: String = answer.text().await.unwrap_or_default().chars().take(200).collect();
        Err(format!("POST {}: HTTP {}{}", hook.url, status.as_u16(), if text.is_empty() { String::new() } else { format!(": {text}") }))
    }

    /// Sends what is due at `now`, mails and webhook deliveries; marks each sent, or schedules
    /// its next attempt, or gives it up after `max_attempts`.
    pub async fn send_due(&self, db: &Db, now: i64) -> Result<Delivery, app::db::DbError> {
        let mut done = Delivery::default();
        for mail in outbox::due(db, now, 100).await? {
            if !outbox::claim(db, mail.outbox_id, now, LEASE_SECS).await? {
                continue;
            }
            let sent = self.deliver(&mail).await;
            self.record(db, mail.outbox_id, mail.attempts + 1, now, sent, &mut done).await?;
        }
        for hook in webhooks::due(db, now, 100).await? {
            if !outbox::claim(db, hook.outbox_id, now, LEASE_SECS).await? {
                continue;
            }
            let sent = self.post(&hook, now).await;
            self.record(db, hook.outbox_id, hook.attempts + 1, now, sent, &mut done).await?;
        }
        Ok(done)
    }

    async fn record(
        &self,
        db: &Db,
        outbox_id: i64,
        attempts: i64,
        now: i64,
        sent: Result<String, String>,
        done: &mut Delivery,
    ) -> Result<(), app::db::DbError> {
        match sent {
            Ok(to) => {
                outbox::mark_sent(db, outbox_id, now, &to).await?;
                done.sent += 1;
            }
            Err(error) => {
                if outbox::mark_failed(db, outbox_id, now, attempts, &error, self.max_attempts).await? {
                    tracing::error!(outbox_id, attempts, %error, "delivery given up");
                    done.failed += 1;
                } else {
                    tracing::warn!(outbox_id, attempts, %error, "not delivered; trying again later");
                    done.retrying += 1;
                }
            }
        }
        Ok(())
    }
}

/// An SMTP transport from its URL, and how to describe it without the password.
fn smtp_transport(url: &str) -> Result<(AsyncSmtpTransport<Tokio1Executor>, String), String> {
    let bad = |why: &str| format!("ATTEST_SMTP_URL: {why} (expected smtp://user:password@host:587, smtps://… or smtp://host:25?tls=none)");
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?.to_string();
    let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
    let (builder, port, mode) = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None) => (AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| bad(&e.to_string()))?, 465, "TLS"),
        ("smtp", None | Some("starttls")) => {
            (AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(|e| bad(&e.to_string()))?, 587, "STARTTLS")
        }
        ("smtp", Some("none")) => (AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host), 25, "no encryption"),
        (_, Some(other)) => return Err(bad(&format!("unknown tls={other}; use tls=starttls or tls=none with smtp://"))),
        (scheme, None) => return Err(bad(&format!("unknown scheme {scheme}"))),
    };
    let port = parsed.port().unwrap_or(port);
    let mut builder = builder.port(port).timeout(Some(Duration::from_secs(15)));
    if !parsed.username().is_empty() {
        let user = percent_decode(parsed.username());
        let password = percent_decode(parsed.password().unwrap_or_default());
        builder = builder.credentials(Credentials::new(user, password));
    }
    Ok((builder.build(), format!("SMTP {host}:{port} ({mode})")))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How often the loop runs the scheduler and sends what is due.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub scheduler: Duration,
    pub worker: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals { scheduler: Duration::from_secs(300), worker: Duration::from_secs(10) }
    }
}

/// Runs the scheduler and the worker in the background for as long as the server runs.
/// Errors are logged here, once, and the loop goes on.
pub fn spawn(db: Db, mailer: Arc<Mailer>, clock: Arc<dyn Clock>, every: Intervals) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_run: Option<tokio::time::Instant> = None;
        loop {
            if last_run.is_none_or(|at| at.elapsed() >= every.scheduler) {
                last_run = Some(tokio::time::Instant::now());
                match scheduler::run(&db, clock.now()).await {
                    Ok(run) if run != scheduler::RunSummary::default() => tracing::info!(?run, "mail scheduler"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "mail scheduler failed"),
                }
            }
            match mailer.send_due(&db, clock.now()).await {
                Ok(done) if done != Delivery::default() => tracing::info!(?done, "outbox"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker failed"),
            }
            tokio::time::sleep(every.worker).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn smtp_urls_choose_starttls_implicit_tls_or_none() {
        let (_, d) = smtp_transport("smtp://user:p%40ss@mail.example.com").expect("starttls");
        assert_eq!(d, "SMTP mail.example.com:587 (STARTTLS)");
        let (_, d) = smtp_transport("smtps://user:pass@mail.example.com").expect("tls");
        assert_eq!(d, "SMTP mail.example.com:465 (TLS)");
        let (_, d) = smtp_transport("smtp://127.0.0.1:2525?tls=none").expect("none");
        assert_eq!(d, "SMTP 127.0.0.1:2525 (no encryption)");
        assert!(smtp_transport("http://mail.example.com").is_err());
        assert!(smtp_transport("smtp://mail.example.com?tls=maybe").is_err());
        assert_eq!(percent_decode("p%40ss%2"), "p@ss%2");
    }
}
