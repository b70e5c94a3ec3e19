//! Remediation tasks: opened when revocations become final, claimed by a person, and
//! verified or failed by the next imports of the grant's source. Every change is logged.

use sqlx::Row;

use crate::campaigns::server::chain::{self, NewEntry};
use crate::db::{Db, Result, Sql};
use crate::evidence::{RemediationCounts, RemediationList, RemediationStatus, RemediationTask};
use crate::notifications::WebhookEvent;
use crate::notifications::server::webhooks;
use crate::session::CurrentUser;

const DAY: i64 = 86_400;

/// A done task whose grant an import still shows this many days later has failed, unless the
/// campaign says otherwise.
pub const DEFAULT_GRACE_DAYS: i64 = 7;

/// The longest note on a done task.
pub const MAX_NOTE: usize = 2_000;

/// Opens a task for every final revocation of the campaign that has none yet; inside the
/// transaction that makes the revocations final.
pub async fn open_tasks(conn: &mut sqlx::AnyConnection, campaign_id: i64, at: i64) -> Result<u64> {
    let before: Option<i64> = sqlx::query("select max(task_id) as id from remediation_task").fetch_one(&mut *conn).await?.try_get("id")?;
    let opened = sqlx::query(
        "insert into remediation_task (campaign_id, item_id, access_grant_id, source_id, reason, status, created_at) \
         select r.campaign_id, r.item_id, r.access_grant_id, g.source_id, r.outcome, 'open', $2 \
         from review_item r join access_grant g on g.access_grant_id = r.access_grant_id \
         where r.campaign_id = $1 and r.outcome in ('revoked', 'revoked at the deadline') \
         and not exists (select 1 from remediation_task t where t.item_id = r.item_id)",
    )
    .bind(campaign_id)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if opened > 0 {
        let ids = sqlx::query("select task_id from remediation_task where campaign_id = $1 and task_id > $2 order by task_id")
            .bind(campaign_id)
            .bind(before.unwrap_or(0))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("task_id"))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        webhooks::tasks_changed(conn, &ids, WebhookEvent::Opened, at).await?;
    }
    Ok(opened)
}

/// What one import found about the tasks of its source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub verified: u64,
    pub failed: u64,
}

/// After an import of `source_id`: tasks whose grant is gone are verified; done tasks whose
/// grant is still there past the campaign's grace period have failed. `actor` is who ran the
/// import; each change is logged under that name.
pub async fn check_source(db: &Db, source_id: i64, actor: &str, at: i64) -> Result<Checked> {
    let mut tx = db.pool.begin().await?;
    // Take the log's head first: it serialises this with decisions and other checks.
    sqlx::query("update decision_log_head set seq = seq where id = 1").execute(&mut *tx).await?;
    let rows = sqlx::query(
        "select t.task_id, t.item_id, t.campaign_id, t.status, t.done_at, g.ended_at, r.stage, c.remediation_days \
         from remediation_task t join access_grant g on g.access_grant_id = t.access_grant_id \
         join review_item r on r.item_id = t.item_id join campaign c on c.campaign_id = t.campaign_id \
         where t.source_id = $1 and t.status in ('open', 'done', 'failed')",
    )
    .bind(source_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut checked = Checked::default();
    let (mut verified, mut failed) = (Vec::new(), Vec::new());
    for row in rows {
        let task_id: i64 = row.try_get("task_id")?;
        let status: String = row.try_get("status")?;
        let done_at: Option<i64> = row.try_get("done_at")?;
        let ended_at: Option<i64> = row.try_get("ended_at")?;
        let grace: i64 = row.try_get("remediation_days")?;
        let (new_status, words) = if ended_at.is_some() {
            (RemediationStatus::Verified, format!("an import by {actor} no longer holds the grant"))
        } else if status == "done" && done_at.is_some_and(|d| d + grace * DAY <= at) {
            (RemediationStatus::Failed, format!("an import by {actor} still holds the grant {grace} days after it was marked done"))
        } else {
            continue;
        };
        let column = if new_status == RemediationStatus::Verified { "verified_at" } else { "failed_at" };
        sqlx::query(&format!(
            "update remediation_task set status = $1, checked_by = $2, checked_at = $3, {column} = $3 where task_id = $4"
        ))
        .bind(new_status.as_str())
        .bind(actor)
        .bind(at)
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
        let action = format!("remediation: {}", new_status.as_str());
        let event =
            NewEntry::event(row.try_get("campaign_id")?, Some(row.try_get("item_id")?), row.try_get("stage")?, &action, actor, actor, at);
        chain::append(&mut tx, NewEntry { justification: Some(&words), ..event }).await?;
        match new_status {
            RemediationStatus::Verified => verified.push(task_id),
            _ => failed.push(task_id),
        }
    }
    webhooks::tasks_changed(&mut tx, &verified, WebhookEvent::Verified, at).await?;
    webhooks::tasks_changed(&mut tx, &failed, WebhookEvent::Failed, at).await?;
    tx.commit().await?;
    checked.verified = verified.len() as u64;
    checked.failed = failed.len() as u64;
    Ok(checked)
}

/// Why marking a task done was refused.
pub type Refused = String;

/// A person says they carried out the revocation, with a note (a ticket, a command, …).
pub async fn mark_done(
    db: &Db,
    task_id: i64,
    note: &str,
    by: &CurrentUser,
    at: i64,
) -> Result<std::result::Result<RemediationTask, Refused>> {
    let note = note.trim();
    if note.is_empty() {
        return Ok(Err("note: say what was done (a ticket, a change, a command)".into()));
    }
    if note.chars().count() > MAX_NOTE {
        return Ok(Err(format!("note: at most {MAX_NOTE} characters")));
    }
    let mut tx = db.pool.begin().await?;
    let changed = sqlx::query(
        "update remediation_task set status = 'done', done_by = $1, done_note = $2, done_at = $3 where task_id = $4 and status in ('open', 'failed')",
    )
    .bind(&by.display_name)
    .bind(note)
    .bind(at)
    .bind(task_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(Err(format!("task {task_id}: only an open or failed task can be marked done")));
    }
    let row = sqlx::query(
        "select t.campaign_id, t.item_id, r.stage from remediation_task t join review_item r on r.item_id = t.item_id where t.task_id = $1",
    )
    .bind(task_id)
    .fetch_one(&mut *tx)
    .await?;
    let event = NewEntry::event(
        row.try_get("campaign_id")?,
        Some(row.try_get("item_id")?),
        row.try_get("stage")?,
        "remediation: done",
        &by.display_name,
        &by.subject,
        at,
    );
    chain::append(&mut tx, NewEntry { justification: Some(note), ..event }).await?;
    webhooks::tasks_changed(&mut tx, &[task_id], WebhookEvent::Done, at).await?;
    tx.commit().await?;
    let list = list(db, &Filter { task_id: Some(task_id), ..Filter::default() }, 1).await?;
    match list.into_iter().next() {
        Some(task) => Ok(Ok(task)),
        None => Ok(Err(format!("task {task_id} is gone"))),
    }
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub campaign_id: Option<i64>,
    pub status: Option<RemediationStatus>,
    pub task_id: Option<i64>,
}

/// A task with everything shown about it; callers add `where`.
pub const TASK_SELECT: &str = "select t.task_id, t.campaign_id, c.name as campaign, t.item_id, r.identity_name, r.identity_kind, r.application, \
    r.entitlement, s.name as source, t.reason, r.decided_by, r.justification, t.status, t.created_at, t.done_by, t.done_note, t.done_at, \
    t.checked_by, t.checked_at, t.verified_at, t.failed_at \
    from remediation_task t join campaign c on c.campaign_id = t.campaign_id \
    join review_item r on r.item_id = t.item_id join source s on s.source_id = t.source_id";

fn filtered(sql: &mut Sql, filter: &Filter) {
    sql.push(" where 1 = 1");
    if let Some(id) = filter.campaign_id {
        sql.push(" and t.campaign_id = ").bind(id);
    }
    if let Some(status) = filter.status {
        sql.push(" and t.status = ").bind(status.as_str());
    }
    if let Some(id) = filter.task_id {
        sql.push(" and t.task_id = ").bind(id);
    }
}

pub fn task_from(row: &sqlx::any::AnyRow) -> Result<RemediationTask> {
    let status: String = row.try_get("status")?;
    Ok(RemediationTask {
        task_id: row.try_get("task_id")?,
        campaign_id: row.try_get("campaign_id")?,
        campaign: row.try_get("campaign")?,
        item_id: row.try_get("item_id")?,
        identity_name: row.try_get("identity_name")?,
        identity_kind: row.try_get("identity_kind")?,
        application: row.try_get("application")?,
        entitlement: row.try_get("entitlement")?,
        source: row.try_get("source")?,
        reason: row.try_get("reason")?,
        decided_by: row.try_get("decided_by")?,
        justification: row.try_get("justification")?,
        status: RemediationStatus::parse(&status).map_err(|e| crate::db::decode_err("status", e))?,
        created_at: row.try_get("created_at")?,
        done_by: row.try_get("done_by")?,
        done_note: row.try_get("done_note")?,
        done_at: row.try_get("done_at")?,
        checked_by: row.try_get("checked_by")?,
        checked_at: row.try_get("checked_at")?,
        verified_at: row.try_get("verified_at")?,
        failed_at: row.try_get("failed_at")?,
    })
}

/// Tasks, failed first, then open, done and verified; newest first within each.
pub async fn list(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<RemediationTask>> {
    let mut sql = Sql::new(TASK_SELECT);
    filtered(&mut sql, filter);
    sql.push(" order by case t.status when 'failed' then 0 when 'open' then 1 when 'done' then 2 else 3 end, t.task_id desc limit ")
        .bind(limit);
    sql.query()?.fetch_all(&db.pool).await?.iter().map(task_from).collect()
}

/// How many tasks stand where.
pub async fn counts(db: &Db, campaign_id: Option<i64>) -> Result<RemediationCounts> {
    let mut sql = Sql::new("select t.status, count(*) as n from remediation_task t");
    filtered(&mut sql, &Filter { campaign_id, ..Filter::default() });
    sql.push(" group by t.status");
    let mut counts = RemediationCounts::default();
    for row in sql.query()?.fetch_all(&db.pool).await? {
        let status: String = row.try_get("status")?;
        let n: i64 = row.try_get("n")?;
        match status.as_str() {
            "open" => counts.open = n,
            "done" => counts.done = n,
            "verified" => counts.verified = n,
            _ => counts.failed = n,
        }
    }
    Ok(counts)
}

/// The remediation page's content.
pub async fn page(db: &Db, filter: &Filter, may_act: bool) -> Result<RemediationList> {
    Ok(RemediationList { counts: counts(db, filter.campaign_id).await?, tasks: list(db, filter, 500).await?, may_act })
}
