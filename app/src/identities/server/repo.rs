use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Backend, Db, DbError, Result, Sql, decode_err, now};
use crate::identities::{
    ApplicationRow, Criticality, GrantRow, IdentityDetail, IdentityFilter, IdentityKind, IdentityPage, IdentityRow, IdentityStatus,
    Overview, Privilege,
};
use crate::time_fmt::DAY;

const IDENTITY_COLUMNS: &str = "i.identity_id, i.external_id, i.kind, i.display_name, i.email, i.status, \
    coalesce(o.display_name, i.owner) as owner, i.owner_identity_id, \
    coalesce(m.display_name, i.manager) as manager, i.manager_identity_id, \
    i.department, i.purpose, i.source_created_at, i.last_active_at, i.credential_rotated_at, i.expires_at, \
    (select count(*) from access_grant g where g.identity_id = i.identity_id and g.ended_at is null) as active_grants, \
    s.name as source, i.risk_score \
    from identity i join source s on s.source_id = i.source_id \
    left join identity o on o.identity_id = i.owner_identity_id \
    left join identity m on m.identity_id = i.manager_identity_id";

fn identity_row(row: &AnyRow) -> Result<IdentityRow> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(IdentityRow {
        identity_id: row.try_get("identity_id")?,
        external_id: row.try_get("external_id")?,
        kind: IdentityKind::parse(&kind).map_err(|e| decode_err("kind", e))?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        status: IdentityStatus::parse(&status).map_err(|e| decode_err("status", e))?,
        owner: row.try_get("owner")?,
        owner_identity_id: row.try_get("owner_identity_id")?,
        manager: row.try_get("manager")?,
        manager_identity_id: row.try_get("manager_identity_id")?,
        department: row.try_get("department")?,
        purpose: row.try_get("purpose")?,
        source_created_at: row.try_get("source_created_at")?,
        last_active_at: row.try_get("last_active_at")?,
        credential_rotated_at: row.try_get("credential_rotated_at")?,
        expires_at: row.try_get("expires_at")?,
        active_grants: row.try_get("active_grants")?,
        source: row.try_get("source")?,
        risk_score: row.try_get("risk_score")?,
    })
}

/// Appends the filter's conditions; every value is bound, none pasted.
fn push_filter(sql: &mut Sql, filter: &IdentityFilter, backend: Backend) -> Result<(), String> {
    sql.push(" where i.ended_at is null");
    if let Some(kind) = &filter.kind {
        if kind == "machine" {
            sql.push(" and i.kind <> 'human'");
        } else {
            let kind = IdentityKind::parse(kind)?;
            sql.push(" and i.kind = ").bind(kind.as_str());
        }
    }
    if let Some(status) = &filter.status {
        let status = IdentityStatus::parse(status)?;
        sql.push(" and i.status = ").bind(status.as_str());
    }
    match filter.owner.as_deref() {
        None => {}
        Some("absent") => {
            sql.push(" and i.owner is null");
        }
        Some("present") => {
            sql.push(" and i.owner is not null");
        }
        Some(other) => return Err(format!("unknown owner filter `{other}` (expected present or absent)")),
    }
    if let Some(department) = &filter.department {
        sql.push(" and i.department = ").bind(department.as_str());
    }
    if let Some(q) = &filter.q {
        // SQLite's LIKE ignores ASCII case by itself, and lower() on every row triples the
        // cost of a search; PostgreSQL says so with ILIKE.
        let like = match backend {
            Backend::Sqlite => " like ",
            Backend::Postgres => " ilike ",
        };
        // On SQLite, three characters or more are found through the trigram index (the same
        // rows as the LIKEs below: any of the three, anywhere, ignoring case).
        if backend == Backend::Sqlite && q.chars().count() >= 3 {
            let phrase = format!("\"{}\"", q.replace('"', "\"\""));
            sql.push(" and i.identity_id in (select rowid from identity_search where identity_search match ").bind(phrase).push(")");
            return Ok(());
        }
        let pattern = format!("%{}%", escape_like(q));
        sql.push(" and (i.display_name").push(like).bind(pattern.clone()).push(" escape '\\'");
        sql.push(" or i.email").push(like).bind(pattern.clone()).push(" escape '\\'");
        sql.push(" or i.external_id").push(like).bind(pattern).push(" escape '\\')");
    }
    Ok(())
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A filtered page of current identities, by name. `Err(Ok(msg))` is a filter the user got wrong.
pub async fn list(db: &Db, filter: &IdentityFilter, per_page: u32) -> Result<Result<IdentityPage, String>> {
    let mut where_sql = Sql::new("");
    if let Err(msg) = push_filter(&mut where_sql, filter, db.backend) {
        return Ok(Err(msg));
    }
    let mut count = Sql::new("select count(*) from identity i");
    count.append(&where_sql);
    let total: i64 = count.query_scalar()?.fetch_one(&db.pool).await?;

    let mut sql = Sql::new(&format!("select {IDENTITY_COLUMNS}"));
    let offset = i64::from(filter.page.max(1) - 1) * i64::from(per_page);
    sql.append(&where_sql);
    let order = match filter.sort.as_deref() {
        None | Some("name") => " order by i.display_name, i.identity_id",
        Some("risk") => " order by i.risk_score desc, i.identity_id",
        Some(other) => return Ok(Err(format!("unknown sort `{other}` (expected name or risk)"))),
    };
    sql.push(order).push(" limit ").bind(i64::from(per_page)).push(" offset ").bind(offset);
    let rows = sql.query()?.fetch_all(&db.pool).await?;
    let rows = rows.iter().map(identity_row).collect::<Result<Vec<_>>>()?;

    let departments: Vec<String> = sqlx::query_scalar(
        // From the department index alone; a department whose identities have all ended may
        // linger in the list, and then simply matches nothing.
        "select department from identity where department is not null group by department order by department limit 200",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(Ok(IdentityPage { rows, total, page: filter.page.max(1), per_page, now: now(), departments }))
}

/// What a [`GrantRow`] reads, from [`FROM_GRANTS`].
const GRANT_COLUMNS: &str = "g.access_grant_id, g.identity_id, i.display_name as identity, i.kind as identity_kind, \
    a.name as application, e.name as entitlement, e.privilege, e.privilege_inferred, \
    g.granted_at, g.last_used_at, g.granted_by, g.ended_at, s.risk_score, g.risk_words";

fn grant_row(row: &AnyRow) -> Result<GrantRow> {
    let kind: String = row.try_get("identity_kind")?;
    let privilege: String = row.try_get("privilege")?;
    let inferred: i64 = row.try_get("privilege_inferred")?;
    Ok(GrantRow {
        access_grant_id: row.try_get("access_grant_id")?,
        identity_id: row.try_get("identity_id")?,
        identity: row.try_get("identity")?,
        identity_kind: IdentityKind::parse(&kind).map_err(|e| decode_err("identity_kind", e))?,
        application: row.try_get("application")?,
        entitlement: row.try_get("entitlement")?,
        privilege: Privilege::parse(&privilege).map_err(|e| decode_err("privilege", e))?,
        privilege_inferred: inferred != 0,
        granted_at: row.try_get("granted_at")?,
        last_used_at: row.try_get("last_used_at")?,
        granted_by: row.try_get("granted_by")?,
        ended_at: row.try_get("ended_at")?,
        risk_score: row.try_get("risk_score")?,
        risk_words: row.try_get("risk_words")?,
    })
}

pub async fn detail(db: &Db, identity_id: i64) -> Result<IdentityDetail> {
    let mut sql = Sql::new(&format!("select {IDENTITY_COLUMNS} where i.identity_id = "));
    sql.bind(identity_id);
    let row = sql.query()?.fetch_optional(&db.pool).await?.ok_or_else(|| DbError::NotFound(format!("identity {identity_id}")))?;
    let identity = identity_row(&row)?;

    let mut sql = Sql::new(&format!("select {GRANT_COLUMNS} {FROM_GRANTS} where g.identity_id = "));
    sql.bind(identity_id);
    sql.push(" order by g.ended_at is not null, s.risk_score desc, a.name, e.name");
    let grants = sql.query()?.fetch_all(&db.pool).await?;
    let grants = grants.iter().map(grant_row).collect::<Result<Vec<_>>>()?;

    let mut sql = Sql::new(&format!("select {IDENTITY_COLUMNS} where i.ended_at is null and i.owner_identity_id = "));
    sql.bind(identity_id);
    sql.push(" order by i.display_name limit 200");
    let owns = sql.query()?.fetch_all(&db.pool).await?;
    let owns = owns.iter().map(identity_row).collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = grants.iter().map(|g| g.access_grant_id).collect();
    let exceptions = active_exceptions(db, &ids).await?;
    Ok(IdentityDetail { identity, grants, owns, exceptions, now: now() })
}

/// Current grants, for `attest grants` and exports. `limit` of None lists all.
pub async fn grants(db: &Db, by_risk: bool, limit: Option<i64>) -> Result<Vec<GrantRow>> {
    let order = if by_risk { "s.risk_score desc, s.access_grant_id desc" } else { "i.display_name, a.name, e.name" };
    let mut sql = Sql::new(&format!("select {GRANT_COLUMNS} {FROM_GRANTS} where g.ended_at is null order by {order}"));
    if let Some(limit) = limit {
        sql.push(" limit ").bind(limit);
    }
    let rows = sql.query()?.fetch_all(&db.pool).await?;
    rows.iter().map(grant_row).collect()
}

/// The grants among `grant_ids` kept by an exception that has not expired, each with who
/// approved it, until when, in which campaign and why.
pub async fn active_exceptions(db: &Db, grant_ids: &[i64]) -> Result<Vec<(i64, String)>> {
    let mut found = Vec::new();
    for chunk in grant_ids.chunks(500) {
        let mut sql = Sql::new(
            "select r.access_grant_id, r.exception_until, r.decided_by, r.justification, c.name from review_item r \
             join campaign c on c.campaign_id = r.campaign_id where r.decision = 'exception' and r.exception_until > ",
        );
        sql.bind(now()).push(" and r.access_grant_id in ").push_in(chunk).push(" order by r.exception_until");
        for row in sql.query()?.fetch_all(&db.pool).await? {
            let until: i64 = row.try_get("exception_until")?;
            let by: Option<String> = row.try_get("decided_by")?;
            let why: Option<String> = row.try_get("justification")?;
            let campaign: String = row.try_get("name")?;
            found.push((
                row.try_get("access_grant_id")?,
                format!(
                    "exception until {}, approved by {} in “{campaign}”: {}",
                    crate::time_fmt::date(until),
                    by.unwrap_or_default(),
                    why.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(found)
}

/// The grants, their identities, entitlements and applications, for a query's condition.
pub const FROM_GRANTS: &str = "from access_grant g join grant_score s on s.access_grant_id = g.access_grant_id \
    join identity i on i.identity_id = g.identity_id join entitlement e on e.entitlement_id = g.entitlement_id join application a on a.application_id = e.application_id";

/// ` where g.ended_at is null and (…)` for a query over [`FROM_GRANTS`], numbered from `$1`,
/// or the user's mistake with its column.
pub fn grant_condition(query: &str) -> std::result::Result<Sql, crate::query::QueryError> {
    let mut condition = Sql::new(" where g.ended_at is null");
    if let Some(expr) = crate::query::parse(query)? {
        condition.push(" and (");
        crate::query::compile::compile(&expr, now(), &mut condition)?;
        condition.push(")");
    }
    Ok(condition)
}

/// Current grants matching a query, a page at a time. `Ok(Err(_))` is a query the user got
/// wrong, with the column of the mistake. Ties in risk go newest grant first, so that the
/// risk index is read in order.
pub async fn query_grants(
    db: &Db,
    query: &str,
    by_risk: bool,
    limit: i64,
    offset: i64,
) -> Result<std::result::Result<Vec<GrantRow>, crate::query::QueryError>> {
    let condition = match grant_condition(query) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let page = |from: &str| {
        let mut sql = Sql::new(&format!("select {GRANT_COLUMNS} {from}"));
        sql.append(&condition);
        sql.push(if by_risk {
            " order by s.risk_score desc, s.access_grant_id desc"
        } else {
            " order by i.display_name, a.name, e.name, g.access_grant_id"
        });
        sql.push(" limit ").bind(limit).push(" offset ").bind(offset);
        sql
    };
    // Riskiest first, the page is usually among the few thousand riskiest grants, read in
    // order from the risk index: when it is all there, that is the answer. Left alone, a
    // planner would rather collect every grant of, say, all API keys and sort them.
    let candidates = offset.saturating_add(limit).saturating_mul(40).max(2_000);
    if by_risk && candidates <= 50_000 {
        // SQLite joins in the order written after a `cross join`, as the probe needs.
        let join = match db.backend {
            crate::db::Backend::Sqlite => "cross join",
            crate::db::Backend::Postgres => "join",
        };
        let probe = page(&format!(
            "from (select access_grant_id, risk_score from grant_score order by risk_score desc, access_grant_id desc limit {candidates}) s \
             {join} access_grant g on g.access_grant_id = s.access_grant_id \
             {join} identity i on i.identity_id = g.identity_id {join} entitlement e on e.entitlement_id = g.entitlement_id \
             {join} application a on a.application_id = e.application_id"
        ));
        let rows = probe.query()?.fetch_all(&db.pool).await?;
        if rows.len() as i64 == limit {
            return Ok(Ok(rows.iter().map(grant_row).collect::<Result<Vec<_>>>()?));
        }
    }
    let rows = page(FROM_GRANTS).query()?.fetch_all(&db.pool).await?;
    Ok(Ok(rows.iter().map(grant_row).collect::<Result<Vec<_>>>()?))
}

/// How many current grants match a query, counted up to one past `cap`: a broad query over a
/// million grants stops there instead of reading them all.
pub async fn count_grants(db: &Db, query: &str, cap: i64) -> Result<std::result::Result<i64, crate::query::QueryError>> {
    let condition = match grant_condition(query) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut sql = Sql::new(&format!("select count(*) from (select 1 {FROM_GRANTS}"));
    sql.append(&condition);
    sql.push(" limit ").bind(cap + 1).push(") matching");
    Ok(Ok(sql.query_scalar()?.fetch_one(&db.pool).await?))
}

pub async fn applications(db: &Db) -> Result<Vec<ApplicationRow>> {
    let rows = sqlx::query(
        "select a.application_id, a.external_id, a.name, coalesce(o.display_name, a.owner) as owner, a.criticality, s.name as source, \
         (select count(*) from entitlement e where e.application_id = a.application_id) as entitlements, \
         (select count(*) from access_grant g join entitlement e on e.entitlement_id = g.entitlement_id \
            where e.application_id = a.application_id and g.ended_at is null) as active_grants, \
         (select count(*) from access_grant g join entitlement e on e.entitlement_id = g.entitlement_id \
            where e.application_id = a.application_id and g.ended_at is null and e.privilege = 'admin') as admin_grants \
         from application a join source s on s.source_id = a.source_id \
         left join identity o on o.identity_id = a.owner_identity_id \
         order by a.name, a.application_id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let criticality: String = row.try_get("criticality")?;
            Ok(ApplicationRow {
                application_id: row.try_get("application_id")?,
                external_id: row.try_get("external_id")?,
                name: row.try_get("name")?,
                owner: row.try_get("owner")?,
                criticality: Criticality::parse(&criticality).map_err(|e| decode_err("criticality", e))?,
                source: row.try_get("source")?,
                entitlements: row.try_get("entitlements")?,
                active_grants: row.try_get("active_grants")?,
                admin_grants: row.try_get("admin_grants")?,
            })
        })
        .collect()
}

pub async fn overview(db: &Db) -> Result<Overview> {
    let now = now();
    let count = |text: &'static str, binds: Vec<i64>| {
        let pool = db.pool.clone();
        async move {
            let mut q = sqlx::query_scalar::<_, i64>(text);
            for b in binds {
                q = q.bind(b);
            }
            q.fetch_one(&pool).await
        }
    };
    let by_kind_rows = sqlx::query("select kind, count(*) as n from identity where ended_at is null group by kind order by kind")
        .fetch_all(&db.pool)
        .await?;
    let mut by_kind = Vec::new();
    for row in &by_kind_rows {
        let kind: String = row.try_get("kind")?;
        let n: i64 = row.try_get("n")?;
        by_kind.push((IdentityKind::parse(&kind).map_err(|e| decode_err("kind", e))?, n));
    }
    let humans = by_kind.iter().filter(|(k, _)| !k.is_machine()).map(|(_, n)| n).sum();
    let machines = by_kind.iter().filter(|(k, _)| k.is_machine()).map(|(_, n)| n).sum();
    let sources = sqlx::query("select name, format, last_imported_at from source order by name")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("format")?, r.try_get("last_imported_at")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Overview {
        by_kind,
        humans,
        machines,
        applications: count("select count(*) from application", vec![]).await?,
        active_grants: count("select count(*) from access_grant where ended_at is null", vec![]).await?,
        orphaned_machines: count("select count(*) from identity where ended_at is null and kind <> 'human' and owner is null", vec![])
            .await?,
        expiring_soon: count(
            "select count(*) from identity where ended_at is null and expires_at >= $1 and expires_at < $2",
            vec![now, now + 14 * DAY],
        )
        .await?,
        expired_with_grants: count(
            "select count(*) from identity i where i.ended_at is null and i.expires_at < $1 \
             and exists (select 1 from access_grant g where g.identity_id = i.identity_id and g.ended_at is null)",
            vec![now],
        )
        .await?,
        stale_credentials: count(
            "select count(*) from identity where ended_at is null and kind <> 'human' and credential_rotated_at < $1",
            vec![now - 90 * DAY],
        )
        .await?,
        dormant_grants: count(
            "select count(*) from access_grant where ended_at is null and (last_used_at is null or last_used_at < $1)",
            vec![now - 90 * DAY],
        )
        .await?,
        inactive_with_grants: count(
            "select count(*) from identity i where i.ended_at is null and i.status <> 'active' \
             and exists (select 1 from access_grant g where g.identity_id = i.identity_id and g.ended_at is null)",
            vec![],
        )
        .await?,
        sources,
    })
}
