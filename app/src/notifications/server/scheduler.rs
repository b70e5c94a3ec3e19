//! What mail is due, decided from the campaigns and the time the caller gives (so tests can
//! move it): launch notices (written with the launch), reminder digests, escalations, weekly
//! summaries for campaign owners, and closing what is still open after the deadline.
//!
//! Every mail is written with what it covers in one transaction, under a key that names it,
//! so running the scheduler again, or after a restart, never writes a mail twice.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::outbox::{self, NewMail};
use crate::db::{Db, Result, Sql};
use crate::notifications::{MailContent, MailKind, MailTable};
use crate::time_fmt::{DAY, date};

/// What one run of the scheduler did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Campaigns whose open stages were closed after the deadline.
    pub closed: Vec<i64>,
    pub reminders: usize,
    pub escalations: usize,
    pub summaries: usize,
    /// Mails that could not be written for want of an address (their owners were told).
    pub undeliverable: usize,
    /// Campaign owners told of exceptions that expire within a week.
    pub exceptions: usize,
    /// Follow-up reviews opened for expired exceptions.
    pub follow_ups: Vec<i64>,
}

/// "1 access review item waits" or "4 access review items wait".
fn items_wait(n: i64) -> String {
    if n == 1 { "1 access review item waits".to_string() } else { format!("{n} access review items wait") }
}

/// Runs every rule once at `now`.
#[tracing::instrument(skip_all, fields(now))]
pub async fn run(db: &Db, now: i64) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    close_after_deadline(db, now, &mut summary).await?;
    remind(db, now, &mut summary).await?;
    escalate(db, now, &mut summary).await?;
    weekly_summaries(db, now, &mut summary).await?;
    exceptions_expiring(db, now, &mut summary).await?;
    summary.follow_ups = crate::evidence::server::exceptions::follow_up_expired(db, now).await?;
    Ok(summary)
}

/// An active campaign as the scheduler sees it.
#[derive(Debug, Clone)]
struct Active {
    campaign_id: i64,
    name: String,
    stage: i64,
    deadline_at: i64,
    launched_at: i64,
    reminder_days: Vec<i64>,
    escalate_after_days: i64,
    close_after_days: i64,
    owner_user_id: i64,
    owner_name: String,
}

async fn active_campaigns(db: &Db) -> Result<Vec<Active>> {
    let rows = sqlx::query(
        "select campaign_id, name, stage, deadline_at, coalesce(launched_at, created_at) as launched_at, reminder_days, escalate_after_days, \
         close_after_days, created_by_user_id, created_by from campaign where status = 'active' order by campaign_id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Active {
                campaign_id: r.try_get("campaign_id")?,
                name: r.try_get("name")?,
                stage: r.try_get("stage")?,
                deadline_at: r.try_get("deadline_at")?,
                launched_at: r.try_get("launched_at")?,
                reminder_days: parse_days(&r.try_get::<String, _>("reminder_days")?).unwrap_or_else(|_| vec![7, 3, 1]),
                escalate_after_days: r.try_get("escalate_after_days")?,
                close_after_days: r.try_get("close_after_days")?,
                owner_user_id: r.try_get("created_by_user_id")?,
                owner_name: r.try_get("created_by")?,
            })
        })
        .collect()
}

/// `7,3,1` → [7, 3, 1]: whole days before the deadline, 0 to 90, at most ten of them.
pub fn parse_days(text: &str) -> std::result::Result<Vec<i64>, String> {
    let mut days = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(d) if (0..=90).contains(&d) => days.push(d),
            _ => return Err(format!("`{part}` is not a number of days from 0 to 90")),
        }
    }
    if days.len() > 10 {
        return Err("at most ten reminders before the deadline".into());
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    Ok(days)
}

/// The latest reminder slot that has come by `now` and came after the launch (the launch
/// notice covers the time before): the start of the day `d` days before the deadline's day
/// for each `d` of the schedule, then the start of every day after the deadline.
pub fn latest_slot(deadline_at: i64, launched_at: i64, reminder_days: &[i64], now: i64) -> Option<i64> {
    let deadline_day = deadline_at.div_euclid(DAY) * DAY;
    let today = now.div_euclid(DAY) * DAY;
    let before = reminder_days.iter().map(|d| deadline_day - d * DAY);
    let overdue = (today > deadline_at).then_some(today);
    before.chain(overdue).filter(|slot| *slot <= now && *slot > launched_at).max()
}

/// Monday 00:00 UTC of the week `now` falls in.
pub fn week_start(now: i64) -> i64 {
    let days = now.div_euclid(DAY);
    (days - (days + 3).rem_euclid(7)) * DAY
}

/// The campaign owner's address: the owner's identity in the inventory, else the address
/// they signed in with.
async fn owner_address(conn: &mut AnyConnection, owner_user_id: i64) -> Result<Option<String>> {
    let row = sqlx::query(
        "select coalesce(i.email, u.email) as email from app_user u left join identity i on i.identity_id = u.identity_id where u.app_user_id = $1",
    )
    .bind(owner_user_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get::<Option<String>, _>("email")).transpose()?.flatten().filter(|e| outbox::valid_address(e)))
}

/// Records that `who` could not be mailed and tells the campaign owner, once per person and
/// campaign. Never silent: without an owner's address either, both show as failed on the
/// Outbox page.
#[allow(clippy::too_many_arguments)]
async fn report_missing(
    conn: &mut AnyConnection,
    kind: MailKind,
    campaign_id: i64,
    campaign: &str,
    owner_user_id: i64,
    who: (i64, &str, Option<&str>),
    slot: &str,
    now: i64,
) -> Result<()> {
    let (identity_id, name, email) = who;
    let reason = match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(bad) => format!("{name}'s email in the inventory, `{bad}`, is not a valid address"),
        None => format!("{name} has no email address in the inventory"),
    };
    let subject = format!("Could not send a {} about {campaign}", kind.label());
    let content = MailContent::default();
    outbox::undeliverable(
        conn,
        &NewMail { kind, recipient: "", campaign_id, slot, subject: &subject, content: &content },
        name,
        &reason,
        now,
    )
    .await?;
    let content = MailContent {
        greeting: "Hello,".into(),
        lead: format!("attest could not send a {} about the campaign “{campaign}”: {reason}.", kind.label()),
        paragraphs: vec![
            "They do not know what waits for them. Correct the address in the source and import it again, or reassign their items to someone who can be reached.".into(),
        ],
        action: Some(("Open the campaign".into(), format!("/campaigns/{campaign_id}"))),
        ..Default::default()
    };
    let subject = format!("No address for {name} in “{campaign}”");
    let key = format!("identity {identity_id}");
    let mail = NewMail { kind: MailKind::Undeliverable, recipient: "", campaign_id, slot: &key, subject: &subject, content: &content };
    match owner_address(conn, owner_user_id).await? {
        Some(owner) => {
            outbox::enqueue(conn, &NewMail { recipient: &owner, ..mail }, now).await?;
        }
        None => {
            tracing::warn!(campaign_id, "the campaign owner has no valid address either");
            outbox::undeliverable(conn, &mail, "the campaign owner", "the campaign owner has no valid email address", now).await?;
        }
    }
    Ok(())
}

/// One launch notice per reviewer, written in the launch's transaction: the campaign, how many
/// items, how many of them high risk, the deadline and the link to the queue.
pub async fn launch_notices(conn: &mut AnyConnection, campaign_id: i64, now: i64) -> Result<usize> {
    let campaign = sqlx::query(
        "select name, deadline_at, high_risk, created_by, created_by_user_id, reviewer_group_id from campaign where campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_one(&mut *conn)
    .await?;
    let name: String = campaign.try_get("name")?;
    let deadline_at: i64 = campaign.try_get("deadline_at")?;
    let owner_name: String = campaign.try_get("created_by")?;
    let owner_user_id: i64 = campaign.try_get("created_by_user_id")?;
    // Each reviewer once: for the items assigned to them, and for those of their reviewer
    // groups but their own access.
    let mut reviewers: BTreeMap<i64, (String, Option<String>, i64, i64, i64)> = BTreeMap::new();
    let rows = sqlx::query(
        "select v.identity_id, v.display_name, v.email, count(*) as items, \
         coalesce(sum(case when r.risk_score >= c.high_risk then 1 else 0 end), 0) as high \
         from review_item r join campaign c on c.campaign_id = r.campaign_id join identity v on v.identity_id = r.reviewer_id \
         where r.campaign_id = $1 group by v.identity_id, v.display_name, v.email",
    )
    .bind(campaign_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        reviewers.insert(
            row.try_get("identity_id")?,
            (row.try_get("display_name")?, row.try_get("email")?, row.try_get("items")?, row.try_get("high")?, 0),
        );
    }
    // A group's members one by one, each counting the group's items but their own access: a
    // single join of members to a million items lets the planner start from the wrong side.
    let group: Option<i64> = campaign.try_get("reviewer_group_id")?;
    if let Some(group) = group {
        let members = sqlx::query(&format!(
            "select v.identity_id, v.display_name, v.email from reviewer_group_member gm \
             join identity v on v.identity_id = gm.identity_id and {} where gm.reviewer_group_id = $1",
            crate::groups::server::repo::ELIGIBLE
        ))
        .bind(group)
        .fetch_all(&mut *conn)
        .await?;
        for member in &members {
            let identity_id: i64 = member.try_get("identity_id")?;
            let email: Option<String> = member.try_get("email")?;
            let counts = sqlx::query(
                "select count(*) as items, coalesce(sum(case when r.risk_score >= c.high_risk then 1 else 0 end), 0) as high \
                 from review_item r join campaign c on c.campaign_id = r.campaign_id \
                 where r.campaign_id = $1 and r.reviewer_group_id = $2 and r.identity_id <> $3 \
                 and not coalesce(lower(r.identity_email) = lower($4), false)",
            )
            .bind(campaign_id)
            .bind(group)
            .bind(identity_id)
            .bind(email.clone())
            .fetch_one(&mut *conn)
            .await?;
            let (items, high): (i64, i64) = (counts.try_get("items")?, counts.try_get("high")?);
            if items == 0 {
                continue;
            }
            let entry = reviewers.entry(identity_id).or_insert((member.try_get("display_name")?, email, 0, 0, 0));
            entry.2 += items;
            entry.3 += high;
            entry.4 += items;
        }
    }
    let mut written = 0;
    for (identity_id, (reviewer, email, items, high, for_group)) in reviewers {
        let Some(address) = email.as_deref().filter(|e| outbox::valid_address(e)) else {
            report_missing(
                conn,
                MailKind::Launch,
                campaign_id,
                &name,
                owner_user_id,
                (identity_id, &reviewer, email.as_deref()),
                "launch",
                now,
            )
            .await?;
            continue;
        };
        let content = MailContent {
            greeting: format!("Hello {reviewer},"),
            lead: format!(
                "{owner_name} launched the access review “{name}”. You are asked to certify the access below before the deadline."
            ),
            facts: vec![
                ("Campaign".into(), name.clone()),
                ("Items for you".into(), items.to_string()),
                ("High risk".into(), high.to_string()),
                ("Deadline".into(), format!("{} (end of day, UTC)", date(deadline_at))),
            ],
            paragraphs: std::iter::once(
                "The riskiest items come first. Approve what is still needed, revoke what is not; high-risk items need a justification."
                    .to_string(),
            )
            .chain((for_group > 0).then(|| {
                format!(
                    "{} for a reviewer group you are in: any member may decide them, and the first decision counts.",
                    if for_group == 1 { "1 of them is".to_string() } else { format!("{for_group} of them are") }
                )
            }))
            .collect(),
            action: Some(("Open my reviews".into(), "/reviews".into())),
            ..Default::default()
        };
        let subject =
            format!("Access review: {items} {} for you in “{name}”, due {}", if items == 1 { "item" } else { "items" }, date(deadline_at));
        let mail =
            NewMail { kind: MailKind::Launch, recipient: address, campaign_id, slot: "launch", subject: &subject, content: &content };
        if outbox::enqueue(conn, &mail, now).await?.is_some() {
            written += 1;
        }
    }
    Ok(written)
}

/// Reviewers with undecided items in a campaign whose latest slot they have not been reminded of.
async fn remind(db: &Db, now: i64, summary: &mut RunSummary) -> Result<()> {
    let mut targets: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for campaign in active_campaigns(db).await? {
        let Some(slot) = latest_slot(campaign.deadline_at, campaign.launched_at, &campaign.reminder_days, now) else { continue };
        let rows = sqlx::query(
            "select distinct r.reviewer_id from review_item r where r.campaign_id = $1 and r.stage = $2 and r.outcome is null \
             and r.decision is null and r.reviewer_id is not null and not exists (select 1 from reminder m \
             where m.campaign_id = r.campaign_id and m.identity_id = r.reviewer_id and m.slot_at = $3)",
        )
        .bind(campaign.campaign_id)
        .bind(campaign.stage)
        .bind(slot)
        .fetch_all(&db.pool)
        .await?;
        for row in &rows {
            targets.entry(row.try_get("reviewer_id")?).or_default().push((campaign.campaign_id, slot));
        }
        for member in waiting_members(db, campaign.campaign_id, Some(slot)).await? {
            let slots = targets.entry(member).or_default();
            if !slots.contains(&(campaign.campaign_id, slot)) {
                slots.push((campaign.campaign_id, slot));
            }
        }
    }
    for (reviewer, slots) in targets {
        digest(db, reviewer, &slots, now, summary).await?;
    }
    Ok(())
}

/// Reminds the reviewers of one campaign now, outside the schedule (a campaign owner's nudge):
/// the same digest, at most one a day.
pub async fn remind_now(db: &Db, campaign_id: i64, now: i64) -> Result<usize> {
    let rows = sqlx::query(
        "select distinct r.reviewer_id from review_item r join campaign c on c.campaign_id = r.campaign_id where r.campaign_id = $1 \
         and c.status = 'active' and r.stage = c.stage and r.outcome is null and r.decision is null and r.reviewer_id is not null",
    )
    .bind(campaign_id)
    .fetch_all(&db.pool)
    .await?;
    let mut reviewers = rows.iter().map(|r| r.try_get("reviewer_id")).collect::<std::result::Result<Vec<i64>, _>>()?;
    reviewers.extend(waiting_members(db, campaign_id, None).await?);
    reviewers.sort_unstable();
    reviewers.dedup();
    let mut summary = RunSummary::default();
    for reviewer in reviewers {
        digest(db, reviewer, &[(campaign_id, now)], now, &mut summary).await?;
    }
    Ok(summary.reminders)
}

/// The members of reviewer groups with undecided items in the campaign's open stage that are
/// not their own access; with a slot, only those not reminded of it yet. Found per member,
/// each stopping at the first such item, rather than by going through every item.
async fn waiting_members(db: &Db, campaign_id: i64, slot: Option<i64>) -> Result<Vec<i64>> {
    use crate::groups::server::repo::{ELIGIBLE, not_own};
    let mut sql = Sql::new(
        "select distinct v.identity_id from reviewer_group_member gm join identity v on v.identity_id = gm.identity_id \
         join campaign c on c.reviewer_group_id = gm.reviewer_group_id where c.campaign_id = ",
    );
    sql.bind(campaign_id).push(&format!(
        " and c.status = 'active' and {ELIGIBLE} and exists (select 1 from review_item r \
         where r.reviewer_group_id = gm.reviewer_group_id and r.outcome is null and r.campaign_id = c.campaign_id and r.stage = c.stage \
         and r.decision is null and {})",
        not_own("r", "v")
    ));
    if let Some(slot) = slot {
        sql.push(" and not exists (select 1 from reminder m where m.campaign_id = c.campaign_id and m.identity_id = v.identity_id and m.slot_at = ");
        sql.bind(slot).push(")");
    }
    sql.push(" order by v.identity_id");
    Ok(sql.query_scalar()?.fetch_all(&db.pool).await?)
}

/// One reviewer's digest across all their campaigns, written with the slots it covers. One a
/// day at most: a second slot on the same day is covered by the first digest.
async fn digest(db: &Db, reviewer: i64, slots: &[(i64, i64)], now: i64, summary: &mut RunSummary) -> Result<()> {
    let Some(person) =
        sqlx::query("select display_name, email from identity where identity_id = $1").bind(reviewer).fetch_optional(&db.pool).await?
    else {
        return Ok(());
    };
    let name: String = person.try_get("display_name")?;
    let email: Option<String> = person.try_get("email")?;
    // Their items, and their groups' but their own access.
    let pending = format!(
        "from review_item r join campaign c on c.campaign_id = r.campaign_id \
         where c.status = 'active' and r.stage = c.stage and r.outcome is null and r.decision is null and r.item_id in \
         (select item_id from review_item where reviewer_id = $1 and outcome is null and decision is null union all \
         select r.item_id from review_item r {} where v.identity_id = $1 and r.outcome is null and r.decision is null)",
        crate::groups::server::repo::members_join()
    );
    let campaigns = sqlx::query(&format!(
        "select c.campaign_id, c.name, c.deadline_at, c.created_by_user_id, count(*) as open, \
         coalesce(sum(case when r.risk_score >= c.high_risk then 1 else 0 end), 0) as high {pending} \
         group by c.campaign_id, c.name, c.deadline_at, c.created_by_user_id order by c.deadline_at, c.campaign_id"
    ))
    .bind(reviewer)
    .fetch_all(&db.pool)
    .await?;
    if campaigns.is_empty() {
        return Ok(());
    }
    let top = sqlx::query(&format!("select r.identity_name, r.application, r.entitlement, r.risk_score, c.name {pending} order by r.risk_score desc, r.item_id limit 10"))
        .bind(reviewer)
        .fetch_all(&db.pool)
        .await?;
    let mut rows = Vec::new();
    let (mut open, mut overdue) = (0, false);
    for c in &campaigns {
        let deadline_at: i64 = c.try_get("deadline_at")?;
        let n: i64 = c.try_get("open")?;
        let high: i64 = c.try_get("high")?;
        open += n;
        overdue |= deadline_at < now;
        let due = if deadline_at < now { format!("overdue since {}", date(deadline_at)) } else { format!("due {}", date(deadline_at)) };
        rows.push(vec![c.try_get::<String, _>("name")?, n.to_string(), high.to_string(), due]);
    }
    let riskiest = top
        .iter()
        .map(|r| {
            Ok(vec![
                r.try_get::<String, _>("identity_name")?,
                format!("{} · {}", r.try_get::<String, _>("application")?, r.try_get::<String, _>("entitlement")?),
                r.try_get::<i64, _>("risk_score")?.to_string(),
                r.try_get::<String, _>("name")?,
            ])
        })
        .collect::<Result<Vec<_>>>()?;
    let key = date(now);
    let mut tx = db.pool.begin().await?;
    let valid = email.as_deref().filter(|e| outbox::valid_address(e));
    let outbox_id = match valid {
        Some(address) if !outbox::unsubscribed(&mut tx, address).await? => {
            let token = outbox::optout_token(&mut tx, address, now).await?;
            let content = MailContent {
                greeting: format!("Hello {name},"),
                lead: if overdue {
                    format!("{} for your decision, and a deadline has passed.", items_wait(open))
                } else {
                    format!("{} for your decision.", items_wait(open))
                },
                table: Some(MailTable {
                    caption: "Your open reviews".into(),
                    head: vec!["Campaign".into(), "Open".into(), "High risk".into(), "Deadline".into()],
                    rows,
                }),
                paragraphs: vec![format!(
                    "Riskiest first: {}.",
                    riskiest.iter().map(|r| format!("{} ({}, risk {})", r[0], r[1], r[2])).collect::<Vec<_>>().join("; ")
                )],
                action: Some(("Open my reviews".into(), "/reviews".into())),
                unsubscribe: Some(token),
                ..Default::default()
            };
            let subject =
                if overdue { format!("Overdue: {} for you", items_wait(open)) } else { format!("Reminder: {} for you", items_wait(open)) };
            let mail =
                NewMail { kind: MailKind::Reminder, recipient: address, campaign_id: 0, slot: &key, subject: &subject, content: &content };
            let id = outbox::enqueue(&mut tx, &mail, now).await?;
            if id.is_some() {
                summary.reminders += 1;
            }
            id
        }
        Some(_) => None,
        None => {
            for c in &campaigns {
                let campaign_id: i64 = c.try_get("campaign_id")?;
                let campaign: String = c.try_get("name")?;
                let owner: i64 = c.try_get("created_by_user_id")?;
                report_missing(&mut tx, MailKind::Reminder, campaign_id, &campaign, owner, (reviewer, &name, email.as_deref()), &key, now)
                    .await?;
            }
            summary.undeliverable += 1;
            None
        }
    };
    for (campaign_id, slot) in slots {
        sqlx::query(
            "insert into reminder (campaign_id, identity_id, slot_at, outbox_id, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (campaign_id, identity_id, slot_at) do nothing",
        )
        .bind(campaign_id)
        .bind(reviewer)
        .bind(slot)
        .bind(outbox_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// After `escalate_after_days` overdue, the campaign owner and each stalled reviewer's manager
/// hear who is stalled and with what; once per campaign stage.
async fn escalate(db: &Db, now: i64, summary: &mut RunSummary) -> Result<()> {
    for campaign in active_campaigns(db).await? {
        // N days overdue: from the start of the Nth day after the deadline's day.
        let deadline_day = campaign.deadline_at.div_euclid(DAY) * DAY;
        if now < (deadline_day + campaign.escalate_after_days * DAY).max(campaign.deadline_at + 1) {
            continue;
        }
        let stalled = sqlx::query(
            "select v.identity_id, v.display_name, v.email, m.identity_id as manager_id, m.display_name as manager, m.email as manager_email, \
             count(*) as open, coalesce(sum(case when r.risk_score >= c.high_risk then 1 else 0 end), 0) as high \
             from review_item r join campaign c on c.campaign_id = r.campaign_id join identity v on v.identity_id = r.reviewer_id \
             left join identity m on m.identity_id = v.manager_identity_id \
             where r.campaign_id = $1 and r.stage = c.stage and r.outcome is null and r.decision is null \
             group by v.identity_id, v.display_name, v.email, m.identity_id, m.display_name, m.email order by count(*) desc, v.display_name",
        )
        .bind(campaign.campaign_id)
        .fetch_all(&db.pool)
        .await?;
        // A reviewer group stalls as one reviewer; it has no manager to hear of it, so only the
        // campaign owner does.
        let stalled_groups = sqlx::query(
            "select g.reviewer_group_id, g.name, count(*) as open, coalesce(sum(case when r.risk_score >= c.high_risk then 1 else 0 end), 0) as high \
             from review_item r join campaign c on c.campaign_id = r.campaign_id join reviewer_group g on g.reviewer_group_id = r.reviewer_group_id \
             where r.campaign_id = $1 and r.stage = c.stage and r.outcome is null and r.decision is null \
             group by g.reviewer_group_id, g.name order by count(*) desc, g.name",
        )
        .bind(campaign.campaign_id)
        .fetch_all(&db.pool)
        .await?;
        if stalled.is_empty() && stalled_groups.is_empty() {
            continue;
        }
        let items = sqlx::query(
            "select r.reviewer_id, r.reviewer_group_id, r.identity_name, r.application, r.entitlement, r.risk_score from review_item r \
             join campaign c on c.campaign_id = r.campaign_id where r.campaign_id = $1 and r.stage = c.stage and r.outcome is null \
             and r.decision is null and (r.reviewer_id is not null or r.reviewer_group_id is not null) \
             order by r.risk_score desc, r.item_id limit 200",
        )
        .bind(campaign.campaign_id)
        .fetch_all(&db.pool)
        .await?;
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Who {
            Person(i64),
            Group(i64),
        }
        struct Stalled {
            id: Who,
            name: String,
            manager: Option<(i64, String, Option<String>)>,
            open: i64,
            high: i64,
        }
        let stalled = stalled
            .iter()
            .map(|r| {
                let manager_id: Option<i64> = r.try_get("manager_id")?;
                Ok(Stalled {
                    id: Who::Person(r.try_get("identity_id")?),
                    name: r.try_get("display_name")?,
                    manager: match manager_id {
                        Some(id) => Some((id, r.try_get("manager")?, r.try_get("manager_email")?)),
                        None => None,
                    },
                    open: r.try_get("open")?,
                    high: r.try_get("high")?,
                })
            })
            .chain(stalled_groups.iter().map(|r| {
                Ok(Stalled {
                    id: Who::Group(r.try_get("reviewer_group_id")?),
                    name: format!("{} (group)", r.try_get::<String, _>("name")?),
                    manager: None,
                    open: r.try_get("open")?,
                    high: r.try_get("high")?,
                })
            }))
            .collect::<Result<Vec<_>>>()?;
        let overdue_days = now.div_euclid(DAY) - campaign.deadline_at.div_euclid(DAY);
        let slot = format!("stage {}", campaign.stage);
        let compose = |who: &[&Stalled], greeting: String| -> Result<MailContent> {
            let ids: Vec<Who> = who.iter().map(|s| s.id).collect();
            let mut list = Vec::new();
            for r in &items {
                let reviewer = match (r.try_get::<Option<i64>, _>("reviewer_id")?, r.try_get::<Option<i64>, _>("reviewer_group_id")?) {
                    (Some(person), _) => Who::Person(person),
                    (None, Some(group)) => Who::Group(group),
                    (None, None) => continue,
                };
                if ids.contains(&reviewer) && list.len() < 20 {
                    let name = who.iter().find(|s| s.id == reviewer).map(|s| s.name.clone()).unwrap_or_default();
                    list.push(vec![
                        r.try_get::<String, _>("identity_name")?,
                        format!("{} · {}", r.try_get::<String, _>("application")?, r.try_get::<String, _>("entitlement")?),
                        r.try_get::<i64, _>("risk_score")?.to_string(),
                        name,
                    ]);
                }
            }
            let reviewers = who
                .iter()
                .map(|s| match s.id {
                    Who::Person(_) => {
                        let manager = s.manager.as_ref().map(|m| m.1.clone()).unwrap_or_else(|| "no manager on file".into());
                        format!("{}: {} open, {} high risk (manager: {manager})", s.name, s.open, s.high)
                    }
                    Who::Group(_) => format!("{}: {} open, {} high risk", s.name, s.open, s.high),
                })
                .collect::<Vec<_>>();
            Ok(MailContent {
                greeting,
                lead: format!(
                    "The access review “{}” is {overdue_days} days past its deadline ({}), and these reviewers have not finished: {}.",
                    campaign.name,
                    date(campaign.deadline_at),
                    reviewers.join("; ")
                ),
                table: Some(MailTable {
                    caption: "Riskiest undecided items".into(),
                    head: vec!["Identity".into(), "Access".into(), "Risk".into(), "Reviewer".into()],
                    rows: list,
                }),
                paragraphs: vec![format!(
                    "Please follow up. Items still undecided when the campaign closes ({} days after the deadline) follow its deadline rule.",
                    campaign.close_after_days
                )],
                action: Some(("Open the campaign".into(), format!("/campaigns/{}", campaign.campaign_id))),
                ..Default::default()
            })
        };
        let mut tx = db.pool.begin().await?;
        // Write first, so SQLite queues this transaction behind other writers.
        sqlx::query("update campaign set stage = stage where campaign_id = $1").bind(campaign.campaign_id).execute(&mut *tx).await?;
        let all: Vec<&Stalled> = stalled.iter().collect();
        let content = compose(&all, "Hello,".into())?;
        let subject = format!("Escalation: “{}” is {overdue_days} days overdue, {} reviewers stalled", campaign.name, all.len());
        let mail = NewMail {
            kind: MailKind::Escalation,
            recipient: "",
            campaign_id: campaign.campaign_id,
            slot: &slot,
            subject: &subject,
            content: &content,
        };
        match owner_address(&mut tx, campaign.owner_user_id).await? {
            Some(owner) => {
                if outbox::enqueue(&mut tx, &NewMail { recipient: &owner, ..mail.clone() }, now).await?.is_some() {
                    summary.escalations += 1;
                }
            }
            None => {
                if outbox::undeliverable(&mut tx, &mail, &campaign.owner_name, "the campaign owner has no valid email address", now).await?
                {
                    summary.undeliverable += 1;
                }
            }
        }
        let mut managers: BTreeMap<i64, (String, Option<String>, Vec<&Stalled>)> = BTreeMap::new();
        for s in &stalled {
            if let Some((id, name, email)) = &s.manager {
                managers.entry(*id).or_insert_with(|| (name.clone(), email.clone(), Vec::new())).2.push(s);
            }
        }
        for (manager_id, (name, email, reports)) in managers {
            let content = compose(&reports, format!("Hello {name},"))?;
            let subject = format!("Escalation: your team has overdue access reviews in “{}”", campaign.name);
            let mail = NewMail {
                kind: MailKind::Escalation,
                recipient: "",
                campaign_id: campaign.campaign_id,
                slot: &slot,
                subject: &subject,
                content: &content,
            };
            match email.as_deref().filter(|e| outbox::valid_address(e)) {
                Some(address) => {
                    if outbox::enqueue(&mut tx, &NewMail { recipient: address, ..mail }, now).await?.is_some() {
                        summary.escalations += 1;
                    }
                }
                None => {
                    report_missing(
                        &mut tx,
                        MailKind::Escalation,
                        campaign.campaign_id,
                        &campaign.name,
                        campaign.owner_user_id,
                        (manager_id, &name, email.as_deref()),
                        &slot,
                        now,
                    )
                    .await?;
                    summary.undeliverable += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Closes the stages still open `close_after_days` after the deadline, as the campaign owner
/// who set the deadline rule, saying so in the decision log.
async fn close_after_deadline(db: &Db, now: i64, summary: &mut RunSummary) -> Result<()> {
    for campaign in active_campaigns(db).await? {
        if now <= campaign.deadline_at + campaign.close_after_days * DAY {
            continue;
        }
        let owner = sqlx::query("select app_user_id, display_name, subject, email, identity_id from app_user where app_user_id = $1")
            .bind(campaign.owner_user_id)
            .fetch_one(&db.pool)
            .await?;
        let owner = crate::session::CurrentUser {
            app_user_id: owner.try_get("app_user_id")?,
            display_name: owner.try_get("display_name")?,
            subject: owner.try_get("subject")?,
            email: owner.try_get("email")?,
            roles: Vec::new(),
            identity_id: owner.try_get("identity_id")?,
        };
        let note = if campaign.close_after_days == 0 {
            format!(
                "closed automatically at the deadline ({}), by the deadline rule {} set",
                date(campaign.deadline_at),
                owner.display_name
            )
        } else {
            format!(
                "closed automatically at the deadline ({}) after {} days' grace, by the deadline rule {} set",
                date(campaign.deadline_at),
                campaign.close_after_days,
                owner.display_name
            )
        };
        // A stage that closes opens the next; at the deadline every open stage closes.
        for _ in 0..crate::campaigns::server::repo::MAX_STAGES {
            match crate::campaigns::server::repo::close_stage_as(db, campaign.campaign_id, &owner, Some(&note)).await? {
                Ok(c) if c.status == crate::campaigns::CampaignStatus::Closed => break,
                Ok(_) => continue,
                Err(refusal) => {
                    tracing::warn!(campaign = campaign.campaign_id, ?refusal, "could not close the campaign after its deadline");
                    break;
                }
            }
        }
        tracing::info!(campaign = campaign.campaign_id, "closed after the deadline");
        summary.closed.push(campaign.campaign_id);
    }
    Ok(())
}

/// Each Monday, every owner of a running campaign hears how their campaigns stand.
async fn weekly_summaries(db: &Db, now: i64, summary: &mut RunSummary) -> Result<()> {
    let week = week_start(now);
    let rows = sqlx::query(
        "select c.campaign_id, c.name, c.deadline_at, c.created_by_user_id, c.created_by, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id and r.stage = c.stage) as items, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id and r.stage = c.stage and (r.decision is not null or r.outcome is not null)) as decided, \
         (select count(*) from review_item r where r.campaign_id = c.campaign_id and r.stage = c.stage and r.decision is null and r.outcome is null and r.risk_score >= c.high_risk) as high_open, \
         (select count(distinct r.reviewer_id) + count(distinct r.reviewer_group_id) from review_item r where r.campaign_id = c.campaign_id \
          and r.stage = c.stage and r.decision is null and r.outcome is null) as waiting \
         from campaign c where c.status = 'active' and c.launched_at < $1 order by c.created_by_user_id, c.deadline_at",
    )
    .bind(week)
    .fetch_all(&db.pool)
    .await?;
    let mut owners: BTreeMap<i64, (String, Vec<Vec<String>>)> = BTreeMap::new();
    for r in &rows {
        let items: i64 = r.try_get("items")?;
        let decided: i64 = r.try_get("decided")?;
        let deadline_at: i64 = r.try_get("deadline_at")?;
        let entry = owners.entry(r.try_get("created_by_user_id")?).or_insert_with(|| (String::new(), Vec::new()));
        entry.0 = r.try_get("created_by")?;
        entry.1.push(vec![
            r.try_get("name")?,
            format!("{decided} of {items} decided ({}%)", if items > 0 { decided * 100 / items } else { 100 }),
            r.try_get::<i64, _>("high_open")?.to_string(),
            r.try_get::<i64, _>("waiting")?.to_string(),
            if deadline_at < now { format!("overdue since {}", date(deadline_at)) } else { format!("due {}", date(deadline_at)) },
        ]);
    }
    let slot = date(week);
    for (owner_user_id, (name, rows)) in owners {
        let mut tx = db.pool.begin().await?;
        let Some(address) = owner_address(&mut tx, owner_user_id).await? else {
            tracing::warn!(owner_user_id, "no address for a campaign owner's weekly summary");
            continue;
        };
        let content = MailContent {
            greeting: format!("Hello {name},"),
            lead: format!("How your running access reviews stand this week ({}):", date(week)),
            table: Some(MailTable {
                caption: "Your campaigns".into(),
                head: vec!["Campaign".into(), "Progress".into(), "High risk open".into(), "Reviewers waiting".into(), "Deadline".into()],
                rows,
            }),
            action: Some(("Open campaigns".into(), "/campaigns".into())),
            ..Default::default()
        };
        let subject = format!("Weekly summary of your access reviews, week of {}", date(week));
        let mail =
            NewMail { kind: MailKind::Summary, recipient: &address, campaign_id: 0, slot: &slot, subject: &subject, content: &content };
        if outbox::enqueue(&mut tx, &mail, now).await?.is_some() {
            summary.summaries += 1;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Tells each campaign owner, a week ahead, which exceptions of their closed campaigns expire:
/// when they do, the access comes back for review in a follow-up campaign.
async fn exceptions_expiring(db: &Db, now: i64, summary: &mut RunSummary) -> Result<()> {
    let rows = sqlx::query(
        "select r.campaign_id, c.name, c.created_by_user_id, c.created_by, r.identity_name, r.application, r.entitlement, r.exception_until, \
         r.decided_by, r.justification from review_item r join campaign c on c.campaign_id = r.campaign_id \
         where r.outcome = 'exception' and r.follow_up_campaign_id is null and r.exception_until > $1 and r.exception_until <= $2 \
         order by r.campaign_id, r.exception_until",
    )
    .bind(now)
    .bind(now + 7 * DAY)
    .fetch_all(&db.pool)
    .await?;
    let mut campaigns: BTreeMap<i64, (String, i64, String, Vec<Vec<String>>)> = BTreeMap::new();
    for r in &rows {
        let entry = campaigns.entry(r.try_get("campaign_id")?).or_insert_with(|| (String::new(), 0, String::new(), Vec::new()));
        entry.0 = r.try_get("name")?;
        entry.1 = r.try_get("created_by_user_id")?;
        entry.2 = r.try_get("created_by")?;
        entry.3.push(vec![
            r.try_get("identity_name")?,
            format!("{} · {}", r.try_get::<String, _>("application")?, r.try_get::<String, _>("entitlement")?),
            date(r.try_get("exception_until")?),
            r.try_get::<Option<String>, _>("decided_by")?.unwrap_or_default(),
            r.try_get::<Option<String>, _>("justification")?.unwrap_or_default(),
        ]);
    }
    let slot = date(week_start(now));
    for (campaign_id, (name, owner_user_id, owner, rows)) in campaigns {
        let mut tx = db.pool.begin().await?;
        let Some(address) = owner_address(&mut tx, owner_user_id).await? else {
            tracing::warn!(owner_user_id, campaign_id, "no address for a campaign owner: exceptions expiring");
            continue;
        };
        let count = rows.len();
        let content = MailContent {
            greeting: format!("Hello {owner},"),
            lead: format!("{count} exception(s) granted in “{name}” expire within a week."),
            table: Some(MailTable {
                caption: "Exceptions expiring".into(),
                head: vec!["Identity".into(), "Access".into(), "Until".into(), "Approved by".into(), "Justification".into()],
                rows,
            }),
            paragraphs: vec![
                "When an exception expires, its access comes back for review in a follow-up campaign, to the reviewer who granted it."
                    .into(),
            ],
            action: Some(("Open the campaign".into(), format!("/campaigns/{campaign_id}"))),
            ..Default::default()
        };
        let subject = format!("{count} exception(s) in {name} expire within a week");
        let mail =
            NewMail { kind: MailKind::Exceptions, recipient: &address, campaign_id, slot: &slot, subject: &subject, content: &content };
        if outbox::enqueue(&mut tx, &mail, now).await?.is_some() {
            summary.exceptions += 1;
        }
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-31 23:59:59 UTC, the end of a deadline day.
    const DEADLINE: i64 = 1_798_761_599;

    #[test]
    fn reminders_fall_7_3_and_1_days_before_the_deadline_day_then_daily_while_overdue() {
        let launched = DEADLINE - 30 * DAY;
        let day = |offset: i64| DEADLINE + 1 - DAY + offset * DAY;
        let days = [7, 3, 1];
        assert_eq!(date(day(-7)), "2026-12-24");
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(-8)), None);
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(-7)), Some(day(-7)));
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(-4) + 3600), Some(day(-7)));
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(-3)), Some(day(-3)));
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(0) + 100), Some(day(-1)), "none on the deadline day itself");
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(1) + 100), Some(day(1)), "overdue: daily");
        assert_eq!(latest_slot(DEADLINE, launched, &days, day(2) + 100), Some(day(2)));
    }

    #[test]
    fn slots_before_the_launch_are_covered_by_the_launch_notice() {
        let launched = DEADLINE - 5 * DAY;
        assert_eq!(latest_slot(DEADLINE, launched, &[7, 3, 1], launched + 60), None);
    }

    #[test]
    fn a_reminder_schedule_is_whole_days_latest_first() {
        assert_eq!(parse_days("1, 7,3,7"), Ok(vec![7, 3, 1]));
        assert_eq!(parse_days(""), Ok(vec![]));
        assert!(parse_days("soon").is_err());
        assert!(parse_days("120").is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-27 is a Friday; its week began on Monday 2026-11-23.
        assert_eq!(date(week_start(1_795_780_800)), "2026-11-23");
        assert_eq!(date(week_start(1_795_392_000)), "2026-11-23", "Monday itself");
    }
}
