//! The risk settings in force and their history, and separation-of-duties rules.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::{Db, DbError, Result, decode_err};
use crate::scoring::{NewSodRule, Settings, SettingsChange, SodRule};

/// The settings in force: the latest recorded change, or the defaults.
pub async fn current<'e>(executor: impl sqlx::Executor<'e, Database = sqlx::Any>) -> Result<Settings> {
    let row = sqlx::query("select settings from risk_settings_change order by risk_settings_change_id desc limit 1")
        .fetch_optional(executor)
        .await?;
    match row {
        Some(row) => {
            let text: String = row.try_get("settings")?;
            serde_json::from_str(&text).map_err(|e| decode_err("settings", e.to_string()))
        }
        None => Ok(Settings::default()),
    }
}

/// Every change, newest first.
pub async fn history(db: &Db) -> Result<Vec<SettingsChange>> {
    let rows =
        sqlx::query("select summary, changed_by, changed_at from risk_settings_change order by risk_settings_change_id desc limit 100")
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(SettingsChange {
                summary: r.try_get("summary")?,
                changed_by: r.try_get("changed_by")?,
                changed_at: r.try_get("changed_at")?,
            })
        })
        .collect()
}

/// Records `settings` as the settings in force, with who changed what. Returns the change in
/// words, or `None` when nothing differs from the settings in force.
pub async fn save(db: &Db, settings: &Settings, by: &str, by_subject: &str, at: i64) -> Result<Option<String>> {
    let before = current(&db.pool).await?;
    let summary = before.changes_to(settings);
    if summary.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(settings).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    sqlx::query(
        "insert into risk_settings_change (settings, summary, changed_by, changed_by_subject, changed_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(json)
    .bind(&summary)
    .bind(by)
    .bind(by_subject)
    .bind(at)
    .execute(&db.pool)
    .await?;
    Ok(Some(summary))
}

/// The rules in force, each with how many identities hold both sides now.
pub async fn rules(db: &Db) -> Result<Vec<SodRule>> {
    let rows = sqlx::query(
        "select r.sod_rule_id, r.application_a, r.entitlement_a, r.application_b, r.entitlement_b, r.reason, s.name as source, \
         r.created_by, r.created_at from sod_rule r left join source s on s.source_id = r.source_id \
         where r.removed_at is null order by r.sod_rule_id",
    )
    .fetch_all(&db.pool)
    .await?;
    let resolved = resolved_rules(&db.pool).await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        let sod_rule_id: i64 = r.try_get("sod_rule_id")?;
        let holders = match resolved.iter().find(|rule| rule.sod_rule_id == sod_rule_id) {
            Some(rule) => holders(db, rule).await?,
            None => 0,
        };
        found.push(SodRule {
            sod_rule_id,
            application_a: r.try_get("application_a")?,
            entitlement_a: r.try_get("entitlement_a")?,
            application_b: r.try_get("application_b")?,
            entitlement_b: r.try_get("entitlement_b")?,
            reason: r.try_get("reason")?,
            source: r.try_get("source")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            holders,
        });
    }
    Ok(found)
}

/// Identities holding both sides of `rule` now: each grant of side A looks up its identity's
/// grants of side B in the (identity, entitlement) index.
async fn holders(db: &Db, rule: &ResolvedRule) -> Result<i64> {
    let a: Vec<i64> = rule.a.iter().map(|e| e.entitlement_id).collect();
    let b: Vec<i64> = rule.b.iter().map(|e| e.entitlement_id).collect();
    let mut sql = crate::db::Sql::new(
        "select count(distinct ga.identity_id) from access_grant ga where ga.ended_at is null and ga.entitlement_id in ",
    );
    sql.push_in(&a);
    sql.push(" and exists (select 1 from access_grant gb where gb.identity_id = ga.identity_id and gb.ended_at is null and gb.entitlement_id in ");
    sql.push_in(&b);
    sql.push(")");
    Ok(sql.query_scalar()?.fetch_one(&db.pool).await?)
}

/// One side of a rule as found in the inventory.
#[derive(Debug, Clone)]
pub struct Side {
    pub entitlement_id: i64,
    pub application: String,
    pub entitlement: String,
}

/// A rule in force with the entitlements each side names (an application's id or name may
/// match applications of several sources).
#[derive(Debug, Clone)]
pub struct ResolvedRule {
    pub sod_rule_id: i64,
    pub reason: String,
    pub a: Vec<Side>,
    pub b: Vec<Side>,
}

/// The rules in force whose both sides exist in the inventory, in rule order.
pub async fn resolved_rules<'e>(executor: impl sqlx::Executor<'e, Database = sqlx::Any>) -> Result<Vec<ResolvedRule>> {
    let side = |application: &str, entitlement: &str, name: &str| {
        format!(
            "select r.sod_rule_id, r.reason, '{name}' as side, e.entitlement_id, a.name as application, e.name as entitlement \
             from sod_rule r join application a on a.external_id = r.{application} or a.name = r.{application} \
             join entitlement e on e.application_id = a.application_id and e.name = r.{entitlement} where r.removed_at is null"
        )
    };
    let text = format!(
        "{} union all {} order by 1, 3, 4",
        side("application_a", "entitlement_a", "a"),
        side("application_b", "entitlement_b", "b")
    );
    let mut found: Vec<ResolvedRule> = Vec::new();
    for row in sqlx::query(&text).fetch_all(executor).await? {
        let sod_rule_id: i64 = row.try_get("sod_rule_id")?;
        if found.last().is_none_or(|r| r.sod_rule_id != sod_rule_id) {
            found.push(ResolvedRule { sod_rule_id, reason: row.try_get("reason")?, a: Vec::new(), b: Vec::new() });
        }
        let side = Side {
            entitlement_id: row.try_get("entitlement_id")?,
            application: row.try_get("application")?,
            entitlement: row.try_get("entitlement")?,
        };
        let text_side: String = row.try_get("side")?;
        if let Some(rule) = found.last_mut() {
            if text_side == "a" { rule.a.push(side) } else { rule.b.push(side) }
        }
    }
    found.retain(|r| !r.a.is_empty() && !r.b.is_empty());
    Ok(found)
}

/// For each grant that is one side of a rule its identity holds both sides of: the other side
/// and the reason in words, "with Payments: approve (creates and approves payments)". The first
/// rule wins. `grants` are (grant, identity, entitlement).
pub fn conflicts(rules: &[ResolvedRule], grants: impl Iterator<Item = (i64, i64, i64)>) -> HashMap<i64, String> {
    let mut found = HashMap::new();
    if rules.is_empty() {
        return found;
    }
    let named: std::collections::HashSet<i64> = rules.iter().flat_map(|r| r.a.iter().chain(r.b.iter())).map(|s| s.entitlement_id).collect();
    // Per identity, its grants of entitlements some rule names.
    let mut held: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (grant, identity, entitlement) in grants {
        if named.contains(&entitlement) {
            held.entry(identity).or_default().push((grant, entitlement));
        }
    }
    fn side_of<'r>(grants: &[(i64, i64)], side: &'r [Side]) -> Vec<(i64, &'r Side)> {
        grants.iter().filter_map(|(g, e)| side.iter().find(|s| s.entitlement_id == *e).map(|s| (*g, s))).collect()
    }
    for rule in rules {
        for grants in held.values() {
            let (a, b) = (side_of(grants, &rule.a), side_of(grants, &rule.b));
            let (Some((_, first_a)), Some((_, first_b))) = (a.first(), b.first()) else { continue };
            for (grant, _) in &a {
                found.entry(*grant).or_insert_with(|| format!("with {}: {} ({})", first_b.application, first_b.entitlement, rule.reason));
            }
            for (grant, _) in &b {
                found.entry(*grant).or_insert_with(|| format!("with {}: {} ({})", first_a.application, first_a.entitlement, rule.reason));
            }
        }
    }
    found
}

/// Adds rules, from the settings page (`source_id` none) or from an import bundle.
pub async fn add_rules(conn: &mut sqlx::AnyConnection, rules: &[NewSodRule], source_id: Option<i64>, by: &str, at: i64) -> Result<()> {
    for rule in rules {
        sqlx::query(
            "insert into sod_rule (application_a, entitlement_a, application_b, entitlement_b, reason, source_id, created_by, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&rule.application_a)
        .bind(&rule.entitlement_a)
        .bind(&rule.application_b)
        .bind(&rule.entitlement_b)
        .bind(&rule.reason)
        .bind(source_id)
        .bind(by)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces the rules an earlier bundle of this source brought.
pub async fn replace_source_rules(conn: &mut sqlx::AnyConnection, rules: &[NewSodRule], source_id: i64, by: &str, at: i64) -> Result<()> {
    sqlx::query("update sod_rule set removed_by = $1, removed_at = $2 where source_id = $3 and removed_at is null")
        .bind(format!("import by {by}"))
        .bind(at)
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
    add_rules(conn, rules, Some(source_id), by, at).await
}

/// Removes a rule, keeping it with who removed it. False when there is no such rule in force.
pub async fn remove_rule(db: &Db, sod_rule_id: i64, by: &str, at: i64) -> Result<bool> {
    let done = sqlx::query("update sod_rule set removed_by = $1, removed_at = $2 where sod_rule_id = $3 and removed_at is null")
        .bind(by)
        .bind(at)
        .bind(sod_rule_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
