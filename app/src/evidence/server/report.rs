//! The printable report: what was reviewed, by whom, with what outcome, and what became of
//! the revocations. Rendered with askama; "Save as PDF" in a browser gives a clean document.

use askama::Template;
use sqlx::Row;

use super::export::{Scope, iso};
use crate::db::{Db, DbError, Result, Sql};

/// Rows listed in full in each of the report's tables; the CSV holds them all.
pub const LISTED: i64 = 500;

pub struct CampaignLine {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub status: String,
    pub owner: String,
    pub launched: String,
    pub deadline: String,
    pub closed: String,
    pub items: i64,
}

pub struct Bar {
    pub label: String,
    pub count: i64,
    /// Width in percent of the widest bar.
    pub width: i64,
    pub y: i64,
}

pub struct ReviewerLine {
    pub name: String,
    pub items: i64,
    pub decided: i64,
    pub approved: i64,
    pub revoked: i64,
    pub exceptions: i64,
    pub high_risk_approved: i64,
}

pub struct ItemLine {
    pub identity: String,
    pub kind: String,
    pub application: String,
    pub entitlement: String,
    pub risk: i64,
    pub who: String,
    pub when: String,
    pub justification: String,
    pub until: String,
    pub remediation: String,
}

#[derive(Template)]
#[template(path = "evidence/report.html")]
pub struct Report {
    pub scope: String,
    pub generated_at: String,
    pub generated_by: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub campaigns: Vec<CampaignLine>,
    pub items: i64,
    pub outcomes: Vec<Bar>,
    pub remediation: Vec<Bar>,
    pub reviewers: Vec<ReviewerLine>,
    pub exceptions: Vec<ItemLine>,
    pub exceptions_total: i64,
    pub revocations: Vec<ItemLine>,
    pub revocations_total: i64,
    pub listed: i64,
}

fn bars(counts: Vec<(String, i64)>) -> Vec<Bar> {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    counts.into_iter().enumerate().map(|(i, (label, count))| Bar { label, count, width: count * 100 / max, y: i as i64 * 28 }).collect()
}

fn scoped(head: &str, scope: &Scope, tail: &str) -> Sql {
    let mut sql = Sql::new(head);
    if let Some(id) = scope.campaign_id {
        sql.push(" and r.campaign_id = ").bind(id);
    }
    if let Some(from) = scope.from_at {
        sql.push(" and r.decided_at >= ").bind(from);
    }
    if let Some(to) = scope.to_at {
        sql.push(" and r.decided_at <= ").bind(to);
    }
    sql.push(tail);
    sql
}

fn opt_date(v: Option<i64>) -> String {
    v.map(crate::time_fmt::date).unwrap_or_else(|| "—".to_string())
}

async fn item_lines(db: &Db, scope: &Scope, condition: &str) -> Result<(Vec<ItemLine>, i64)> {
    let from = "from review_item r left join remediation_task t on t.item_id = r.item_id where ";
    let total: i64 = scoped(&format!("select count(*) {from}{condition}"), scope, "").query_scalar()?.fetch_one(&db.pool).await?;
    let rows = scoped(
        &format!(
            "select r.identity_name, r.identity_kind, r.application, r.entitlement, r.risk_score, r.decided_by, r.decided_at, r.justification, \
             r.exception_until, r.outcome, t.status, t.done_by {from}{condition}"
        ),
        scope,
        &format!(" order by r.risk_score desc, r.item_id limit {LISTED}"),
    )
    .query()?
    .fetch_all(&db.pool)
    .await?;
    let lines = rows
        .iter()
        .map(|row| {
            let status: Option<String> = row.try_get("status")?;
            let done_by: Option<String> = row.try_get("done_by")?;
            let outcome: Option<String> = row.try_get("outcome")?;
            Ok(ItemLine {
                identity: row.try_get("identity_name")?,
                kind: row.try_get("identity_kind")?,
                application: row.try_get("application")?,
                entitlement: row.try_get("entitlement")?,
                risk: row.try_get("risk_score")?,
                who: row.try_get::<Option<String>, _>("decided_by")?.unwrap_or_else(|| outcome.clone().unwrap_or_default()),
                when: opt_date(row.try_get("decided_at")?),
                justification: row.try_get::<Option<String>, _>("justification")?.unwrap_or_default(),
                until: opt_date(row.try_get("exception_until")?),
                remediation: match (status, done_by) {
                    (Some(s), Some(by)) => format!("{s} (done by {by})"),
                    (Some(s), None) => s,
                    (None, _) => "—".to_string(),
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((lines, total))
}

/// Gathers the figures for `scope` and renders the report.
pub async fn render(db: &Db, scope: &Scope, by: &str, at: i64, head_seq: i64, head_hash: &str) -> Result<String> {
    let campaigns = scoped(
        "select c.campaign_id, c.name, c.scope_query, c.status, c.created_by, c.launched_at, c.deadline_at, c.closed_at, count(*) as items \
         from review_item r join campaign c on c.campaign_id = r.campaign_id where 1 = 1",
        scope,
        " group by c.campaign_id, c.name, c.scope_query, c.status, c.created_by, c.launched_at, c.deadline_at, c.closed_at order by c.campaign_id",
    )
    .query()?
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(CampaignLine {
            id: row.try_get("campaign_id")?,
            name: row.try_get("name")?,
            scope: row.try_get("scope_query")?,
            status: row.try_get("status")?,
            owner: row.try_get("created_by")?,
            launched: opt_date(row.try_get("launched_at")?),
            deadline: opt_date(row.try_get("deadline_at")?),
            closed: opt_date(row.try_get("closed_at")?),
            items: row.try_get("items")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let items = campaigns.iter().map(|c| c.items).sum();
    let outcomes = scoped(
        "select coalesce(r.outcome, case when r.decision is null then 'undecided' else 'decided, stage open: ' || r.decision end) as o, count(*) as n \
         from review_item r where 1 = 1",
        scope,
        " group by 1 order by 2 desc",
    )
    .query()?
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("o")?, row.try_get("n")?)))
    .collect::<Result<Vec<(String, i64)>>>()?;
    let remediation = scoped(
        "select t.status, count(*) as n from remediation_task t join review_item r on r.item_id = t.item_id where 1 = 1",
        scope,
        " group by t.status order by t.status",
    )
    .query()?
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
    .collect::<Result<Vec<(String, i64)>>>()?;
    let reviewers = scoped(
        "select coalesce(rv.display_name, '(nobody)') as name, count(*) as items, \
         sum(case when r.decision is not null or r.outcome is not null then 1 else 0 end) as decided, \
         sum(case when r.decision = 'approve' then 1 else 0 end) as approved, \
         sum(case when r.decision = 'revoke' then 1 else 0 end) as revoked, \
         sum(case when r.decision = 'exception' then 1 else 0 end) as exceptions, \
         sum(case when r.decision = 'approve' and r.risk_score >= c.high_risk then 1 else 0 end) as high_risk_approved \
         from review_item r join campaign c on c.campaign_id = r.campaign_id left join identity rv on rv.identity_id = r.reviewer_id where 1 = 1",
        scope,
        " group by coalesce(rv.display_name, '(nobody)') order by 2 desc limit 500",
    )
    .query()?
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(ReviewerLine {
            name: row.try_get("name")?,
            items: row.try_get("items")?,
            decided: row.try_get("decided")?,
            approved: row.try_get("approved")?,
            revoked: row.try_get("revoked")?,
            exceptions: row.try_get("exceptions")?,
            high_risk_approved: row.try_get("high_risk_approved")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let (exceptions, exceptions_total) = item_lines(db, scope, "r.decision = 'exception'").await?;
    let (revocations, revocations_total) = item_lines(db, scope, "r.outcome in ('revoked', 'revoked at the deadline')").await?;
    let report = Report {
        scope: scope.describe(),
        generated_at: iso(at),
        generated_by: by.to_string(),
        head_seq,
        head_hash: head_hash.to_string(),
        campaigns,
        items,
        outcomes: bars(outcomes),
        remediation: bars(remediation),
        reviewers,
        exceptions,
        exceptions_total,
        revocations,
        revocations_total,
        listed: LISTED,
    };
    report.render().map_err(|e| DbError::Io(std::io::Error::other(e)))
}
