use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::db::{Db, DbError, Result, Value};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::scoring::{Input, Settings, score};

/// Changed scores held in memory before they are written to the scratch table.
const BATCH: usize = 20_000;

async fn flush(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::db::Backend,
    changed: &mut Vec<(i64, i64, String, String)>,
) -> Result<()> {
    let rows =
        changed.drain(..).map(|(id, value, words, rules)| vec![Value::Int(id), Value::Int(value), Value::Text(words), Value::Text(rules)]);
    crate::db::insert_many(
        &mut *tx,
        backend,
        "insert into risk_scratch (access_grant_id, risk_score, risk_words, risk_rules)",
        rows,
        |_| {},
    )
    .await
}

fn parse<T>(column: &str, parsed: Result<T, String>) -> Result<T> {
    parsed.map_err(|e| DbError::Sqlx(sqlx::Error::ColumnDecode { index: column.to_string(), source: e.into() }))
}

/// Peer groups: people by department; machines by kind and application.
#[derive(Default)]
struct Peers {
    people: HashMap<Option<String>, i64>,
    people_holding: HashMap<(i64, Option<String>), i64>,
    machines: HashMap<(String, i64), i64>,
    machines_holding: HashMap<(i64, String), i64>,
}

async fn peers(db: &Db) -> Result<Peers> {
    let mut peers = Peers::default();
    // An identity holds an entitlement at most once, so count(*) counts holders.
    for row in sqlx::query("select department, count(*) as n from identity where ended_at is null and kind = 'human' group by department")
        .fetch_all(&db.pool)
        .await?
    {
        peers.people.insert(row.try_get("department")?, row.try_get("n")?);
    }
    for row in sqlx::query(
        "select g.entitlement_id, i.department, count(*) as n from access_grant g \
         join identity i on i.identity_id = g.identity_id \
         where g.ended_at is null and i.kind = 'human' group by g.entitlement_id, i.department",
    )
    .fetch_all(&db.pool)
    .await?
    {
        peers.people_holding.insert((row.try_get("entitlement_id")?, row.try_get("department")?), row.try_get("n")?);
    }
    for row in sqlx::query(
        "select i.kind, e.application_id, count(distinct g.identity_id) as n from access_grant g \
         join identity i on i.identity_id = g.identity_id join entitlement e on e.entitlement_id = g.entitlement_id \
         where g.ended_at is null and i.kind <> 'human' group by i.kind, e.application_id",
    )
    .fetch_all(&db.pool)
    .await?
    {
        peers.machines.insert((row.try_get("kind")?, row.try_get("application_id")?), row.try_get("n")?);
    }
    for row in sqlx::query(
        "select g.entitlement_id, i.kind, count(*) as n from access_grant g \
         join identity i on i.identity_id = g.identity_id \
         where g.ended_at is null and i.kind <> 'human' group by g.entitlement_id, i.kind",
    )
    .fetch_all(&db.pool)
    .await?
    {
        peers.machines_holding.insert((row.try_get("entitlement_id")?, row.try_get("kind")?), row.try_get("n")?);
    }
    Ok(peers)
}

/// Scores every active grant and stores what changed, then each identity's highest score.
/// Returns how many grants were scored.
#[tracing::instrument(skip_all)]
pub async fn recompute(db: &Db, settings: &Settings, now: i64) -> Result<u64> {
    let peers = peers(db).await?;
    // Changed scores go to a scratch table on a second connection, batch by batch, so memory
    // stays flat however large the estate; one update then applies them all.
    let mut tx = db.pool.begin().await?;
    sqlx::query("create temporary table risk_scratch (access_grant_id bigint primary key, risk_score bigint not null, risk_words text not null, risk_rules text not null)")
        .execute(&mut *tx)
        .await?;
    let mut changed: Vec<(i64, i64, String, String)> = Vec::new();
    let mut changed_total = 0usize;
    let mut scored = 0u64;
    {
        let mut rows = sqlx::query(
            "select g.access_grant_id, g.entitlement_id, g.granted_at, g.last_used_at, g.risk_score, g.risk_words, \
             i.kind, i.status, i.owner, i.department, i.last_active_at, i.credential_rotated_at, i.expires_at, \
             o.status as owner_status, e.privilege, e.privilege_inferred, e.application_id, a.criticality \
             from access_grant g join identity i on i.identity_id = g.identity_id \
             join entitlement e on e.entitlement_id = g.entitlement_id \
             join application a on a.application_id = e.application_id \
             left join identity o on o.identity_id = i.owner_identity_id \
             where g.ended_at is null",
        )
        .fetch(&db.pool);
        while let Some(row) = rows.try_next().await? {
            // Columns by position, in the order of the select above: this loop runs once per grant.
            let kind = parse("kind", IdentityKind::parse(&row.try_get::<String, _>(6)?))?;
            let entitlement_id: i64 = row.try_get(1)?;
            let department: Option<String> = row.try_get(9)?;
            let (peers_holding, peer_count) = if kind.is_machine() {
                let application_id: i64 = row.try_get(16)?;
                (
                    peers.machines_holding.get(&(entitlement_id, kind.as_str().to_string())).copied().unwrap_or(0),
                    peers.machines.get(&(kind.as_str().to_string(), application_id)).copied().unwrap_or(0),
                )
            } else {
                (
                    peers.people_holding.get(&(entitlement_id, department.clone())).copied().unwrap_or(0),
                    peers.people.get(&department).copied().unwrap_or(0),
                )
            };
            let owner_status: Option<String> = row.try_get(13)?;
            let input = Input {
                kind,
                status: parse("status", IdentityStatus::parse(&row.try_get::<String, _>(7)?))?,
                has_owner: row.try_get::<Option<String>, _>(8)?.is_some(),
                owner_inactive: owner_status.is_some_and(|s| s != "active"),
                identity_last_active_at: row.try_get(10)?,
                credential_rotated_at: row.try_get(11)?,
                expires_at: row.try_get(12)?,
                privilege: parse("privilege", Privilege::parse(&row.try_get::<String, _>(14)?))?,
                privilege_inferred: row.try_get::<i64, _>(15)? != 0,
                criticality: parse("criticality", Criticality::parse(&row.try_get::<String, _>(17)?))?,
                granted_at: row.try_get(2)?,
                last_used_at: row.try_get(3)?,
                peers_holding,
                peers: peer_count,
            };
            let result = score(&input, settings, now);
            let words = result.words();
            let value = i64::from(result.value);
            let old_value: i64 = row.try_get(4)?;
            let old_words: String = row.try_get(5)?;
            if old_value != value || old_words != words {
                let rules: String = result.factors.iter().map(|f| format!(",{}", f.rule.as_str())).collect::<String>() + ",";
                changed.push((row.try_get(0)?, value, words, rules));
                if changed.len() >= BATCH {
                    changed_total += changed.len();
                    flush(&mut tx, db.backend, &mut changed).await?;
                }
            }
            scored += 1;
        }
    }

    changed_total += changed.len();
    flush(&mut tx, db.backend, &mut changed).await?;
    sqlx::query(
        "update access_grant set risk_score = s.risk_score, risk_words = s.risk_words, risk_rules = s.risk_rules \
         from risk_scratch s where s.access_grant_id = access_grant.access_grant_id",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("drop table risk_scratch").execute(&mut *tx).await?;
    // Ended grants carry no risk any more.
    sqlx::query("update access_grant set risk_score = 0, risk_words = '', risk_rules = '' where ended_at is not null and risk_score <> 0")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update identity set risk_score = coalesce((select max(g.risk_score) from access_grant g \
         where g.identity_id = identity.identity_id and g.ended_at is null), 0)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(scored, changed = changed_total, "risk scores recomputed");
    Ok(scored)
}

/// Distribution, factor counts and the riskiest grants, for the risk page.
pub async fn overview(db: &Db) -> Result<crate::scoring::RiskOverview> {
    use crate::scoring::{RiskOverview, Rule};
    let mut histogram = vec![(0i64, 0i64); 10];
    for row in sqlx::query(
        "select case when g.risk_score >= 100 then 9 else g.risk_score / 10 end as band, \
         case when i.kind = 'human' then 1 else 0 end as human, count(*) as n \
         from access_grant g join identity i on i.identity_id = g.identity_id where g.ended_at is null \
         group by 1, 2",
    )
    .fetch_all(&db.pool)
    .await?
    {
        let band: i64 = row.try_get("band")?;
        let human: i64 = row.try_get("human")?;
        let n: i64 = row.try_get("n")?;
        if let Some(slot) = histogram.get_mut(band.clamp(0, 9) as usize) {
            if human == 1 { slot.0 += n } else { slot.1 += n }
        }
    }
    let mut sql = crate::db::Sql::new("select case when i.kind = 'human' then 1 else 0 end as human");
    for (i, rule) in Rule::ALL.iter().enumerate() {
        sql.push(", cast(sum(case when g.risk_rules like ")
            .bind(format!("%,{},%", rule.as_str()))
            .push(&format!(" then 1 else 0 end) as bigint) as r{i}"));
    }
    sql.push(", cast(sum(g.risk_score) as bigint) as total, count(*) as n from access_grant g join identity i on i.identity_id = g.identity_id where g.ended_at is null group by 1");
    let mut by_rule: Vec<(Rule, i64, i64)> = Rule::ALL.iter().map(|r| (*r, 0, 0)).collect();
    let (mut mean_human, mut mean_machine) = (0, 0);
    for row in sql.query()?.fetch_all(&db.pool).await? {
        let human: i64 = row.try_get("human")?;
        for (i, entry) in by_rule.iter_mut().enumerate() {
            let n: Option<i64> = row.try_get(format!("r{i}").as_str())?;
            if human == 1 { entry.1 = n.unwrap_or(0) } else { entry.2 = n.unwrap_or(0) }
        }
        let total: Option<i64> = row.try_get("total")?;
        let n: i64 = row.try_get("n")?;
        let mean = if n > 0 { total.unwrap_or(0) / n } else { 0 };
        if human == 1 { mean_human = mean } else { mean_machine = mean }
    }
    let top = crate::identities::server::repo::grants(db, true, Some(20)).await?;
    Ok(RiskOverview { histogram, by_rule, top, mean_human, mean_machine })
}
