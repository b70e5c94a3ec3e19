//! Exceptions come back: when an exception's date passes, its access is reviewed again in a
//! follow-up campaign, by the reviewer who granted it.

use sqlx::Row;

use crate::campaigns::server::chain::{self, NewEntry};
use crate::db::{Db, Result};

const DAY: i64 = 86_400;

/// How long the reviewer has to decide a follow-up item.
pub const FOLLOW_UP_DAYS: i64 = 14;

/// Opens one follow-up campaign per campaign whose exceptions expired by `at`, holding the
/// items whose grant still exists. Returns the new campaigns' ids. Each launch is logged in
/// the name of the owner of the original campaign, whose rule this is.
pub async fn follow_up_expired(db: &Db, at: i64) -> Result<Vec<i64>> {
    let due: Vec<i64> = sqlx::query_scalar(
        "select distinct campaign_id from review_item where outcome = 'exception' and exception_until <= $1 and follow_up_campaign_id is null",
    )
    .bind(at)
    .fetch_all(&db.pool)
    .await?;
    let mut opened = Vec::new();
    for original in due {
        if let Some(id) = follow_up(db, original, at).await? {
            opened.push(id);
        }
    }
    Ok(opened)
}

async fn follow_up(db: &Db, original: i64, at: i64) -> Result<Option<i64>> {
    let owner = sqlx::query("select c.name, c.created_by, u.subject from campaign c join app_user u on u.app_user_id = c.created_by_user_id where c.campaign_id = $1")
        .bind(original)
        .fetch_one(&db.pool)
        .await?;
    let name: String = owner.try_get("name")?;
    let created_by: String = owner.try_get("created_by")?;
    let subject: String = owner.try_get("subject")?;
    let mut tx = db.pool.begin().await?;
    // Claim the expired exceptions first: a second run finds none and opens nothing.
    let row = sqlx::query(
        "insert into campaign (name, description, scope_query, reviewer_rule, named_reviewer_id, fallback_reviewer_id, stage2_reviewer_id, \
         deadline_at, deadline_action, justification, high_risk, max_exception_days, status, stage, created_by, created_by_user_id, created_at, \
         launched_at, remediation_days, reviewer_group_id) \
         select $1, $2, scope_query, reviewer_rule, named_reviewer_id, fallback_reviewer_id, null, $3, deadline_action, justification, high_risk, \
         max_exception_days, 'active', 1, created_by, created_by_user_id, $4, $4, remediation_days, reviewer_group_id from campaign where campaign_id = $5 \
         returning campaign_id",
    )
    .bind(format!("Follow-up: {name} (expired exceptions)"))
    .bind(format!("Exceptions granted in campaign {original} have expired; the access they kept is reviewed again."))
    .bind(at + FOLLOW_UP_DAYS * DAY)
    .bind(at)
    .bind(original)
    .fetch_one(&mut *tx)
    .await?;
    let campaign_id: i64 = row.try_get("campaign_id")?;
    let claimed = sqlx::query(
        "update review_item set follow_up_campaign_id = $1 where campaign_id = $2 and outcome = 'exception' and exception_until <= $3 \
         and follow_up_campaign_id is null",
    )
    .bind(campaign_id)
    .bind(original)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let inserted = sqlx::query(
        "insert into review_item (campaign_id, access_grant_id, identity_id, identity_name, identity_kind, identity_email, identity_status, \
         owner_name, manager_name, department, purpose, last_active_at, credential_rotated_at, expires_at, application, entitlement, \
         privilege, granted_at, last_used_at, risk_score, risk_words, stage, reviewer_id, reviewer_group_id, assigned_by, version) \
         select $1, r.access_grant_id, r.identity_id, r.identity_name, r.identity_kind, r.identity_email, r.identity_status, r.owner_name, \
         r.manager_name, r.department, r.purpose, r.last_active_at, r.credential_rotated_at, r.expires_at, r.application, r.entitlement, \
         r.privilege, g.granted_at, g.last_used_at, s.risk_score, g.risk_words, 1, \
         case when r.reviewer_id is null and r.reviewer_group_id is not null then null else coalesce(r.reviewer_id, c.fallback_reviewer_id) end, \
         case when r.reviewer_id is null then r.reviewer_group_id else null end, \
         'follow-up: the exception ' || coalesce(r.decided_by, '') || ' granted expired', 0 \
         from review_item r join access_grant g on g.access_grant_id = r.access_grant_id \
         join grant_score s on s.access_grant_id = g.access_grant_id join campaign c on c.campaign_id = r.campaign_id \
         where r.follow_up_campaign_id = $1 and g.ended_at is null",
    )
    .bind(campaign_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let note = format!("follow-up of {claimed} expired exceptions of campaign {original}: {inserted} still granted, in review");
    let approver = format!("{created_by} (rule: expired exceptions come back for review)");
    for action in ["create", "launch"] {
        let stage = if action == "create" { 0 } else { 1 };
        let event = NewEntry::event(campaign_id, None, stage, action, &approver, &subject, at);
        chain::append(&mut tx, NewEntry { justification: Some(&note), ..event }).await?;
    }
    tx.commit().await?;
    tracing::info!(campaign_id, original, claimed, inserted, "opened a follow-up review of expired exceptions");
    Ok(Some(campaign_id))
}
