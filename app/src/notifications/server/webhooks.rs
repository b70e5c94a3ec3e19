//! Webhooks: receivers told of every change to a remediation task. A delivery is an outbox row
//! (kind `webhook`) written in the transaction of the change it tells about, so it is sent
//! exactly when the change is stored, and retried like a mail when the receiver fails. Its
//! body is fixed when it is written; the signature is made when it is sent.

use hmac::{Hmac, Mac};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, DbError, Result, Sql};
use crate::evidence::RemediationTask;
use crate::notifications::{Webhook, WebhookEvent};
use crate::session::CurrentUser;

/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-attest-signature";
/// The header naming the event, e.g. `remediation.done`.
pub const EVENT_HEADER: &str = "x-attest-event";
/// The header carrying the delivery's id: the same on every retry, so receivers can skip
/// a delivery they already handled.
pub const DELIVERY_HEADER: &str = "x-attest-delivery";

/// The longest receiver URL and description.
const MAX_URL: usize = 2_000;
const MAX_DESCRIPTION: usize = 200;

/// The signature of `body` sent at `timestamp`: what a receiver recomputes with the shared
/// secret, and compares in constant time, before trusting a delivery.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a receiver's URL: http or https, with a host, no credentials in it.
pub fn check_url(text: &str) -> std::result::Result<String, String> {
    let url = text.trim();
    if url.is_empty() {
        return Err("url: give the address that receives the events, e.g. https://tickets.example.com/hooks/attest".into());
    }
    if url.len() > MAX_URL {
        return Err(format!("url: at most {MAX_URL} characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("url `{url}`: must start with https:// (or http:// for a receiver inside your network)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("url `{url}`: no host"));
    }
    if authority.contains('@') {
        return Err(format!("url `{url}`: no user or password in the address; the signature proves the sender"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("url `{url}`: no spaces"));
    }
    Ok(url.to_string())
}

/// Adds a receiver; the answer holds its secret, shown once.
pub async fn create(db: &Db, url: &str, description: &str, by: &CurrentUser, at: i64) -> Result<(Webhook, String)> {
    use rand::Rng;
    let secret: String = format!(
        "whsec_{}",
        rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(40).map(char::from).collect::<String>()
    );
    let description: String = description.trim().chars().take(MAX_DESCRIPTION).collect();
    let row = sqlx::query(
        "insert into webhook (url, description, secret, created_by, created_by_subject, created_at) values ($1, $2, $3, $4, $5, $6) returning webhook_id",
    )
    .bind(url)
    .bind(&description)
    .bind(&secret)
    .bind(&by.display_name)
    .bind(&by.subject)
    .bind(at)
    .fetch_one(&db.pool)
    .await?;
    let id: i64 = row.try_get("webhook_id")?;
    let made = list(db).await?.into_iter().find(|w| w.webhook_id == id).ok_or_else(|| DbError::NotFound(format!("webhook {id}")))?;
    Ok((made, secret))
}

/// Stops a receiver: nothing more is written for it, and deliveries still waiting are marked
/// failed. `false` when it was disabled already or does not exist.
pub async fn disable(db: &Db, webhook_id: i64, by: &CurrentUser, at: i64) -> Result<bool> {
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query("update webhook set disabled_by = $1, disabled_at = $2 where webhook_id = $3 and disabled_at is null")
        .bind(&by.display_name)
        .bind(at)
        .bind(webhook_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update outbox set status = 'failed', last_error = $1 where webhook_id = $2 and status = 'pending'")
        .bind(format!("the webhook was disabled by {}", by.display_name))
        .bind(webhook_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Every receiver, active first, with how its deliveries went.
pub async fn list(db: &Db) -> Result<Vec<Webhook>> {
    let rows = sqlx::query(
        "select w.webhook_id, w.url, w.description, w.created_by, w.created_at, w.disabled_by, w.disabled_at, \
         (select count(*) from outbox o where o.webhook_id = w.webhook_id and o.status = 'sent') as sent, \
         (select count(*) from outbox o where o.webhook_id = w.webhook_id and o.status = 'pending') as pending, \
         (select count(*) from outbox o where o.webhook_id = w.webhook_id and o.status = 'failed') as failed, \
         (select max(o.sent_at) from outbox o where o.webhook_id = w.webhook_id) as last_sent_at \
         from webhook w order by case when w.disabled_at is null then 0 else 1 end, w.webhook_id desc",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Webhook {
                webhook_id: r.try_get("webhook_id")?,
                url: r.try_get("url")?,
                description: r.try_get("description")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                disabled_by: r.try_get("disabled_by")?,
                disabled_at: r.try_get("disabled_at")?,
                sent: r.try_get("sent")?,
                pending: r.try_get("pending")?,
                failed: r.try_get("failed")?,
                last_sent_at: r.try_get("last_sent_at")?,
            })
        })
        .collect()
}

/// The active receivers: (id, url).
async fn active(conn: &mut AnyConnection) -> Result<Vec<(i64, String)>> {
    let rows =
        sqlx::query("select webhook_id, url from webhook where disabled_at is null order by webhook_id").fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((r.try_get("webhook_id")?, r.try_get("url")?))).collect()
}

/// Writes one delivery to every active receiver for each task, inside the caller's transaction,
/// telling of `event` at `at`. Returns how many deliveries were written.
pub async fn tasks_changed(conn: &mut AnyConnection, task_ids: &[i64], event: WebhookEvent, at: i64) -> Result<u64> {
    if task_ids.is_empty() {
        return Ok(0);
    }
    let receivers = active(conn).await?;
    if receivers.is_empty() {
        return Ok(0);
    }
    let mut written = 0;
    for chunk in task_ids.chunks(500) {
        let mut sql = Sql::new(&format!("{} where t.task_id in ", crate::evidence::server::remediation::TASK_SELECT));
        sql.push_in(chunk);
        let tasks = sql.query()?.fetch_all(&mut *conn).await?;
        for row in &tasks {
            let task = crate::evidence::server::remediation::task_from(row)?;
            let body = body(event, at, Some(&task));
            for (webhook_id, url) in &receivers {
                let slot = format!("{} task {} at {at}", event.as_str(), task.task_id);
                written += write(conn, *webhook_id, url, task.campaign_id, &slot, event, &body, at).await?;
            }
        }
    }
    Ok(written)
}

/// Writes a `ping` delivery to one receiver, so an admin can see it arrive.
pub async fn ping(db: &Db, webhook_id: i64, by: &CurrentUser, at: i64) -> Result<bool> {
    let mut tx = db.pool.begin().await?;
    let url = sqlx::query("select url from webhook where webhook_id = $1 and disabled_at is null")
        .bind(webhook_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<String, _>("url"))
        .transpose()?;
    let Some(url) = url else { return Ok(false) };
    let mut body = body(WebhookEvent::Ping, at, None);
    if let Some(object) = body.as_object_mut() {
        object.insert("sent_by".into(), by.display_name.clone().into());
    }
    let slot = format!("ping by {} at {at}", by.app_user_id);
    write(&mut tx, webhook_id, &url, 0, &slot, WebhookEvent::Ping, &body, at).await?;
    tx.commit().await?;
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
async fn write(
    conn: &mut AnyConnection,
    webhook_id: i64,
    url: &str,
    campaign_id: i64,
    slot: &str,
    event: WebhookEvent,
    body: &serde_json::Value,
    at: i64,
) -> Result<u64> {
    Ok(sqlx::query(
        "insert into outbox (kind, recipient, campaign_id, slot, subject, payload, status, attempts, next_attempt_at, created_at, webhook_id) \
         values ('webhook', $1, $2, $3, $4, $5, 'pending', 0, $6, $6, $7) on conflict (kind, recipient, campaign_id, slot) do nothing",
    )
    .bind(url)
    .bind(campaign_id)
    .bind(slot)
    .bind(event.as_str())
    .bind(body.to_string())
    .bind(at)
    .bind(webhook_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The JSON a receiver gets.
fn body(event: WebhookEvent, at: i64, task: Option<&RemediationTask>) -> serde_json::Value {
    let iso = crate::evidence::server::export::iso;
    let opt = |t: Option<i64>| t.map(iso);
    let mut body = serde_json::json!({ "event": event.as_str(), "occurred_at": iso(at) });
    if let (Some(task), Some(object)) = (task, body.as_object_mut()) {
        object.insert(
            "task".into(),
            serde_json::json!({
                "task_id": task.task_id,
                "status": task.status.as_str(),
                "campaign_id": task.campaign_id,
                "campaign": task.campaign,
                "item_id": task.item_id,
                "identity": task.identity_name,
                "identity_kind": task.identity_kind,
                "application": task.application,
                "entitlement": task.entitlement,
                "source": task.source,
                "reason": task.reason,
                "decided_by": task.decided_by,
                "justification": task.justification,
                "created_at": iso(task.created_at),
                "done_by": task.done_by,
                "done_note": task.done_note,
                "done_at": opt(task.done_at),
                "checked_by": task.checked_by,
                "verified_at": opt(task.verified_at),
                "failed_at": opt(task.failed_at),
            }),
        );
    }
    body
}

/// A delivery for the worker.
#[derive(Debug, Clone)]
pub struct Due {
    pub outbox_id: i64,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub body: String,
    pub attempts: i64,
}

/// Deliveries whose time has come, oldest first, with their receiver's secret.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<Due>> {
    let rows = sqlx::query(
        "select o.outbox_id, w.url, w.secret, o.subject, o.payload, o.attempts from outbox o join webhook w on w.webhook_id = o.webhook_id \
         where o.kind = 'webhook' and o.status = 'pending' and o.next_attempt_at <= $1 and w.disabled_at is null \
         order by o.next_attempt_at, o.outbox_id limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                outbox_id: r.try_get("outbox_id")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                event: r.try_get("subject")?,
                body: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_the_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn receiver_urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert_eq!(check_url(" https://tickets.example.com/hooks/attest ").as_deref(), Ok("https://tickets.example.com/hooks/attest"));
        assert!(check_url("http://10.0.0.5:8080/attest").is_ok());
        assert!(check_url("").is_err());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https:///path").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        assert!(check_url("https://example.com/a b").is_err());
    }
}
