use leptos::prelude::*;

use crate::error::AppError;
use crate::notifications::{CampaignMail, MailInfo, NewWebhook, OutboxPage, WebhooksPage};
#[cfg(feature = "ssr")]
use crate::session::Permission;

/// The latest mails with their fate, failed ones first.
#[server(endpoint = "outbox")]
pub async fn outbox() -> Result<OutboxPage, AppError> {
    crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    Ok(crate::notifications::server::outbox::page(&state.db, 300, &state.mail.transport, crate::db::now()).await?)
}

/// Sends a mail that failed again from its first attempt.
#[server(endpoint = "retry_mail")]
pub async fn retry_mail(outbox_id: i64) -> Result<(), AppError> {
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    if !crate::notifications::server::outbox::retry(&state.db, outbox_id, crate::db::now()).await? {
        return Err(AppError::Validation("only a failed mail with an address can be sent again".into()));
    }
    tracing::info!(user = %admin.display_name, outbox_id, "mail queued again");
    Ok(())
}

/// How mail is configured.
#[server(endpoint = "mail_settings")]
pub async fn mail_settings() -> Result<MailInfo, AppError> {
    crate::session::server::require(Permission::ManageAccess).await?;
    Ok(crate::state::app_state()?.mail)
}

/// Queues a test mail to `to`; the worker sends it within seconds.
#[server(endpoint = "send_test_mail")]
pub async fn send_test_mail(to: String) -> Result<String, AppError> {
    use crate::notifications::server::outbox::{self, NewMail};
    use crate::notifications::{MailContent, MailKind};
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let to = to.trim().to_string();
    if !outbox::valid_address(&to) {
        return Err(AppError::Validation(format!("`{to}` is not an email address")));
    }
    let state = crate::state::app_state()?;
    let now = crate::db::now();
    let content = MailContent {
        greeting: "Hello,".into(),
        lead: format!("{} sent this test mail from attest's mail settings. If you read it, mail from attest arrives.", admin.display_name),
        facts: vec![("Sent through".into(), state.mail.transport.clone()), ("From".into(), state.mail.from.clone())],
        action: Some(("Open attest".into(), "/".into())),
        ..Default::default()
    };
    let slot = format!("{now}-{}", admin.app_user_id);
    let mail =
        NewMail { kind: MailKind::Test, recipient: &to, campaign_id: 0, slot: &slot, subject: "attest test mail", content: &content };
    let mut tx = state.db.pool.begin().await.map_err(crate::db::DbError::from)?;
    outbox::enqueue(&mut tx, &mail, now).await?;
    tx.commit().await.map_err(crate::db::DbError::from)?;
    tracing::info!(user = %admin.display_name, "test mail queued");
    Ok(format!("A test mail to {to} is on its way; the Outbox page shows when it was sent."))
}

/// Mail about one campaign: sent, failed, who unsubscribed from reminders, the schedule.
#[server(endpoint = "get_campaign_mail")]
pub async fn get_campaign_mail(campaign_id: i64) -> Result<CampaignMail, AppError> {
    crate::session::server::require(Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::notifications::server::outbox::campaign_mail(&state.db, campaign_id, crate::db::now()).await?)
}

/// Sends every reviewer with undecided items in the campaign their digest now (one a day).
#[server(endpoint = "remind_reviewers")]
pub async fn remind_reviewers(campaign_id: i64) -> Result<String, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let n = crate::notifications::server::scheduler::remind_now(&state.db, campaign_id, crate::db::now()).await?;
    tracing::info!(user = %user.display_name, campaign = campaign_id, reminders = n, "reviewers reminded");
    Ok(match n {
        0 => "Nobody new to remind: reviewers with open items were reminded today already, or everything is decided.".into(),
        1 => "1 reviewer reminded.".into(),
        n => format!("{n} reviewers reminded."),
    })
}

/// When reminders go, when escalation starts and when the scheduler closes what is left open.
#[server(endpoint = "set_mail_schedule")]
pub async fn set_mail_schedule(
    campaign_id: i64,
    reminder_days: String,
    escalate_after_days: i64,
    close_after_days: i64,
) -> Result<(), AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let days =
        crate::notifications::server::scheduler::parse_days(&reminder_days).map_err(|e| AppError::Validation(format!("reminders: {e}")))?;
    if !(0..=90).contains(&escalate_after_days) || !(0..=90).contains(&close_after_days) {
        return Err(AppError::Validation("escalation and closing: 0 to 90 days after the deadline".into()));
    }
    let state = crate::state::app_state()?;
    let text = days.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let changed =
        crate::notifications::server::outbox::set_schedule(&state.db, campaign_id, &text, escalate_after_days, close_after_days).await?;
    if !changed {
        return Err(AppError::Validation("only a campaign that is not closed has a schedule to change".into()));
    }
    tracing::info!(user = %user.display_name, campaign = campaign_id, reminders = %text, escalate_after_days, close_after_days, "mail schedule changed");
    Ok(())
}

/// The receivers of remediation events.
#[server(endpoint = "admin_webhooks")]
pub async fn admin_webhooks() -> Result<WebhooksPage, AppError> {
    crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    Ok(WebhooksPage { webhooks: crate::notifications::server::webhooks::list(&state.db).await?, now: crate::db::now() })
}

/// Adds a receiver; the answer holds its signing secret, shown once.
#[server(endpoint = "admin_create_webhook")]
pub async fn admin_create_webhook(url: String, description: String) -> Result<NewWebhook, AppError> {
    use crate::notifications::server::webhooks;
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let url = webhooks::check_url(&url).map_err(AppError::Validation)?;
    let state = crate::state::app_state()?;
    let (webhook, secret) = webhooks::create(&state.db, &url, &description, &admin, crate::db::now()).await?;
    tracing::info!(user = %admin.display_name, webhook = webhook.webhook_id, url = %webhook.url, "webhook added");
    Ok(NewWebhook { webhook, secret })
}

/// Stops a receiver; deliveries still waiting for it are marked failed.
#[server(endpoint = "admin_disable_webhook")]
pub async fn admin_disable_webhook(webhook_id: i64) -> Result<(), AppError> {
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    if !crate::notifications::server::webhooks::disable(&state.db, webhook_id, &admin, crate::db::now()).await? {
        return Err(AppError::Validation(format!("webhook {webhook_id} is disabled already or does not exist")));
    }
    tracing::info!(user = %admin.display_name, webhook = webhook_id, "webhook disabled");
    Ok(())
}

/// Sends a `ping` event to a receiver, so an admin sees it arrive (or why it does not).
#[server(endpoint = "admin_ping_webhook")]
pub async fn admin_ping_webhook(webhook_id: i64) -> Result<String, AppError> {
    let admin = crate::session::server::require(Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    if !crate::notifications::server::webhooks::ping(&state.db, webhook_id, &admin, crate::db::now()).await? {
        return Err(AppError::Validation(format!("webhook {webhook_id} is disabled or does not exist")));
    }
    tracing::info!(user = %admin.display_name, webhook = webhook_id, "webhook ping queued");
    Ok("A ping is on its way; the Outbox page shows how the receiver answered.".into())
}
