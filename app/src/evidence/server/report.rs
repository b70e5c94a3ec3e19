//! The printable report: what was reviewed, by whom, with what outcome, and what became of
//! the revocations. Rendered with askama; "Save as PDF" in a browser gives a clean document.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use sqlx::Row;

use super::export::{ItemOut, Scope, iso};
use crate::db::{Db, DbError, Result};

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

#[derive(Debug, Default)]
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

/// The report's figures, gathered while the export streams its rows: nothing is read twice.
#[derive(Debug, Default)]
pub struct Tally {
    campaigns: BTreeMap<i64, i64>,
    outcomes: HashMap<String, i64>,
    remediation: BTreeMap<String, i64>,
    reviewers: HashMap<String, ReviewerLine>,
    exceptions: Vec<ItemOut>,
    exceptions_total: i64,
    revocations: Vec<ItemOut>,
    revocations_total: i64,
}

/// Keeps the `LISTED` riskiest of `list` once it grows past twice that.
fn keep_riskiest(list: &mut Vec<ItemOut>) {
    if list.len() >= 2 * LISTED as usize {
        list.sort_by(|a, b| b.risk_score_at_launch.cmp(&a.risk_score_at_launch).then(a.item_id.cmp(&b.item_id)));
        list.truncate(LISTED as usize);
    }
}

impl Tally {
    pub fn add(&mut self, item: ItemOut) {
        *self.campaigns.entry(item.campaign_id).or_default() += 1;
        let outcome = match (&item.outcome, &item.decision) {
            (Some(o), _) => o.clone(),
            (None, Some(d)) => format!("decided, stage open: {d}"),
            (None, None) => "undecided".to_string(),
        };
        *self.outcomes.entry(outcome).or_default() += 1;
        if let Some(status) = &item.remediation_status {
            *self.remediation.entry(status.clone()).or_default() += 1;
        }
        let name = item.reviewer.clone().unwrap_or_else(|| "(nobody)".to_string());
        let line = self.reviewers.entry(name.clone()).or_insert_with(|| ReviewerLine { name, ..ReviewerLine::default() });
        line.items += 1;
        if item.decision.is_some() || item.outcome.is_some() {
            line.decided += 1;
        }
        match item.decision.as_deref() {
            Some("approve") => {
                line.approved += 1;
                if item.risk_score_at_launch >= item.high_risk {
                    line.high_risk_approved += 1;
                }
            }
            Some("revoke") => line.revoked += 1,
            Some("exception") => line.exceptions += 1,
            _ => {}
        }
        if item.decision.as_deref() == Some("exception") {
            self.exceptions_total += 1;
            self.exceptions.push(item);
            keep_riskiest(&mut self.exceptions);
        } else if matches!(item.outcome.as_deref(), Some("revoked" | "revoked at the deadline")) {
            self.revocations_total += 1;
            self.revocations.push(item);
            keep_riskiest(&mut self.revocations);
        }
    }
}

fn opt_date(v: Option<i64>) -> String {
    v.map(crate::time_fmt::date).unwrap_or_else(|| "—".to_string())
}

fn day_of(iso: &Option<String>) -> String {
    iso.as_deref().and_then(|t| t.get(..10)).unwrap_or("—").to_string()
}

fn lines(mut items: Vec<ItemOut>) -> Vec<ItemLine> {
    items.sort_by(|a, b| b.risk_score_at_launch.cmp(&a.risk_score_at_launch).then(a.item_id.cmp(&b.item_id)));
    items.truncate(LISTED as usize);
    items
        .into_iter()
        .map(|i| ItemLine {
            who: i.approver.clone().unwrap_or_else(|| i.outcome.clone().unwrap_or_default()),
            when: day_of(&i.decided_at),
            until: day_of(&i.exception_until),
            remediation: match (&i.remediation_status, &i.remediation_done_by) {
                (Some(s), Some(by)) => format!("{s} (done by {by})"),
                (Some(s), None) => s.clone(),
                (None, _) => "—".to_string(),
            },
            justification: i.justification.unwrap_or_default(),
            identity: i.identity,
            kind: i.identity_kind,
            application: i.application,
            entitlement: i.entitlement,
            risk: i.risk_score_at_launch,
        })
        .collect()
}

/// Renders the report from what the export gathered; only the campaigns' own rows are read.
pub async fn render(db: &Db, scope: &Scope, tally: Tally, by: &str, at: i64, head_seq: i64, head_hash: &str) -> Result<String> {
    let mut campaigns = Vec::new();
    for (id, items) in &tally.campaigns {
        let Some(row) = sqlx::query(
            "select campaign_id, name, scope_query, status, created_by, launched_at, deadline_at, closed_at from campaign where campaign_id = $1",
        )
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        else {
            continue;
        };
        campaigns.push(CampaignLine {
            id: row.try_get("campaign_id")?,
            name: row.try_get("name")?,
            scope: row.try_get("scope_query")?,
            status: row.try_get("status")?,
            owner: row.try_get("created_by")?,
            launched: opt_date(row.try_get("launched_at")?),
            deadline: opt_date(row.try_get("deadline_at")?),
            closed: opt_date(row.try_get("closed_at")?),
            items: *items,
        });
    }
    let items = tally.campaigns.values().sum();
    let mut outcomes: Vec<(String, i64)> = tally.outcomes.into_iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut reviewers: Vec<ReviewerLine> = tally.reviewers.into_values().collect();
    reviewers.sort_by(|a, b| b.items.cmp(&a.items).then(a.name.cmp(&b.name)));
    reviewers.truncate(LISTED as usize);
    let report = Report {
        scope: scope.describe(),
        generated_at: iso(at),
        generated_by: by.to_string(),
        head_seq,
        head_hash: head_hash.to_string(),
        campaigns,
        items,
        outcomes: bars(outcomes),
        remediation: bars(tally.remediation.into_iter().collect()),
        reviewers,
        exceptions: lines(tally.exceptions),
        exceptions_total: tally.exceptions_total,
        revocations: lines(tally.revocations),
        revocations_total: tally.revocations_total,
        listed: LISTED,
    };
    report.render().map_err(|e| DbError::Io(std::io::Error::other(e)))
}
