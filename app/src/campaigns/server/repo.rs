//! Campaigns in the database: drafts, launch (the snapshot and reviewer assignment), the
//! review queue, decisions and closing stages.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::chain::{self, NewEntry};
use crate::campaigns::*;
use crate::db::{Db, DbError, Result, Sql, decode_err, now};
use crate::identities::server::repo::{FROM_GRANTS, grant_condition};
use crate::identities::{IdentityKind, Privilege};
use crate::session::CurrentUser;

const DAY: i64 = 86_400;

/// Why a request about a campaign was refused, in words for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The input is wrong; nothing was changed.
    Invalid(String),
    /// Not this person's to do.
    NotYours(String),
    /// Someone else changed it first; the item as it is now.
    Conflict(Box<ReviewItem>),
}

type Outcome<T> = Result<std::result::Result<T, Refusal>>;

fn invalid<T>(message: impl Into<String>) -> Outcome<T> {
    Ok(Err(Refusal::Invalid(message.into())))
}

/// The person attest knows by this email: an active identity of the inventory.
pub async fn person_by_email(db: &Db, email: &str) -> Result<Option<(i64, String)>> {
    let row = sqlx::query(
        "select identity_id, display_name from identity where lower(email) = lower($1) and status = 'active' and ended_at is null \
         order by kind = 'human' desc, identity_id limit 1",
    )
    .bind(email.trim())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get("identity_id")?, r.try_get("display_name")?))).transpose()
}

async fn email_of(db: &Db, identity_id: Option<i64>) -> Result<Option<String>> {
    let Some(id) = identity_id else { return Ok(None) };
    let row = sqlx::query("select coalesce(email, display_name) as who from identity where identity_id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get("who")).transpose().map_err(Into::into)
}

/// Parses `YYYY-MM-DD` as the end of that day in UTC.
fn end_of_day(text: &str, field: &str) -> std::result::Result<i64, String> {
    let start = crate::imports::server::dates::parse_timestamp(text).map_err(|e| format!("{field}: {e}"))?;
    Ok(start + DAY - 1)
}

/// Checks a draft and resolves its people. Every problem is named by its field.
async fn check_draft(db: &Db, draft: &CampaignDraft) -> Result<std::result::Result<Resolved, String>> {
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > CampaignDraft::MAX_NAME {
        return Ok(Err(format!("name: give the campaign a name of 1 to {} characters", CampaignDraft::MAX_NAME)));
    }
    if draft.description.chars().count() > CampaignDraft::MAX_DESCRIPTION {
        return Ok(Err(format!("description: at most {} characters", CampaignDraft::MAX_DESCRIPTION)));
    }
    if let Err(e) = crate::query::parse(&draft.scope_query).and_then(|expr| match expr {
        Some(expr) => crate::query::compile::compile(&expr, now(), &mut Sql::default()),
        None => Ok(()),
    }) {
        return Ok(Err(format!("scope, column {}: {}", e.column, e.message)));
    }
    let rule = match ReviewerRule::parse(&draft.reviewer_rule) {
        Ok(rule) => rule,
        Err(e) => return Ok(Err(format!("reviewer rule: {e}"))),
    };
    let person = |field: &'static str, email: String| async move {
        match person_by_email(db, &email).await? {
            Some((id, _)) => Ok::<_, DbError>(Ok(id)),
            None => Ok(Err(format!("{field}: nobody active in the inventory has the email `{}`", email.trim()))),
        }
    };
    let named = if rule == ReviewerRule::Named {
        match person("named reviewer", draft.named_reviewer.clone()).await? {
            Ok(id) => Some(id),
            Err(e) => return Ok(Err(e)),
        }
    } else {
        None
    };
    let group = if rule == ReviewerRule::Group {
        let name = draft.reviewer_group.trim();
        match crate::groups::server::repo::by_name(db, name).await? {
            Some((id, _, members)) if members > 0 => Some(id),
            Some((_, name, _)) => {
                return Ok(Err(format!("reviewer group: {name} has no active members; add people to it under Groups first")));
            }
            None if name.is_empty() => return Ok(Err("reviewer group: choose the group that reviews".into())),
            None => return Ok(Err(format!("reviewer group: there is no group named `{name}`"))),
        }
    } else {
        None
    };
    if draft.fallback_reviewer.trim().is_empty() {
        return Ok(Err("fallback reviewer: name a person (by email) who gets what the rule cannot place".into()));
    }
    let fallback = match person("fallback reviewer", draft.fallback_reviewer.clone()).await? {
        Ok(id) => id,
        Err(e) => return Ok(Err(e)),
    };
    let stage2 = if draft.stage2_reviewer.trim().is_empty() {
        None
    } else {
        match person("second-stage reviewer", draft.stage2_reviewer.clone()).await? {
            Ok(id) => Some(id),
            Err(e) => return Ok(Err(e)),
        }
    };
    let deadline_at = match end_of_day(&draft.deadline, "deadline") {
        Ok(at) if at > now() => at,
        Ok(_) => return Ok(Err("deadline: the deadline must be in the future".into())),
        Err(e) => return Ok(Err(e)),
    };
    let deadline_action = match DeadlineAction::parse(&draft.deadline_action) {
        Ok(a) => a,
        Err(e) => return Ok(Err(format!("at the deadline: {e}"))),
    };
    let justification = match JustificationRule::parse(&draft.justification) {
        Ok(j) => j,
        Err(e) => return Ok(Err(format!("justification: {e}"))),
    };
    if !(1..=100).contains(&draft.high_risk) {
        return Ok(Err("high risk from: a score from 1 to 100".into()));
    }
    if !(1..=365).contains(&draft.max_exception_days) {
        return Ok(Err("longest exception: 1 to 365 days".into()));
    }
    Ok(Ok(Resolved { rule, named, group, fallback, stage2, deadline_at, deadline_action, justification }))
}

struct Resolved {
    rule: ReviewerRule,
    named: Option<i64>,
    group: Option<i64>,
    fallback: i64,
    stage2: Option<i64>,
    deadline_at: i64,
    deadline_action: DeadlineAction,
    justification: JustificationRule,
}

/// Stores a draft; nothing is in scope until launch.
pub async fn create(db: &Db, draft: &CampaignDraft, by: &CurrentUser) -> Outcome<i64> {
    let r = match check_draft(db, draft).await? {
        Ok(r) => r,
        Err(e) => return invalid(e),
    };
    let mut tx = db.pool.begin().await?;
    let row = sqlx::query(
        "insert into campaign (name, description, scope_query, reviewer_rule, named_reviewer_id, fallback_reviewer_id, stage2_reviewer_id, \
         deadline_at, deadline_action, justification, high_risk, max_exception_days, status, stage, created_by, created_by_user_id, created_at, \
         reviewer_group_id) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', 0, $13, $14, $15, $16) returning campaign_id",
    )
    .bind(draft.name.trim())
    .bind(draft.description.trim())
    .bind(draft.scope_query.trim())
    .bind(r.rule.as_str())
    .bind(r.named)
    .bind(r.fallback)
    .bind(r.stage2)
    .bind(r.deadline_at)
    .bind(r.deadline_action.as_str())
    .bind(r.justification.as_str())
    .bind(draft.high_risk)
    .bind(draft.max_exception_days)
    .bind(&by.display_name)
    .bind(by.app_user_id)
    .bind(now())
    .bind(r.group)
    .fetch_one(&mut *tx)
    .await?;
    let campaign_id: i64 = row.try_get("campaign_id")?;
    chain::append(
        &mut tx,
        NewEntry {
            campaign_id,
            item_id: None,
            stage: 0,
            action: "create",
            justification: None,
            exception_until: None,
            reassigned_to: None,
            bulk: false,
            approver: &by.display_name,
            approver_subject: &by.subject,
            at: now(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(campaign_id))
}

/// How many current grants a scope takes in, and the riskiest of them.
pub async fn preview(db: &Db, scope: &str, high_risk: i64) -> Result<std::result::Result<ScopePreview, crate::query::QueryError>> {
    let condition = match grant_condition(scope) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut sql = Sql::new(&format!(
        "select count(*) as total, coalesce(sum(case when i.kind = 'human' then 1 else 0 end), 0) as humans, \
         coalesce(sum(case when s.risk_score >= {high_risk} then 1 else 0 end), 0) as high_risk {FROM_GRANTS}"
    ));
    sql.append(&condition);
    let row = sql.query()?.fetch_one(&db.pool).await?;
    let (total, humans, high): (i64, i64, i64) = (row.try_get("total")?, row.try_get("humans")?, row.try_get("high_risk")?);
    let top = match crate::identities::server::repo::query_grants(db, scope, true, 10, 0).await? {
        Ok(rows) => rows,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(ScopePreview { total, humans, machines: total - humans, high_risk: high, top }))
}

/// Freezes what is in scope and assigns every item its reviewer (or reviewer group), in one
/// transaction. Nobody is asked about their own access: such items go to the fallback
/// reviewer (for a group: when it has nobody but the holder), and when that is the holder too,
/// to nobody (the campaign owner sees them as unassigned).
pub async fn launch(db: &Db, campaign_id: i64, by: &CurrentUser) -> Outcome<i64> {
    let Some(campaign) = get(db, campaign_id).await? else { return invalid(format!("there is no campaign {campaign_id}")) };
    if campaign.status != CampaignStatus::Draft {
        return invalid("this campaign was launched already");
    }
    if campaign.deadline_at <= now() {
        return invalid("the deadline has passed; set a new one before launching");
    }
    let condition = match grant_condition(&campaign.scope_query) {
        Ok(c) => c,
        Err(e) => return invalid(format!("scope, column {}: {}", e.column, e.message)),
    };
    let ids = ids(db, campaign_id).await?;
    let fallback = ids.fallback;
    // The same person: the same identity, or the same email on another source's identity.
    let same = |who: &str| format!("({who}.identity_id = i.identity_id or coalesce(lower({who}.email) = lower(i.email), false))");
    let (r_self, f_self) = (same("r"), same("f"));
    let person_rule = match campaign.reviewer_rule {
        ReviewerRule::ApplicationOwner => Some(("a.owner_identity_id".to_string(), "application owner")),
        ReviewerRule::IdentityOwner => {
            Some(("case when i.kind = 'human' then i.manager_identity_id else i.owner_identity_id end".to_string(), "owner or manager"))
        }
        ReviewerRule::Manager => Some(("i.manager_identity_id".to_string(), "manager")),
        ReviewerRule::Named => Some((ids.named.unwrap_or(0).to_string(), "named reviewer")),
        ReviewerRule::Group => None,
    };
    let (reviewer, group, assigned, reviewer_join) = match person_rule {
        Some((candidate, rule)) => {
            // Reviewers are people who can still act.
            let r_ok = "(r.identity_id is not null and r.kind = 'human' and r.status = 'active' and r.ended_at is null)";
            (
                format!(
                    "case when {r_ok} and not {r_self} then r.identity_id \
                     when not {f_self} then f.identity_id else null end"
                ),
                "null".to_string(),
                format!(
                    "case when {r_ok} and not {r_self} then '{rule}' \
                     when r.identity_id is null and not {f_self} then 'fallback: no {rule} found' \
                     when r.identity_id is null then 'nobody: no {rule}, and the fallback reviewer holds this access' \
                     when {r_self} and not {f_self} then 'fallback: the {rule} holds this access' \
                     when not {f_self} then 'fallback: the {rule} is not an active person' \
                     else 'nobody: the fallback reviewer holds this access' end"
                ),
                format!(" left join identity r on r.identity_id = {candidate}"),
            )
        }
        None => {
            // The whole group, but for the holders it has nobody else for.
            let group = ids.group.unwrap_or(0);
            let cover = crate::groups::server::repo::coverage(&mut *db.pool.acquire().await?, group).await?;
            let to_group = match (cover.members, cover.alone.as_slice()) {
                (0, _) => "1 = 0".to_string(),
                (_, []) => "1 = 1".to_string(),
                (_, alone) => format!("i.identity_id not in ({})", alone.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
            };
            let why = if cover.members == 0 {
                "fallback: the reviewer group has no active member"
            } else {
                "fallback: nobody in the reviewer group but the holder of this access"
            };
            (
                format!("case when {to_group} then null when not {f_self} then f.identity_id else null end"),
                format!("case when {to_group} then {group} else null end"),
                format!(
                    "case when {to_group} then 'reviewer group' when not {f_self} then '{why}' \
                     else 'nobody: the fallback reviewer holds this access' end"
                ),
                String::new(),
            )
        }
    };
    // Peers come from one count per entitlement rather than one per item.
    let mut sql = Sql::new(&format!(
        "insert into review_item (campaign_id, access_grant_id, identity_id, identity_name, identity_kind, identity_email, identity_status, \
         owner_name, manager_name, department, purpose, last_active_at, credential_rotated_at, expires_at, application, entitlement, \
         privilege, granted_at, last_used_at, risk_score, risk_words, peers, stage, reviewer_id, reviewer_group_id, assigned_by, version) \
         select {campaign_id}, g.access_grant_id, i.identity_id, i.display_name, i.kind, i.email, i.status, coalesce(o.display_name, i.owner), \
         coalesce(m.display_name, i.manager), i.department, i.purpose, i.last_active_at, i.credential_rotated_at, i.expires_at, a.name, e.name, \
         e.privilege, g.granted_at, g.last_used_at, s.risk_score, g.risk_words, h.n - 1, 1, {reviewer}, {group}, {assigned}, 0 \
         {FROM_GRANTS} \
         join (select entitlement_id, count(*) as n from access_grant where ended_at is null group by entitlement_id) h \
         on h.entitlement_id = g.entitlement_id \
         left join identity o on o.identity_id = i.owner_identity_id \
         left join identity m on m.identity_id = i.manager_identity_id{reviewer_join} \
         join identity f on f.identity_id = {fallback}"
    ));
    sql.append(&condition);
    let mut tx = db.pool.begin().await?;
    let inserted = sql.query()?.execute(&mut *tx).await?.rows_affected() as i64;
    let at = now();
    sqlx::query("update campaign set status = 'active', stage = 1, launched_at = $1 where campaign_id = $2 and status = 'draft'")
        .bind(at)
        .bind(campaign_id)
        .execute(&mut *tx)
        .await?;
    let note = format!("{inserted} items in scope `{}`", campaign.scope_query);
    chain::append(
        &mut tx,
        NewEntry {
            campaign_id,
            item_id: None,
            stage: 1,
            action: "launch",
            justification: Some(&note),
            exception_until: None,
            reassigned_to: None,
            bulk: false,
            approver: &by.display_name,
            approver_subject: &by.subject,
            at,
        },
    )
    .await?;
    crate::notifications::server::scheduler::launch_notices(&mut tx, campaign_id, at).await?;
    tx.commit().await?;
    Ok(Ok(inserted))
}

struct Ids {
    named: Option<i64>,
    group: Option<i64>,
    fallback: i64,
    stage2: Option<i64>,
}

async fn ids(db: &Db, campaign_id: i64) -> Result<Ids> {
    let row = sqlx::query(
        "select named_reviewer_id, reviewer_group_id, fallback_reviewer_id, stage2_reviewer_id from campaign where campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(Ids {
        named: row.try_get("named_reviewer_id")?,
        group: row.try_get("reviewer_group_id")?,
        fallback: row.try_get("fallback_reviewer_id")?,
        stage2: row.try_get("stage2_reviewer_id")?,
    })
}

const CAMPAIGN_COLUMNS: &str = "c.campaign_id, c.name, c.description, c.scope_query, c.reviewer_rule, \
    (select coalesce(email, display_name) from identity where identity_id = c.named_reviewer_id) as named_reviewer, \
    (select name from reviewer_group where reviewer_group_id = c.reviewer_group_id) as reviewer_group, \
    (select coalesce(email, display_name) from identity where identity_id = c.fallback_reviewer_id) as fallback_reviewer, \
    (select coalesce(email, display_name) from identity where identity_id = c.stage2_reviewer_id) as stage2_reviewer, \
    c.deadline_at, c.deadline_action, c.justification, c.high_risk, c.max_exception_days, c.status, c.stage, \
    c.created_by, c.created_at, c.launched_at, c.closed_at";

fn campaign_row(row: &AnyRow) -> Result<Campaign> {
    let text = |column: &str| -> Result<String> { Ok(row.try_get::<String, _>(column)?) };
    let stage2: Option<String> = row.try_get("stage2_reviewer")?;
    Ok(Campaign {
        campaign_id: row.try_get("campaign_id")?,
        name: text("name")?,
        description: text("description")?,
        scope_query: text("scope_query")?,
        reviewer_rule: ReviewerRule::parse(&text("reviewer_rule")?).map_err(|e| decode_err("reviewer_rule", e))?,
        named_reviewer: row.try_get("named_reviewer")?,
        reviewer_group: row.try_get("reviewer_group")?,
        fallback_reviewer: row.try_get::<Option<String>, _>("fallback_reviewer")?.unwrap_or_default(),
        stages: if stage2.is_some() { 2 } else { 1 },
        stage2_reviewer: stage2,
        deadline_at: row.try_get("deadline_at")?,
        deadline_action: DeadlineAction::parse(&text("deadline_action")?).map_err(|e| decode_err("deadline_action", e))?,
        justification: JustificationRule::parse(&text("justification")?).map_err(|e| decode_err("justification", e))?,
        high_risk: row.try_get("high_risk")?,
        max_exception_days: row.try_get("max_exception_days")?,
        status: CampaignStatus::parse(&text("status")?).map_err(|e| decode_err("status", e))?,
        stage: row.try_get("stage")?,
        created_by: text("created_by")?,
        created_at: row.try_get("created_at")?,
        launched_at: row.try_get("launched_at")?,
        closed_at: row.try_get("closed_at")?,
    })
}

pub async fn get(db: &Db, campaign_id: i64) -> Result<Option<Campaign>> {
    let row = sqlx::query(&format!("select {CAMPAIGN_COLUMNS} from campaign c where c.campaign_id = $1"))
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(campaign_row).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<CampaignRow>> {
    let rows = sqlx::query(&format!(
        "select {CAMPAIGN_COLUMNS}, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id) as items, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id and (r.decision is not null or r.outcome is not null)) as decided, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id and r.decision is null and r.outcome is null and r.risk_score >= c.high_risk) as high_risk_open \
         from campaign c order by c.status = 'closed', c.created_at desc, c.campaign_id desc"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CampaignRow {
                campaign: campaign_row(row)?,
                items: row.try_get("items")?,
                decided: row.try_get("decided")?,
                high_risk_open: row.try_get("high_risk_open")?,
            })
        })
        .collect()
}

const ITEM_COLUMNS: &str = "r.item_id, r.campaign_id, c.name as campaign, c.deadline_at, c.justification as rule, c.high_risk as threshold, \
    c.max_exception_days, r.identity_id, r.identity_name, r.identity_kind, r.identity_email, r.identity_status, r.owner_name, \
    r.manager_name, r.department, r.purpose, r.last_active_at, r.credential_rotated_at, r.expires_at, r.application, r.entitlement, \
    r.privilege, r.granted_at, r.last_used_at, r.risk_score, r.risk_words, r.stage, \
    (select coalesce(v.display_name, v.email) from identity v where v.identity_id = r.reviewer_id) as reviewer, \
    (select g.name from reviewer_group g where g.reviewer_group_id = r.reviewer_group_id) as reviewer_group, \
    r.assigned_by, r.decision, r.exception_until, r.justification, r.decided_by, r.decided_at, r.outcome, r.version, \
    coalesce(r.peers, (select count(*) from (select 1 from access_grant p where p.entitlement_id = \
      (select q.entitlement_id from access_grant q where q.access_grant_id = r.access_grant_id) \
      and p.ended_at is null and p.identity_id <> r.identity_id limit 1000) peers)) as peers \
    from review_item r join campaign c on c.campaign_id = r.campaign_id";

fn item_row(row: &AnyRow) -> Result<ReviewItem> {
    let kind: String = row.try_get("identity_kind")?;
    let privilege: String = row.try_get("privilege")?;
    let decision: Option<String> = row.try_get("decision")?;
    let rule: String = row.try_get("rule")?;
    let risk: i64 = row.try_get("risk_score")?;
    let threshold: i64 = row.try_get("threshold")?;
    Ok(ReviewItem {
        item_id: row.try_get("item_id")?,
        campaign_id: row.try_get("campaign_id")?,
        campaign: row.try_get("campaign")?,
        deadline_at: row.try_get("deadline_at")?,
        identity_id: row.try_get("identity_id")?,
        identity_name: row.try_get("identity_name")?,
        identity_kind: IdentityKind::parse(&kind).map_err(|e| decode_err("identity_kind", e))?,
        identity_email: row.try_get("identity_email")?,
        identity_status: row.try_get("identity_status")?,
        owner_name: row.try_get("owner_name")?,
        manager_name: row.try_get("manager_name")?,
        department: row.try_get("department")?,
        purpose: row.try_get("purpose")?,
        last_active_at: row.try_get("last_active_at")?,
        credential_rotated_at: row.try_get("credential_rotated_at")?,
        expires_at: row.try_get("expires_at")?,
        application: row.try_get("application")?,
        entitlement: row.try_get("entitlement")?,
        privilege: Privilege::parse(&privilege).map_err(|e| decode_err("privilege", e))?,
        granted_at: row.try_get("granted_at")?,
        last_used_at: row.try_get("last_used_at")?,
        risk_score: risk,
        risk_words: row.try_get("risk_words")?,
        stage: row.try_get("stage")?,
        reviewer: row.try_get("reviewer")?,
        reviewer_group: row.try_get("reviewer_group")?,
        assigned_by: row.try_get("assigned_by")?,
        decision: decision.map(|d| Decision::parse(&d)).transpose().map_err(|e| decode_err("decision", e))?,
        exception_until: row.try_get("exception_until")?,
        justification: row.try_get("justification")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        outcome: row.try_get("outcome")?,
        version: row.try_get("version")?,
        peers: row.try_get("peers")?,
        needs_justification: JustificationRule::parse(&rule).map_err(|e| decode_err("justification", e))?.required_for(risk, threshold),
        max_exception_days: row.try_get("max_exception_days")?,
        high_risk: risk >= threshold,
    })
}

pub async fn item(db: &Db, item_id: i64) -> Result<Option<ReviewItem>> {
    let row = sqlx::query(&format!("select {ITEM_COLUMNS} where r.item_id = $1")).bind(item_id).fetch_optional(&db.pool).await?;
    row.as_ref().map(item_row).transpose()
}

/// What to show in a reviewer's queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueFilter {
    /// `human` or `machine`; anything else is both.
    pub kind: Option<String>,
    /// Words to find in the identity, application or entitlement.
    pub q: Option<String>,
    /// Also the items already decided in open stages.
    pub include_decided: bool,
}

/// Whose items a part of a queue holds.
enum Whose {
    /// Items assigned to the person.
    Person(i64),
    /// Items of a group the person is in, but their own access.
    Group(i64),
}

/// ` where` the items of open stages that are `whose`, for `user`. Each part is one range of an
/// index (a reviewer's, or a group's), read in risk order.
fn push_open(sql: &mut Sql, whose: &Whose, user: &CurrentUser, me: i64) {
    sql.push(" where c.status = 'active' and r.stage = c.stage and r.outcome is null and ");
    push_whose(sql, whose, user, me);
}

/// The items assigned to `whose`; of a group's, those that are not `user`'s own access.
fn push_whose(sql: &mut Sql, whose: &Whose, user: &CurrentUser, me: i64) {
    match whose {
        Whose::Person(id) => {
            sql.push("r.reviewer_id = ").bind(*id);
        }
        Whose::Group(id) => {
            sql.push("r.reviewer_group_id = ").bind(*id);
            push_not_own(sql, user, me);
        }
    }
}

/// ` and` the item is not `user`'s own access, as `decide` refuses it: the same identity, or
/// the same email.
fn push_not_own(sql: &mut Sql, user: &CurrentUser, me: i64) {
    sql.push(" and r.identity_id <> ").bind(me);
    sql.push(" and not coalesce(lower(r.identity_email) = lower(").bind(user.email.clone()).push("), false)");
}

/// In a queue's parts: `outcome is null` holds for the whole range, but PostgreSQL only reads
/// an index in order when the order names that column too.
const PART_ORDER: &str = " order by r.outcome, r.risk_score desc, r.item_id limit ";

/// Open and decided items of one part of a queue in one campaign stage, each counted up to
/// one past [`COUNT_CAP`].
async fn capped_counts(db: &Db, whose: &Whose, campaign_id: i64, stage: i64, user: &CurrentUser, me: i64) -> Result<(i64, i64)> {
    let mut counts = Sql::new("select");
    for (n, decision) in ["is null", "is not null"].into_iter().enumerate() {
        counts.push(if n == 0 { " " } else { ", " });
        counts.push("(select count(*) from (select 1 from review_item r where ");
        push_whose(&mut counts, whose, user, me);
        counts.push(" and r.outcome is null and r.campaign_id = ").bind(campaign_id).push(" and r.stage = ").bind(stage);
        counts.push(&format!(" and r.decision {decision} limit ")).bind(COUNT_CAP + 1);
        counts.push(&format!(") part) as n{n}"));
    }
    let row = counts.query()?.fetch_one(&db.pool).await?;
    Ok((row.try_get("n0")?, row.try_get("n1")?))
}

fn push_filter(sql: &mut Sql, filter: &QueueFilter) {
    if !filter.include_decided {
        sql.push(" and r.decision is null");
    }
    match filter.kind.as_deref() {
        Some("human") => {
            sql.push(" and r.identity_kind = 'human'");
        }
        Some("machine") => {
            sql.push(" and r.identity_kind <> 'human'");
        }
        _ => {}
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        sql.push(" and (r.identity_name like ").bind(like.clone()).push(" escape '\\' or r.application like ").bind(like.clone());
        sql.push(" escape '\\' or r.entitlement like ").bind(like).push(" escape '\\')");
    }
}

/// The items waiting for `user` in open stages, riskiest first: theirs, and those of their
/// reviewer groups but their own access.
pub async fn queue(db: &Db, user: &CurrentUser, filter: &QueueFilter, limit: i64) -> Result<ReviewQueue> {
    let Some(me) = user.identity_id else {
        return Ok(ReviewQueue { items: Vec::new(), open: 0, decided: 0, more: false, now: now(), unmatched: true });
    };
    let groups = crate::groups::server::repo::groups_of(db, user).await?;
    // Per running campaign stage, so that each count is one range of an index, and capped: a
    // fallback reviewer or a group may hold a million items.
    let (mut open, mut decided, mut more) = (0, 0, false);
    for campaign in
        sqlx::query("select campaign_id, stage, reviewer_group_id from campaign where status = 'active'").fetch_all(&db.pool).await?
    {
        let (campaign_id, stage): (i64, i64) = (campaign.try_get("campaign_id")?, campaign.try_get("stage")?);
        let group: Option<i64> = campaign.try_get("reviewer_group_id")?;
        let parts = std::iter::once(Whose::Person(me)).chain(group.filter(|g| groups.contains(g)).map(Whose::Group));
        for part in parts {
            let (o, d) = capped_counts(db, &part, campaign_id, stage, user, me).await?;
            more |= o > COUNT_CAP || d > COUNT_CAP;
            open += o.min(COUNT_CAP);
            decided += d.min(COUNT_CAP);
        }
    }

    let mut sql = Sql::new(&format!("select {ITEM_COLUMNS}"));
    if groups.is_empty() {
        push_open(&mut sql, &Whose::Person(me), user, me);
        push_filter(&mut sql, filter);
        sql.push(PART_ORDER).bind(limit);
    } else {
        // The riskiest of each part, each read in order from its own index, then merged: a
        // single query over "mine or my groups'" could not read any index in order.
        let parts = std::iter::once(Whose::Person(me)).chain(groups.iter().copied().map(Whose::Group));
        sql.push(" where r.item_id in (");
        for (n, part) in parts.enumerate() {
            if n > 0 {
                sql.push(" union all ");
            }
            sql.push("select item_id from (select r.item_id from review_item r join campaign c on c.campaign_id = r.campaign_id");
            push_open(&mut sql, &part, user, me);
            push_filter(&mut sql, filter);
            sql.push(PART_ORDER).bind(limit).push(&format!(") part{n}"));
        }
        sql.push(") order by r.risk_score desc, r.item_id limit ").bind(limit);
    }
    let rows = sql.query()?.fetch_all(&db.pool).await?;
    let items = rows.iter().map(item_row).collect::<Result<Vec<_>>>()?;
    Ok(ReviewQueue { items, open, decided, more, now: now(), unmatched: false })
}

/// One reviewer request on one item.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub item_id: i64,
    /// The version the reviewer saw; a change since then is a conflict.
    pub version: i64,
    pub action: Action,
    pub justification: &'a str,
    /// `YYYY-MM-DD`, for an exception.
    pub until: &'a str,
    pub bulk: bool,
}

/// Records a decision (or a reassignment or abstention) by `user`, with the log entry, in
/// one transaction.
pub async fn decide(db: &Db, user: &CurrentUser, request: &Request<'_>) -> Outcome<ReviewItem> {
    let mut tx = db.pool.begin().await?;
    let decided = match decide_in(&mut tx, db, user, request).await? {
        Ok(decided) => decided,
        Err(refusal) => return Ok(Err(refusal)),
    };
    tx.commit().await?;
    if let Some(decided) = decided {
        return Ok(Ok(decided));
    }
    match item(db, request.item_id).await? {
        Some(item) => Ok(Ok(item)),
        None => invalid(format!("there is no item {}", request.item_id)),
    }
}

/// The same decision on several items, all or none; high-risk items need one decision each.
pub async fn decide_many(db: &Db, user: &CurrentUser, requests: &[Request<'_>]) -> Outcome<usize> {
    let mut tx = db.pool.begin().await?;
    for request in requests {
        if let Err(refusal) = decide_in(&mut tx, db, user, request).await? {
            return Ok(Err(refusal));
        }
    }
    tx.commit().await?;
    Ok(Ok(requests.len()))
}

/// Decides one item in `tx`. Returns the item as decided when that needs no second read (a
/// decision), `None` when the item was handed on.
async fn decide_in(tx: &mut sqlx::AnyConnection, db: &Db, user: &CurrentUser, request: &Request<'_>) -> Outcome<Option<ReviewItem>> {
    // The item, its campaign's state and its assignment, in one read.
    let row = sqlx::query(&format!(
        "select c.status as campaign_status, c.stage as campaign_stage, r.reviewer_id as assigned_reviewer, \
         r.reviewer_group_id as assigned_group, {ITEM_COLUMNS} where r.item_id = $1"
    ))
    .bind(request.item_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return invalid(format!("there is no item {}", request.item_id)) };
    let current = item_row(&row)?;
    let status = CampaignStatus::parse(&row.try_get::<String, _>("campaign_status")?).map_err(|e| decode_err("campaign_status", e))?;
    let campaign_stage: i64 = row.try_get("campaign_stage")?;
    if status != CampaignStatus::Active || current.stage != campaign_stage || current.outcome.is_some() {
        return Ok(Err(Refusal::NotYours("this campaign stage is closed; its decisions are final".into())));
    }
    let reviewer_id: Option<i64> = row.try_get("assigned_reviewer")?;
    let group_id: Option<i64> = row.try_get("assigned_group")?;
    let mine = match (reviewer_id, group_id) {
        (Some(_), _) => user.identity_id.is_some() && reviewer_id == user.identity_id,
        // Any member of the group; the version below lets only the first decision through.
        (None, Some(group)) => crate::groups::server::repo::groups_of(db, user).await?.contains(&group),
        (None, None) => false,
    };
    let own_access = user.identity_id == Some(current.identity_id)
        || matches!((&user.email, &current.identity_email), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
    if own_access {
        tracing::warn!(user = %user.display_name, item = request.item_id, "refused a decision on the reviewer's own access");
        return Ok(Err(Refusal::NotYours("this is your own access; someone else must review it".into())));
    }
    if !mine {
        return Ok(Err(Refusal::NotYours("this item is not assigned to you".into())));
    }
    if request.version != current.version {
        return Ok(Err(Refusal::Conflict(Box::new(current))));
    }
    let justification = request.justification.trim();
    if justification.chars().count() > MAX_JUSTIFICATION {
        return invalid(format!("the justification is {} characters; at most {MAX_JUSTIFICATION}", justification.chars().count()));
    }
    if request.bulk && current.high_risk {
        return invalid(format!(
            "{} · {} has risk {}: high-risk items need one decision each, with a justification",
            current.identity_name, current.entitlement, current.risk_score
        ));
    }
    let at = now();
    let (action, update, until, reassigned_to): (String, Sql, Option<i64>, Option<i64>) = match &request.action {
        Action::Decide(decision) => {
            if current.needs_justification.contains(decision) && justification.is_empty() {
                return invalid(format!("a justification is required to {} this item", decision.as_str()));
            }
            let until = if *decision == Decision::Exception {
                let until = match end_of_day(request.until, "exception until") {
                    Ok(u) => u,
                    Err(e) => return invalid(e),
                };
                if until <= at {
                    return invalid("exception until: the date must be in the future");
                }
                if until > at + current.max_exception_days * DAY {
                    return invalid(format!("exception until: at most {} days from today", current.max_exception_days));
                }
                Some(until)
            } else {
                None
            };
            let mut update = Sql::new("update review_item set decision = ");
            update.bind(decision.as_str()).push(", exception_until = ").bind(until).push(", justification = ");
            update.bind(Some(justification.to_string()).filter(|j| !j.is_empty())).push(", decided_by = ").bind(user.display_name.clone());
            update.push(", decided_at = ").bind(at);
            (decision.as_str().to_string(), update, until, None)
        }
        Action::Reassign(email) => {
            if justification.is_empty() {
                return invalid("say why you hand this item on");
            }
            let Some((to, _)) = person_by_email(db, email).await? else {
                return invalid(format!("reassign: nobody active in the inventory has the email `{}`", email.trim()));
            };
            if to == current.identity_id || current.identity_email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email.trim())) {
                return invalid("reassign: that person holds this access and cannot review it");
            }
            if Some(to) == reviewer_id {
                return invalid("reassign: the item is already assigned to that person");
            }
            let mut update = Sql::new("update review_item set reviewer_group_id = null, reviewer_id = ");
            update.bind(to).push(", assigned_by = ").bind(format!("reassigned by {}: {justification}", user.display_name));
            update.push(", decision = null, exception_until = null, justification = null, decided_by = null, decided_at = null");
            ("reassign".to_string(), update, None, Some(to))
        }
        Action::Abstain => {
            let fallback = ids(db, current.campaign_id).await?.fallback;
            if Some(fallback) == user.identity_id {
                return invalid("you are this campaign's fallback reviewer: decide, or reassign the item to someone who knows");
            }
            let mut update = Sql::new("update review_item set reviewer_group_id = null, reviewer_id = ");
            update.bind(fallback).push(", assigned_by = ").bind(format!("fallback: {} did not know", user.display_name));
            update.push(", decision = null, exception_until = null, justification = null, decided_by = null, decided_at = null");
            ("abstain".to_string(), update, None, Some(fallback))
        }
    };
    let mut update = update;
    update.push(", version = version + 1 where item_id = ").bind(request.item_id).push(" and version = ").bind(request.version);
    let changed = update.query()?.execute(&mut *tx).await?.rows_affected();
    if changed == 0 {
        let Some(now_item) = item(db, request.item_id).await? else { return invalid("the item is gone") };
        return Ok(Err(Refusal::Conflict(Box::new(now_item))));
    }
    chain::append(
        tx,
        NewEntry {
            campaign_id: current.campaign_id,
            item_id: Some(request.item_id),
            stage: current.stage,
            action: &action,
            justification: Some(justification).filter(|j| !j.is_empty()),
            exception_until: until,
            reassigned_to,
            bulk: request.bulk,
            approver: &user.display_name,
            approver_subject: &user.subject,
            at,
        },
    )
    .await?;
    let decided = match &request.action {
        Action::Decide(decision) => Some(ReviewItem {
            decision: Some(*decision),
            exception_until: until,
            justification: Some(justification.to_string()).filter(|j| !j.is_empty()),
            decided_by: Some(user.display_name.clone()),
            decided_at: Some(at),
            version: current.version + 1,
            ..current
        }),
        Action::Reassign(_) | Action::Abstain => None,
    };
    Ok(Ok(decided))
}

/// Closes the current stage: undecided items follow the deadline rule; in a first of two
/// stages, approved items and exceptions go on to the second stage's reviewer; otherwise
/// decisions become final and the campaign closes. Every item's end is logged.
pub async fn close_stage(db: &Db, campaign_id: i64, by: &CurrentUser) -> Outcome<Campaign> {
    close_stage_as(db, campaign_id, by, None).await
}

/// The most stages a campaign has.
pub const MAX_STAGES: i64 = 2;

/// [`close_stage`], with a note on the log entry that closes the stage (why it closed, when
/// the scheduler closes it at the deadline in the owner's name).
pub async fn close_stage_as(db: &Db, campaign_id: i64, by: &CurrentUser, note: Option<&str>) -> Outcome<Campaign> {
    let Some(campaign) = get(db, campaign_id).await? else { return invalid(format!("there is no campaign {campaign_id}")) };
    if campaign.status != CampaignStatus::Active {
        return invalid("only an active campaign has a stage to close");
    }
    let ids = ids(db, campaign_id).await?;
    let stage = campaign.stage;
    let last_stage = stage >= campaign.stages;
    let at = now();
    let mut tx = db.pool.begin().await?;
    // Write first: it waits for other writers, and a second close of the same stage finds nothing.
    let claimed = sqlx::query("update campaign set stage = stage where campaign_id = $1 and status = 'active' and stage = $2")
        .bind(campaign_id)
        .bind(stage)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if claimed == 0 {
        return invalid("this stage was closed meanwhile");
    }
    let rows = sqlx::query("select item_id, decision, risk_score, identity_id, identity_email from review_item where campaign_id = $1 and stage = $2 and outcome is null")
        .bind(campaign_id)
        .bind(stage)
        .fetch_all(&mut *tx)
        .await?;
    let approver = format!("{} (closing stage {stage})", by.display_name);
    for row in &rows {
        let item_id: i64 = row.try_get("item_id")?;
        let decision: Option<String> = row.try_get("decision")?;
        let risk: i64 = row.try_get("risk_score")?;
        let (outcome, action) = match decision.as_deref() {
            None => {
                let revoke = match campaign.deadline_action {
                    DeadlineAction::Keep => false,
                    DeadlineAction::Revoke => true,
                    DeadlineAction::Recommendation => risk >= campaign.high_risk,
                };
                if revoke { ("revoked at the deadline", "deadline: revoke") } else { ("kept at the deadline", "deadline: keep") }
            }
            Some("revoke") => ("revoked", "final: revoke"),
            Some(_) if !last_stage => ("", "to stage 2"),
            Some("exception") => ("exception", "final: exception"),
            Some(_) => ("approved", "final: approve"),
        };
        if outcome.is_empty() {
            let identity_id: i64 = row.try_get("identity_id")?;
            let email: Option<String> = row.try_get("identity_email")?;
            let stage2 = ids.stage2.unwrap_or(ids.fallback);
            let stage2_self = stage2 == identity_id || same_email(db, stage2, email.as_deref()).await?;
            let reviewer = if stage2_self { (ids.fallback != identity_id).then_some(ids.fallback) } else { Some(stage2) };
            let assigned = if stage2_self { "fallback: the second-stage reviewer holds this access" } else { "second stage" };
            sqlx::query(
                "update review_item set stage = $1, reviewer_id = $2, reviewer_group_id = null, assigned_by = $3, decision = null, exception_until = null, \
                 justification = null, decided_by = null, decided_at = null, version = version + 1 where item_id = $4",
            )
            .bind(stage + 1)
            .bind(reviewer)
            .bind(assigned)
            .bind(item_id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("update review_item set outcome = $1, version = version + 1 where item_id = $2")
                .bind(outcome)
                .bind(item_id)
                .execute(&mut *tx)
                .await?;
        }
        chain::append(&mut tx, NewEntry::event(campaign_id, Some(item_id), stage, action, &approver, &by.subject, at)).await?;
    }
    crate::evidence::server::remediation::open_tasks(&mut tx, campaign_id, at).await?;
    let action = if last_stage {
        sqlx::query("update campaign set status = 'closed', closed_at = $1 where campaign_id = $2")
            .bind(at)
            .bind(campaign_id)
            .execute(&mut *tx)
            .await?;
        "close"
    } else {
        sqlx::query("update campaign set stage = stage + 1 where campaign_id = $1").bind(campaign_id).execute(&mut *tx).await?;
        "close stage"
    };
    chain::append(
        &mut tx,
        NewEntry {
            campaign_id,
            item_id: None,
            stage,
            action,
            justification: note,
            exception_until: None,
            reassigned_to: None,
            bulk: false,
            approver: &by.display_name,
            approver_subject: &by.subject,
            at,
        },
    )
    .await?;
    tx.commit().await?;
    match get(db, campaign_id).await? {
        Some(c) => Ok(Ok(c)),
        None => invalid("the campaign is gone"),
    }
}

async fn same_email(db: &Db, identity_id: i64, email: Option<&str>) -> Result<bool> {
    let Some(email) = email else { return Ok(false) };
    Ok(email_of(db, Some(identity_id)).await?.is_some_and(|e| e.eq_ignore_ascii_case(email)))
}

/// Everything the campaign page shows.
pub async fn detail(db: &Db, campaign_id: i64, may_run: bool) -> Result<Option<CampaignDetail>> {
    let Some(campaign) = get(db, campaign_id).await? else { return Ok(None) };
    let progress = |group: &str| {
        format!(
            "select {group} as name, count(*) as total, coalesce(sum(case when r.decision is not null or r.outcome is not null then 1 else 0 end), 0) as decided \
             from review_item r left join identity v on v.identity_id = r.reviewer_id \
             left join reviewer_group rg on rg.reviewer_group_id = r.reviewer_group_id where r.campaign_id = $1 and r.stage = $2 \
             group by {group} order by count(*) - coalesce(sum(case when r.decision is not null or r.outcome is not null then 1 else 0 end), 0) desc, {group} limit 50"
        )
    };
    let mut groups = Vec::new();
    // A group counts as one reviewer: its items wait for whichever member decides first.
    for group in ["coalesce(v.display_name, rg.name || ' (group)', 'unassigned')", "r.application"] {
        let rows = sqlx::query(&progress(group)).bind(campaign_id).bind(campaign.stage.max(1)).fetch_all(&db.pool).await?;
        groups.push(
            rows.iter()
                .map(|r| Ok(ProgressRow { name: r.try_get("name")?, total: r.try_get("total")?, decided: r.try_get("decided")? }))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let by_application = groups.pop().unwrap_or_default();
    let by_reviewer = groups.pop().unwrap_or_default();
    let (items, decided) = by_reviewer.iter().fold((0, 0), |(t, d), r| (t + r.total, d + r.decided));
    let (items, decided) = if by_reviewer.len() < 50 {
        (items, decided)
    } else {
        let row = sqlx::query(
            "select count(*) as total, coalesce(sum(case when decision is not null or outcome is not null then 1 else 0 end), 0) as decided \
             from review_item where campaign_id = $1 and stage = $2",
        )
        .bind(campaign_id)
        .bind(campaign.stage.max(1))
        .fetch_one(&db.pool)
        .await?;
        (row.try_get("total")?, row.try_get("decided")?)
    };

    let outcomes = sqlx::query("select coalesce(outcome, 'open') as outcome, count(*) as n from review_item where campaign_id = $1 group by coalesce(outcome, 'open') order by 2 desc")
        .bind(campaign_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("outcome")?, r.try_get("n")?)))
        .collect::<Result<Vec<(String, i64)>>>()?;
    let revoked = sqlx::query(&format!(
        "select {ITEM_COLUMNS} where r.campaign_id = $1 and r.outcome like 'revoked%' order by r.risk_score desc, r.item_id limit 500"
    ))
    .bind(campaign_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(item_row)
    .collect::<Result<Vec<_>>>()?;
    let events = sqlx::query(
        "select seq, at, action, approver, justification from decision_log where campaign_id = $1 and item_id is null order by seq",
    )
    .bind(campaign_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(LogLine {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            action: r.try_get("action")?,
            approver: r.try_get("approver")?,
            justification: r.try_get("justification")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let analytics = analytics(db, &campaign).await?;
    let chain = chain::verify(db).await?;
    Ok(Some(CampaignDetail {
        campaign,
        items,
        decided,
        by_reviewer,
        by_application,
        analytics,
        outcomes,
        revoked,
        remediation: crate::evidence::server::remediation::counts(db, Some(campaign_id)).await?,
        events,
        chain,
        may_run,
        now: now(),
    }))
}

/// Per reviewer: how many decisions, how fast, how often high risk was approved, how much
/// was decided in bulk.
async fn analytics(db: &Db, campaign: &Campaign) -> Result<Vec<ReviewerAnalytics>> {
    let rows = sqlx::query(
        "select l.approver_subject, l.approver, l.at, l.action, l.bulk, coalesce(r.risk_score, 0) as risk from decision_log l \
         left join review_item r on r.item_id = l.item_id \
         where l.campaign_id = $1 and l.action in ('approve', 'revoke', 'exception') order by l.approver_subject, l.at, l.seq",
    )
    .bind(campaign.campaign_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out: Vec<(String, ReviewerAnalytics, Vec<i64>)> = Vec::new();
    for row in &rows {
        let subject: String = row.try_get("approver_subject")?;
        let at: i64 = row.try_get("at")?;
        let action: String = row.try_get("action")?;
        let bulk: i64 = row.try_get("bulk")?;
        let risk: i64 = row.try_get("risk")?;
        if out.last().is_none_or(|(s, _, _)| *s != subject) {
            let reviewer: String = row.try_get("approver")?;
            out.push((
                subject.clone(),
                ReviewerAnalytics { reviewer, decisions: 0, median_seconds: None, high_risk_decisions: 0, high_risk_approved: 0, bulk: 0 },
                Vec::new(),
            ));
        }
        let Some((_, a, times)) = out.last_mut() else { continue };
        a.decisions += 1;
        a.bulk += bulk;
        if risk >= campaign.high_risk {
            a.high_risk_decisions += 1;
            if action == "approve" {
                a.high_risk_approved += 1;
            }
        }
        times.push(at);
    }
    Ok(out
        .into_iter()
        .map(|(_, mut a, times)| {
            // Gaps over an hour are breaks, not time spent on a decision.
            let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).filter(|g| *g <= 3600).collect();
            gaps.sort_unstable();
            a.median_seconds = gaps.get(gaps.len() / 2).copied();
            a
        })
        .collect())
}
