//! Reviewer groups, their members and their history; and the rules of who in a group may see
//! an item: an active member whose own access it is not.

use sqlx::{AnyConnection, Row};

use crate::db::{Db, Result, Sql, now};
use crate::groups::{GroupChange, GroupMember, MAX_DESCRIPTION, MAX_NAME, ReviewerGroup};
use crate::session::CurrentUser;

/// A change refused, in words for the person who asked; nothing was changed.
pub type Checked<T> = Result<std::result::Result<T, String>>;

/// The identity `v` may be asked to review: an active person, as at launch.
pub const ELIGIBLE: &str = "v.kind = 'human' and v.status = 'active' and v.ended_at is null";

/// The item `item` is not the access of `person`: neither their identity nor another one with
/// their email (the email the item was frozen with).
pub fn not_own(item: &str, person: &str) -> String {
    format!("{item}.identity_id <> {person}.identity_id and not coalesce(lower({item}.identity_email) = lower({person}.email), false)")
}

/// Joins to group items `r` each active member `v` who may decide them: everyone a group's
/// item waits for.
pub fn members_join() -> String {
    format!(
        "join reviewer_group_member gm on gm.reviewer_group_id = r.reviewer_group_id \
         join identity v on v.identity_id = gm.identity_id and {ELIGIBLE} and {}",
        not_own("r", "v")
    )
}

/// Every group with its members, by name.
pub async fn list(db: &Db) -> Result<Vec<ReviewerGroup>> {
    let rows = sqlx::query(
        "select g.reviewer_group_id, g.name, g.description, g.created_by, g.created_at, \
         (select count(*) from campaign c where c.reviewer_group_id = g.reviewer_group_id) as campaigns, \
         (select count(*) from review_item r join campaign c on c.campaign_id = r.campaign_id where r.reviewer_group_id = g.reviewer_group_id \
          and r.outcome is null and c.status = 'active' and r.stage = c.stage and r.decision is null) as open_items \
         from reviewer_group g order by lower(g.name), g.reviewer_group_id",
    )
    .fetch_all(&db.pool)
    .await?;
    let members = sqlx::query(&format!(
        "select m.reviewer_group_id, v.identity_id, v.display_name, v.email, case when {ELIGIBLE} then 1 else 0 end as active, \
         m.added_by, m.created_at from reviewer_group_member m join identity v on v.identity_id = m.identity_id \
         order by lower(v.display_name), v.identity_id"
    ))
    .fetch_all(&db.pool)
    .await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("reviewer_group_id")?;
        let mut group_members = Vec::new();
        for m in &members {
            if m.try_get::<i64, _>("reviewer_group_id")? == id {
                group_members.push(GroupMember {
                    identity_id: m.try_get("identity_id")?,
                    name: m.try_get("display_name")?,
                    email: m.try_get("email")?,
                    active: m.try_get::<i64, _>("active")? == 1,
                    added_by: m.try_get("added_by")?,
                    added_at: m.try_get("created_at")?,
                });
            }
        }
        groups.push(ReviewerGroup {
            reviewer_group_id: id,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            members: group_members,
            campaigns: row.try_get("campaigns")?,
            open_items: row.try_get("open_items")?,
        });
    }
    Ok(groups)
}

/// The latest changes to groups, newest first.
pub async fn history(db: &Db, limit: i64) -> Result<Vec<GroupChange>> {
    let rows = sqlx::query(
        "select group_name, action, member, actor, created_at from reviewer_group_change \
         order by reviewer_group_change_id desc limit $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(GroupChange {
                group: r.try_get("group_name")?,
                action: r.try_get("action")?,
                member: r.try_get("member")?,
                actor: r.try_get("actor")?,
                at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// The group of this name (case ignored): its id, its name as written, and how many active
/// people it holds.
pub async fn by_name(db: &Db, name: &str) -> Result<Option<(i64, String, i64)>> {
    let row = sqlx::query(&format!(
        "select g.reviewer_group_id, g.name, (select count(*) from reviewer_group_member m join identity v on v.identity_id = m.identity_id \
         where m.reviewer_group_id = g.reviewer_group_id and {ELIGIBLE}) as members from reviewer_group g where lower(g.name) = lower($1)"
    ))
    .bind(name.trim())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get("reviewer_group_id")?, r.try_get("name")?, r.try_get("members")?))).transpose()
}

async fn name_of(db: &Db, group_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("select name from reviewer_group where reviewer_group_id = $1").bind(group_id).fetch_optional(&db.pool).await?)
}

/// Records a change in the group's history, in the change's transaction.
async fn record(tx: &mut AnyConnection, group: (i64, &str), action: &str, member: Option<&str>, by: &CurrentUser) -> Result<()> {
    sqlx::query(
        "insert into reviewer_group_change (reviewer_group_id, group_name, action, member, actor, actor_subject, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(group.0)
    .bind(group.1)
    .bind(action)
    .bind(member)
    .bind(&by.display_name)
    .bind(&by.subject)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Makes an empty group. Names are unique whatever their case.
pub async fn create(db: &Db, name: &str, description: &str, by: &CurrentUser) -> Checked<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Ok(Err(format!("name: give the group a name of 1 to {MAX_NAME} characters")));
    }
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Ok(Err(format!("description: at most {MAX_DESCRIPTION} characters")));
    }
    let mut tx = db.pool.begin().await?;
    let row = sqlx::query(
        "insert into reviewer_group (name, description, created_by, created_by_subject, created_at) values ($1, $2, $3, $4, $5) \
         on conflict do nothing returning reviewer_group_id",
    )
    .bind(name)
    .bind(description)
    .bind(&by.display_name)
    .bind(&by.subject)
    .bind(now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(Err(format!("name: there is a group named `{name}` already"))) };
    let id: i64 = row.try_get("reviewer_group_id")?;
    record(&mut tx, (id, name), "created", None, by).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Adds the active person with this email, found as a named reviewer is. Answers their name.
pub async fn add_member(db: &Db, group_id: i64, email: &str, by: &CurrentUser) -> Checked<String> {
    let Some(group) = name_of(db, group_id).await? else { return Ok(Err(format!("there is no group {group_id}"))) };
    if email.trim().is_empty() {
        return Ok(Err("member: give the email of the person to add".into()));
    }
    let Some((identity_id, name)) = crate::campaigns::server::repo::person_by_email(db, email).await? else {
        return Ok(Err(format!("member: nobody active in the inventory has the email `{}`", email.trim())));
    };
    let mut tx = db.pool.begin().await?;
    let added = sqlx::query(
        "insert into reviewer_group_member (reviewer_group_id, identity_id, added_by, added_by_subject, created_at) \
         values ($1, $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(group_id)
    .bind(identity_id)
    .bind(&by.display_name)
    .bind(&by.subject)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Ok(Err(format!("member: {name} is in {group} already")));
    }
    let member = format!("{name} <{}>", email.trim().to_lowercase());
    record(&mut tx, (group_id, &group), "added", Some(&member), by).await?;
    tx.commit().await?;
    Ok(Ok(name))
}

/// Removes a member, unless that leaves open items of running campaigns with nobody in the
/// group who may decide them. Answers their name.
pub async fn remove_member(db: &Db, group_id: i64, identity_id: i64, by: &CurrentUser) -> Checked<String> {
    let Some(group) = name_of(db, group_id).await? else { return Ok(Err(format!("there is no group {group_id}"))) };
    let mut tx = db.pool.begin().await?;
    let person = sqlx::query(
        "select v.display_name, v.email from reviewer_group_member m join identity v on v.identity_id = m.identity_id \
         where m.reviewer_group_id = $1 and m.identity_id = $2",
    )
    .bind(group_id)
    .bind(identity_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(person) = person else { return Ok(Err(format!("that person is not in {group}"))) };
    let name: String = person.try_get("display_name")?;
    let email: Option<String> = person.try_get("email")?;
    sqlx::query("delete from reviewer_group_member where reviewer_group_id = $1 and identity_id = $2")
        .bind(group_id)
        .bind(identity_id)
        .execute(&mut *tx)
        .await?;
    let left = coverage(&mut tx, group_id).await?;
    let mut stranded =
        Sql::new("select count(*) from review_item r join campaign c on c.campaign_id = r.campaign_id where r.reviewer_group_id = ");
    stranded.bind(group_id).push(" and r.outcome is null and c.status = 'active' and r.stage = c.stage and r.decision is null");
    if left.members > 0 {
        if left.alone.is_empty() {
            stranded.push(" and 1 = 0");
        } else {
            stranded.push(" and r.identity_id in ").push_in(&left.alone);
        }
    }
    let stranded: i64 = stranded.query_scalar()?.fetch_one(&mut *tx).await?;
    if stranded > 0 {
        tx.rollback().await?;
        return Ok(Err(format!(
            "{name} cannot leave {group}: {stranded} open items of running campaigns would have nobody in the group who may decide them. \
             Add someone first."
        )));
    }
    let member = match &email {
        Some(email) => format!("{name} <{}>", email.to_lowercase()),
        None => name.clone(),
    };
    record(&mut tx, (group_id, &group), "removed", Some(&member), by).await?;
    tx.commit().await?;
    Ok(Ok(name))
}

/// Deletes a group no campaign names; its history stays. Answers its name.
pub async fn delete(db: &Db, group_id: i64, by: &CurrentUser) -> Checked<String> {
    let Some(group) = name_of(db, group_id).await? else { return Ok(Err(format!("there is no group {group_id}"))) };
    let mut tx = db.pool.begin().await?;
    // Write first, so SQLite queues this transaction behind other writers.
    sqlx::query("delete from reviewer_group_member where reviewer_group_id = $1").bind(group_id).execute(&mut *tx).await?;
    let campaigns: i64 =
        sqlx::query_scalar("select count(*) from campaign where reviewer_group_id = $1").bind(group_id).fetch_one(&mut *tx).await?;
    if campaigns > 0 {
        tx.rollback().await?;
        return Ok(Err(format!("{group} is the reviewer group of {campaigns} campaigns; it stays for their record")));
    }
    sqlx::query("delete from reviewer_group where reviewer_group_id = $1").bind(group_id).execute(&mut *tx).await?;
    record(&mut tx, (group_id, &group), "deleted", None, by).await?;
    tx.commit().await?;
    Ok(Ok(group))
}

/// The groups `user` is in: through the identity they were matched to at sign-in, or another
/// identity with their email (the same person in another source).
pub async fn groups_of(db: &Db, user: &CurrentUser) -> Result<Vec<i64>> {
    let Some(me) = user.identity_id else { return Ok(Vec::new()) };
    Ok(sqlx::query_scalar(
        "select distinct m.reviewer_group_id from reviewer_group_member m join identity v on v.identity_id = m.identity_id \
         where m.identity_id = $1 or ($2 is not null and lower(v.email) = lower($2)) order by m.reviewer_group_id",
    )
    .bind(me)
    .bind(user.email.as_deref())
    .fetch_all(&db.pool)
    .await?)
}

/// Who in a group may be asked about whose access.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Active people in the group.
    pub members: usize,
    /// Holders of access for whom the group has nobody else: every active member is that
    /// holder (the same identity, or the same email). Their items go to the fallback reviewer.
    pub alone: Vec<i64>,
}

/// The group's [`Coverage`]. Found from the members rather than per item: whoever is alone
/// must be the same person as every member, so as the first one, and that is a handful of
/// identities, where a campaign may hold a million items.
pub async fn coverage(conn: &mut AnyConnection, group_id: i64) -> Result<Coverage> {
    let rows = sqlx::query(&format!(
        "select v.identity_id, lower(v.email) as email from reviewer_group_member m join identity v on v.identity_id = m.identity_id \
         where m.reviewer_group_id = $1 and {ELIGIBLE} order by v.identity_id"
    ))
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    let members =
        rows.iter().map(|r| Ok((r.try_get("identity_id")?, r.try_get("email")?))).collect::<Result<Vec<(i64, Option<String>)>>>()?;
    let Some((first_id, first_email)) = members.first().cloned() else { return Ok(Coverage::default()) };
    let same = |(a_id, a_email): &(i64, Option<String>), (b_id, b_email): &(i64, Option<String>)| {
        a_id == b_id || matches!((a_email, b_email), (Some(a), Some(b)) if a == b)
    };
    let candidates = sqlx::query(
        "select identity_id, lower(email) as email from identity where identity_id = $1 or ($2 is not null and lower(email) = $2)",
    )
    .bind(first_id)
    .bind(first_email)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("identity_id")?, r.try_get("email")?)))
    .collect::<Result<Vec<(i64, Option<String>)>>>()?;
    let alone = candidates.iter().filter(|c| members.iter().all(|m| same(m, c))).map(|c| c.0).collect();
    Ok(Coverage { members: members.len(), alone })
}
