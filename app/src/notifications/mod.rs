//! Mail (launch notices, reminder digests, escalations, weekly summaries) and webhooks
//! (remediation events posted as signed JSON). Each mail or delivery is a row of the outbox,
//! written in the same transaction as the change it tells about; the server's worker sends it.
//! Admins see every mail and delivery and its fate on the Outbox page.

use serde::{Deserialize, Serialize};

use crate::identities::text_enum;

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
pub mod ui;

text_enum!(
    /// Why a mail is sent.
    MailKind, "mail kind" {
        Launch => "launch", "launch notice";
        Reminder => "reminder", "reminder";
        Escalation => "escalation", "escalation";
        Summary => "summary", "weekly summary";
        Undeliverable => "undeliverable", "no address";
        Test => "test", "test mail";
        Exceptions => "exceptions", "exceptions expiring";
        Webhook => "webhook", "webhook";
    }
);

text_enum!(
    /// Where a mail stands.
    MailStatus, "mail status" {
        Pending => "pending", "waiting";
        Sent => "sent", "sent";
        Failed => "failed", "failed";
    }
);

/// What a mail says, kept with its outbox row and rendered into an HTML and a plain-text part
/// when it is sent. Everything here is text; the templates escape it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailContent {
    /// "Hello Ada Okafor,"
    pub greeting: String,
    pub lead: String,
    /// Label and value, e.g. ("Deadline", "2026-12-31").
    pub facts: Vec<(String, String)>,
    pub table: Option<MailTable>,
    pub paragraphs: Vec<String>,
    /// The button: its label and the attest path it opens, e.g. ("Open my reviews", "/reviews").
    pub action: Option<(String, String)>,
    /// The unsubscribe-from-reminders token of the recipient, on reminders.
    pub unsubscribe: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailTable {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl MailTable {
    /// The rows for the plain-text part: the first cell, then every other cell with its heading.
    pub fn text_rows(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, cell)| match self.head.get(i) {
                        Some(head) if i > 0 => format!("{head}: {cell}"),
                        _ => cell.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .collect()
    }
}

/// One mail as the Outbox page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub outbox_id: i64,
    pub kind: MailKind,
    pub recipient: String,
    pub campaign_id: i64,
    pub campaign: Option<String>,
    pub slot: String,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub delivered_to: Option<String>,
    pub created_at: i64,
}

/// The Outbox page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxPage {
    pub rows: Vec<OutboxRow>,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    /// Where mail goes: the SMTP server, or the folder of .eml files.
    pub transport: String,
    pub now: i64,
}

/// How mail is configured, as the server says at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailInfo {
    /// "SMTP smtp.example.com:587 (STARTTLS)" or "files in data/outbox".
    pub transport: String,
    pub from: String,
    /// Where links in mails point, e.g. https://attest.example.com.
    pub public_url: String,
}

/// Mail about one campaign, for its page: what was sent, what could not be, who opted out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMail {
    pub sent: i64,
    pub pending: i64,
    pub failed: Vec<OutboxRow>,
    /// Reviewers of this campaign who asked for no more reminders: (name, email, since).
    pub unsubscribed: Vec<(String, String, i64)>,
    pub reminder_days: String,
    pub escalate_after_days: i64,
    pub close_after_days: i64,
    pub now: i64,
}

text_enum!(
    /// What a webhook delivery tells of.
    WebhookEvent, "webhook event" {
        Opened => "remediation.opened", "task opened";
        Done => "remediation.done", "task done";
        Verified => "remediation.verified", "task verified";
        Failed => "remediation.failed", "task failed";
        Ping => "ping", "test event";
    }
);

/// A receiver of webhook deliveries, as the Webhooks page lists it. Its secret is not here:
/// it is shown once, when the receiver is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub webhook_id: i64,
    pub url: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
    pub disabled_by: Option<String>,
    pub disabled_at: Option<i64>,
    pub sent: i64,
    pub pending: i64,
    pub failed: i64,
    pub last_sent_at: Option<i64>,
}

/// A receiver just added, with its signing secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub webhook: Webhook,
    pub secret: String,
}

/// The Webhooks page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksPage {
    pub webhooks: Vec<Webhook>,
    pub now: i64,
}
