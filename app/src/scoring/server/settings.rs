//! The risk settings in force and their history, and separation-of-duties rules.

use sqlx::Row;

use crate::db::{Db, DbError, Result, decode_err};
use crate::scoring::{NewSodRule, SettingsChange, Settings, SodRule};

/// The settings in force: the latest recorded change, or the defaults.
pub async fn current(db: &Db) -> Result<Settings> {
    let row = sqlx::query("select settings from risk_settings_change order by risk_settings_change_id desc limit 1")
        .fetch_optional(&db.pool)
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
    let rows = sqlx::query(
        "select summary, changed_by, changed_at from risk_settings_change order by risk_settings_change_id desc limit 100",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok(SettingsChange { summary: r.try_get("summary")?, changed_by: r.try_get("changed_by")?, changed_at: r.try_get("changed_at")? }))
        .collect()
}

/// Records `settings` as the settings in force, with who changed what. Returns the change in
/// words, or `None` when nothing differs from the settings in force.
pub async fn save(db: &Db, settings: &Settings, by: &str, by_subject: &str, at: i64) -> Result<Option<String>> {
    let before = current(db).await?;
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
         r.created_by, r.created_at, \
         (select count(distinct ga.identity_id) from application aa \
            join entitlement ea on ea.application_id = aa.application_id and ea.name = r.entitlement_a \
            join access_grant ga on ga.entitlement_id = ea.entitlement_id and ga.ended_at is null \
            join access_grant gb on gb.identity_id = ga.identity_id and gb.ended_at is null \
            join entitlement eb on eb.entitlement_id = gb.entitlement_id and eb.name = r.entitlement_b \
            join application ab on ab.application_id = eb.application_id and (ab.external_id = r.application_b or ab.name = r.application_b) \
            where aa.external_id = r.application_a or aa.name = r.application_a) as holders \
         from sod_rule r left join source s on s.source_id = r.source_id where r.removed_at is null order by r.sod_rule_id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SodRule {
                sod_rule_id: r.try_get("sod_rule_id")?,
                application_a: r.try_get("application_a")?,
                entitlement_a: r.try_get("entitlement_a")?,
                application_b: r.try_get("application_b")?,
                entitlement_b: r.try_get("entitlement_b")?,
                reason: r.try_get("reason")?,
                source: r.try_get("source")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                holders: r.try_get("holders")?,
            })
        })
        .collect()
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

/// For each active grant that is one side of a rule in force: the other side and the reason in
/// words, "with Payments: approve (creates and approves payments)". The first rule wins.
pub async fn conflicts(db: &Db) -> Result<std::collections::HashMap<i64, String>> {
    let mut found = std::collections::HashMap::new();
    let rows = sqlx::query(
        "select ga.access_grant_id as a, gb.access_grant_id as b, aa.name as app_a, ea.name as ent_a, ab.name as app_b, eb.name as ent_b, r.reason \
         from sod_rule r \
         join application aa on aa.external_id = r.application_a or aa.name = r.application_a \
         join entitlement ea on ea.application_id = aa.application_id and ea.name = r.entitlement_a \
         join access_grant ga on ga.entitlement_id = ea.entitlement_id and ga.ended_at is null \
         join access_grant gb on gb.identity_id = ga.identity_id and gb.ended_at is null \
         join entitlement eb on eb.entitlement_id = gb.entitlement_id and eb.name = r.entitlement_b \
         join application ab on ab.application_id = eb.application_id and (ab.external_id = r.application_b or ab.name = r.application_b) \
         where r.removed_at is null order by r.sod_rule_id, ga.access_grant_id",
    )
    .fetch_all(&db.pool)
    .await?;
    for row in rows {
        let (a, b): (i64, i64) = (row.try_get("a")?, row.try_get("b")?);
        let reason: String = row.try_get("reason")?;
        let app_a: String = row.try_get("app_a")?;
        let ent_a: String = row.try_get("ent_a")?;
        let app_b: String = row.try_get("app_b")?;
        let ent_b: String = row.try_get("ent_b")?;
        found.entry(a).or_insert_with(|| format!("with {app_b}: {ent_b} ({reason})"));
        found.entry(b).or_insert_with(|| format!("with {app_a}: {ent_a} ({reason})"));
    }
    Ok(found)
}
