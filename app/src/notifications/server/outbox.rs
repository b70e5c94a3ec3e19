//! The outbox in the database: writing mails (inside the caller's transaction), handing due
//! ones to the worker, recording what became of them, and the unsubscribe tokens.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, DbError, Result, decode_err};
use crate::notifications::{CampaignMail, MailContent, MailKind, MailStatus, OutboxPage, OutboxRow};

/// A mail to write. (kind, recipient, campaign_id, slot) names it: writing the same mail
/// again changes nothing.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub kind: MailKind,
    pub recipient: &'a str,
    /// 0 for a mail about several campaigns.
    pub campaign_id: i64,
    pub slot: &'a str,
    pub subject: &'a str,
    pub content: &'a MailContent,
}

/// Whether `text` is an address mail can be sent to.
pub fn valid_address(text: &str) -> bool {
    text.trim().parse::<lettre::Address>().is_ok()
}

/// Writes a mail due at `at`; `None` when the same mail was written before.
pub async fn enqueue(conn: &mut AnyConnection, mail: &NewMail<'_>, at: i64) -> Result<Option<i64>> {
    let payload = serde_json::to_string(mail.content).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    let row = sqlx::query(
        "insert into outbox (kind, recipient, campaign_id, slot, subject, payload, status, attempts, next_attempt_at, created_at) \
         values ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) \
         on conflict (kind, recipient, campaign_id, slot) do nothing returning outbox_id",
    )
    .bind(mail.kind.as_str())
    .bind(mail.recipient.trim().to_lowercase())
    .bind(mail.campaign_id)
    .bind(mail.slot)
    .bind(mail.subject)
    .bind(payload)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("outbox_id")).transpose().map_err(Into::into)
}

/// Records a mail that cannot be sent because `who` has no usable address: it shows as
/// failed on the Outbox page, and the caller tells the campaign owner.
pub async fn undeliverable(conn: &mut AnyConnection, mail: &NewMail<'_>, who: &str, reason: &str, at: i64) -> Result<bool> {
    let payload = serde_json::to_string(mail.content).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    let done = sqlx::query(
        "insert into outbox (kind, recipient, campaign_id, slot, subject, payload, status, attempts, next_attempt_at, last_error, created_at) \
         values ($1, $2, $3, $4, $5, $6, 'failed', 0, $7, $8, $7) on conflict (kind, recipient, campaign_id, slot) do nothing",
    )
    .bind(mail.kind.as_str())
    .bind(format!("no address: {who}"))
    .bind(mail.campaign_id)
    .bind(mail.slot)
    .bind(mail.subject)
    .bind(payload)
    .bind(at)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A mail for the worker.
#[derive(Debug, Clone)]
pub struct Queued {
    pub outbox_id: i64,
    pub kind: MailKind,
    pub recipient: String,
    pub subject: String,
    pub content: MailContent,
    pub attempts: i64,
    pub created_at: i64,
}

/// Mails waiting whose time has come, oldest first.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<Queued>> {
    let rows = sqlx::query(
        "select outbox_id, kind, recipient, subject, payload, attempts, created_at from outbox \
         where kind <> 'webhook' and status = 'pending' and next_attempt_at <= $1 order by next_attempt_at, outbox_id limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let payload: String = r.try_get("payload")?;
            Ok(Queued {
                outbox_id: r.try_get("outbox_id")?,
                kind: MailKind::parse(&kind).map_err(|e| decode_err("kind", e))?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                content: serde_json::from_str(&payload).map_err(|e| decode_err("payload", e.to_string()))?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Takes a due mail for `lease` seconds and counts the attempt; `false` when another worker
/// took it first. A worker that stops before marking it finds it due again after the lease,
/// so a crash between sending and marking repeats the mail once, never loses it.
pub async fn claim(db: &Db, outbox_id: i64, now: i64, lease: i64) -> Result<bool> {
    let done = sqlx::query(
        "update outbox set attempts = attempts + 1, next_attempt_at = $1 where outbox_id = $2 and status = 'pending' and next_attempt_at <= $3",
    )
    .bind(now + lease)
    .bind(outbox_id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_sent(db: &Db, outbox_id: i64, now: i64, delivered_to: &str) -> Result<()> {
    sqlx::query("update outbox set status = 'sent', sent_at = $1, delivered_to = $2, last_error = null where outbox_id = $3")
        .bind(now)
        .bind(delivered_to)
        .bind(outbox_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Seconds before attempt `attempts + 1`: one minute, doubling, at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    (60i64 << (attempts - 1).clamp(0, 6)).min(3600)
}

/// Records a failed attempt: tried again after the backoff, or given up (status `failed`)
/// after `max_attempts`. Returns whether it was given up.
pub async fn mark_failed(db: &Db, outbox_id: i64, now: i64, attempts: i64, error: &str, max_attempts: i64) -> Result<bool> {
    let give_up = attempts >= max_attempts;
    sqlx::query("update outbox set status = $1, next_attempt_at = $2, last_error = $3 where outbox_id = $4")
        .bind(if give_up { "failed" } else { "pending" })
        .bind(now + backoff(attempts))
        .bind(error.chars().take(1000).collect::<String>())
        .bind(outbox_id)
        .execute(&db.pool)
        .await?;
    Ok(give_up)
}

/// Sends a failed mail again from the start.
pub async fn retry(db: &Db, outbox_id: i64, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "update outbox set status = 'pending', attempts = 0, next_attempt_at = $1 where outbox_id = $2 and status = 'failed' and recipient not like 'no address:%' \
         and (webhook_id is null or webhook_id in (select webhook_id from webhook where disabled_at is null))",
    )
    .bind(now)
    .bind(outbox_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

const ROW_COLUMNS: &str = "o.outbox_id, o.kind, o.recipient, o.campaign_id, c.name as campaign, o.slot, o.subject, o.status, o.attempts, \
    o.next_attempt_at, o.last_error, o.sent_at, o.delivered_to, o.created_at from outbox o left join campaign c on c.campaign_id = o.campaign_id";

fn outbox_row(r: &AnyRow) -> Result<OutboxRow> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(OutboxRow {
        outbox_id: r.try_get("outbox_id")?,
        kind: MailKind::parse(&kind).map_err(|e| decode_err("kind", e))?,
        recipient: r.try_get("recipient")?,
        campaign_id: r.try_get("campaign_id")?,
        campaign: r.try_get("campaign")?,
        slot: r.try_get("slot")?,
        subject: r.try_get("subject")?,
        status: MailStatus::parse(&status).map_err(|e| decode_err("status", e))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
        delivered_to: r.try_get("delivered_to")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The latest mails, failed ones first, with the counts by status.
pub async fn page(db: &Db, limit: i64, transport: &str, now: i64) -> Result<OutboxPage> {
    let rows = sqlx::query(&format!(
        "select {ROW_COLUMNS} order by case o.status when 'failed' then 0 when 'pending' then 1 else 2 end, o.outbox_id desc limit $1"
    ))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(outbox_row)
    .collect::<Result<Vec<_>>>()?;
    let counts = sqlx::query("select status, count(*) as n from outbox group by status").fetch_all(&db.pool).await?;
    let mut page = OutboxPage { rows, pending: 0, sent: 0, failed: 0, transport: transport.to_string(), now };
    for row in &counts {
        let n: i64 = row.try_get("n")?;
        match row.try_get::<String, _>("status")?.as_str() {
            "pending" => page.pending = n,
            "sent" => page.sent = n,
            _ => page.failed += n,
        }
    }
    Ok(page)
}

/// The unsubscribe token of an address, made on first use.
pub async fn optout_token(conn: &mut AnyConnection, email: &str, at: i64) -> Result<String> {
    use rand::Rng;
    let email = email.trim().to_lowercase();
    let token: String = rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(32).map(char::from).collect();
    sqlx::query("insert into mail_optout (email, token, created_at) values ($1, $2, $3) on conflict (email) do nothing")
        .bind(&email)
        .bind(&token)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("select token from mail_optout where email = $1").bind(&email).fetch_one(&mut *conn).await?.try_get("token")?)
}

/// Whether the address asked for no more reminders.
pub async fn unsubscribed(conn: &mut AnyConnection, email: &str) -> Result<bool> {
    let row = sqlx::query("select unsubscribed_at from mail_optout where email = $1 and unsubscribed_at is not null")
        .bind(email.trim().to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// The address a token belongs to, and whether it has unsubscribed already.
pub async fn optout_by_token(db: &Db, token: &str) -> Result<Option<(String, bool)>> {
    let row = sqlx::query("select email, unsubscribed_at from mail_optout where token = $1").bind(token).fetch_optional(&db.pool).await?;
    row.map(|r| Ok((r.try_get("email")?, r.try_get::<Option<i64>, _>("unsubscribed_at")?.is_some()))).transpose()
}

/// Stops reminders to the token's address; `None` for an unknown token.
pub async fn unsubscribe(db: &Db, token: &str, at: i64) -> Result<Option<String>> {
    sqlx::query("update mail_optout set unsubscribed_at = $1 where token = $2 and unsubscribed_at is null")
        .bind(at)
        .bind(token)
        .execute(&db.pool)
        .await?;
    Ok(optout_by_token(db, token).await?.map(|(email, _)| email))
}

/// Changes a campaign's reminder schedule, escalation and closing days; `false` when the
/// campaign is closed or missing.
pub async fn set_schedule(db: &Db, campaign_id: i64, reminder_days: &str, escalate_after_days: i64, close_after_days: i64) -> Result<bool> {
    let done = sqlx::query(
        "update campaign set reminder_days = $1, escalate_after_days = $2, close_after_days = $3 where campaign_id = $4 and status <> 'closed'",
    )
    .bind(reminder_days)
    .bind(escalate_after_days)
    .bind(close_after_days)
    .bind(campaign_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Mail about one campaign, for its page.
pub async fn campaign_mail(db: &Db, campaign_id: i64, now: i64) -> Result<CampaignMail> {
    let counts = sqlx::query("select status, count(*) as n from outbox where campaign_id = $1 group by status")
        .bind(campaign_id)
        .fetch_all(&db.pool)
        .await?;
    let (mut sent, mut pending) = (0, 0);
    for row in &counts {
        let n: i64 = row.try_get("n")?;
        match row.try_get::<String, _>("status")?.as_str() {
            "sent" => sent = n,
            "pending" => pending = n,
            _ => {}
        }
    }
    let failed =
        sqlx::query(&format!("select {ROW_COLUMNS} where o.campaign_id = $1 and o.status = 'failed' order by o.outbox_id limit 100"))
            .bind(campaign_id)
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(outbox_row)
            .collect::<Result<Vec<_>>>()?;
    let unsubscribed = sqlx::query(
        "select min(i.display_name) as name, m.email, m.unsubscribed_at from mail_optout m \
         join identity i on lower(i.email) = m.email \
         where m.unsubscribed_at is not null and i.identity_id in (select reviewer_id from review_item where campaign_id = $1 \
         union select g.identity_id from reviewer_group_member g join campaign c on c.reviewer_group_id = g.reviewer_group_id where c.campaign_id = $1) \
         group by m.email, m.unsubscribed_at order by m.email",
    )
    .bind(campaign_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("name")?, r.try_get("email")?, r.try_get("unsubscribed_at")?)))
    .collect::<Result<Vec<(String, String, i64)>>>()?;
    let settings = sqlx::query("select reminder_days, escalate_after_days, close_after_days from campaign where campaign_id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(settings) = settings else { return Err(DbError::NotFound(format!("campaign {campaign_id}"))) };
    Ok(CampaignMail {
        sent,
        pending,
        failed,
        unsubscribed,
        reminder_days: settings.try_get("reminder_days")?,
        escalate_after_days: settings.try_get("escalate_after_days")?,
        close_after_days: settings.try_get("close_after_days")?,
        now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(backoff(1), 60);
        assert_eq!(backoff(2), 120);
        assert_eq!(backoff(3), 240);
        assert_eq!(backoff(10), 3600);
    }

    #[test]
    fn only_real_addresses_are_addresses() {
        assert!(valid_address("ada@example.com"));
        assert!(!valid_address("Ada Okafor"));
        assert!(!valid_address(""));
    }
}
