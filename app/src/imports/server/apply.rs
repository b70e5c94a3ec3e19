//! Applying a snapshot to the database: one transaction per snapshot, so a failure at any
//! point leaves the database exactly as it was.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::Progress;
use super::model::{GrantRecord, IdentityRecord, Snapshot};
use crate::db::{Db, JsonPages, Result, SetAside, Sql, Value, now};
use crate::imports::ImportSummary;
use crate::scoring::server::repo::Scoring;

/// Bound values per statement. Measured on SQLite: 256 imports 100,000 grants in under 2 s,
/// 8,000 took 11 s (statement cost grows faster than its rows).
const PARAMS_PER_STATEMENT: usize = 256;

enum Ty {
    Int,
    Text,
}

const IDENTITY_FIELDS: &[(&str, Ty)] = &[
    ("kind", Ty::Text),
    ("display_name", Ty::Text),
    ("email", Ty::Text),
    ("owner", Ty::Text),
    ("manager", Ty::Text),
    ("department", Ty::Text),
    ("status", Ty::Text),
    ("purpose", Ty::Text),
    ("source_created_at", Ty::Int),
    ("last_active_at", Ty::Int),
    ("credential_rotated_at", Ty::Int),
    ("expires_at", Ty::Int),
];

const APPLICATION_FIELDS: &[(&str, Ty)] = &[("name", Ty::Text), ("owner", Ty::Text), ("criticality", Ty::Text)];

fn read_values(row: &AnyRow, fields: &[(&str, Ty)]) -> Result<Vec<Value>> {
    fields
        .iter()
        .map(|(name, ty)| {
            Ok(match ty {
                Ty::Int => row.try_get::<Option<i64>, _>(*name)?.into(),
                Ty::Text => row.try_get::<Option<String>, _>(*name)?.into(),
            })
        })
        .collect()
}

/// Runs the update `set` makes on the rows whose `key` is among `ids`, many per statement.
async fn update_in(conn: &mut AnyConnection, set: impl Fn() -> Sql, key: &str, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(PARAMS_PER_STATEMENT) {
        let mut sql = set();
        sql.push(&format!(" where {key} in ")).push_in(chunk);
        sql.query()?.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sets `ended_at` on rows of `table` by id.
async fn end_many(conn: &mut AnyConnection, table: &str, ids: &[i64], at: i64) -> Result<()> {
    let set = || {
        let mut sql = Sql::new(&format!("update {table} set ended_at = "));
        sql.bind(at).push(", updated_at = ").bind(at);
        sql
    };
    update_in(conn, set, &format!("{table}_id"), ids).await
}

/// Ends grants by id. An ended grant is nobody's risk any more: its score and explanation are
/// cleared as it ends, so scoring never has to look for ended grants.
async fn end_grants(conn: &mut AnyConnection, ids: &[i64], at: i64) -> Result<()> {
    let set = || {
        let mut sql = Sql::new("update access_grant set ended_at = ");
        sql.bind(at).push(", updated_at = ").bind(at).push(", risk_words = '', risk_hash = 0, risk_rules = ''");
        sql
    };
    update_in(&mut *conn, set, "access_grant_id", ids).await?;
    update_in(conn, || Sql::new("update grant_score set risk_score = 0"), "access_grant_id", ids).await
}

async fn ids_by_external_id(conn: &mut AnyConnection, table: &str, source_id: i64) -> Result<HashMap<String, i64>> {
    let text = format!("select {table}_id as id, external_id from {table} where source_id = $1");
    let mut rows = sqlx::query(&text).bind(source_id).fetch(&mut *conn);
    let mut map = HashMap::new();
    while let Some(row) = rows.try_next().await? {
        map.insert(row.try_get::<String, _>("external_id")?, row.try_get::<i64, _>("id")?);
    }
    Ok(map)
}

/// An identity's values in the order of `IDENTITY_FIELDS`.
fn identity_values(record: &IdentityRecord) -> Vec<Value> {
    vec![
        record.kind.as_str().into(),
        record.display_name.as_str().into(),
        record.email.clone().into(),
        record.owner.clone().into(),
        record.manager.clone().into(),
        record.department.clone().into(),
        record.status.as_str().into(),
        record.purpose.clone().into(),
        record.created_at.into(),
        record.last_active_at.into(),
        record.credential_rotated_at.into(),
        record.expires_at.into(),
    ]
}

/// A stored grant of the source being imported, as the comparison with the snapshot needs it.
struct StoredGrant {
    /// Identity and entitlement.
    key: (i64, i64),
    id: i64,
    fingerprint: u64,
    ended: bool,
    /// Found in the snapshot.
    seen: bool,
}

/// What a grant carries besides its key, reduced to one number to compare cheaply.
fn grant_fingerprint(granted_at: Option<i64>, last_used_at: Option<i64>, granted_by: Option<&str>) -> u64 {
    let mut hasher = DefaultHasher::new();
    (granted_at, last_used_at, granted_by).hash(&mut hasher);
    hasher.finish()
}

/// Positions in `grants` in the order of their keys (identity id, entitlement id), given the
/// ids of the snapshot's identities and entitlements by position. Grants are counted out by
/// identity, then each identity's few are sorted by entitlement. A comparison sort of them all
/// looked up both ids at every comparison: with it, comparing a first snapshot of a million
/// grants took 0.26 to 0.30 s, and with this 0.14 to 0.19 s.
fn in_key_order(grants: &[GrantRecord], identity_ids: &[i64], entitlement_ids: &[i64]) -> Vec<u32> {
    // Each snapshot identity's rank among them by id, and where its grants start.
    let mut by_id: Vec<u32> = (0..identity_ids.len() as u32).collect();
    by_id.sort_unstable_by_key(|&i| identity_ids[i as usize]);
    let mut rank = vec![0u32; identity_ids.len()];
    for (r, &i) in by_id.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    drop(by_id);
    let mut starts = vec![0u32; identity_ids.len() + 1];
    for grant in grants {
        starts[rank[grant.identity as usize] as usize + 1] += 1;
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    let mut next = starts.clone();
    let mut order = vec![0u32; grants.len()];
    for (index, grant) in grants.iter().enumerate() {
        let slot = &mut next[rank[grant.identity as usize] as usize];
        order[*slot as usize] = index as u32;
        *slot += 1;
    }
    for bounds in starts.windows(2) {
        order[bounds[0] as usize..bounds[1] as usize]
            .sort_unstable_by_key(|&index| entitlement_ids[grants[index as usize].entitlement as usize]);
    }
    order
}

/// The latest imports of every source, newest first.
pub async fn recent_runs(db: &Db, limit: i64) -> Result<Vec<crate::imports::ImportRun>> {
    let rows = sqlx::query(
        "select r.import_run_id, s.name, r.format, r.actor, r.identities_added, r.identities_changed, r.identities_ended, \
         r.grants_added, r.grants_changed, r.grants_ended, r.finished_at from import_run r join source s on s.source_id = r.source_id \
         order by r.import_run_id desc limit $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crate::imports::ImportRun {
                import_run_id: r.try_get("import_run_id")?,
                source: r.try_get("name")?,
                format: r.try_get("format")?,
                actor: r.try_get("actor")?,
                identities_added: r.try_get("identities_added")?,
                identities_changed: r.try_get("identities_changed")?,
                identities_ended: r.try_get("identities_ended")?,
                grants_added: r.try_get("grants_added")?,
                grants_changed: r.try_get("grants_changed")?,
                grants_ended: r.try_get("grants_ended")?,
                finished_at: r.try_get("finished_at")?,
            })
        })
        .collect()
}

/// Applies `snapshot` as the new state of its source, scoring the estate again in the same
/// transaction, then checks open remediation against it. `actor` names who ran the import.
#[tracing::instrument(skip_all, fields(source = %snapshot.source, identities = snapshot.identities.len(), grants = snapshot.grants.len()))]
pub async fn apply(db: &Db, snapshot: Snapshot, actor: &str, progress: &dyn Progress) -> Result<ImportSummary> {
    // The write scores the estate too, so that new grants are written once, with their scores.
    let (mut summary, source_id) = write(db, snapshot, actor, progress).await?;
    let checked = crate::evidence::server::remediation::check_source(db, source_id, actor, now()).await?;
    summary.remediation_verified = checked.verified;
    summary.remediation_failed = checked.failed;
    progress.finish();
    Ok(summary)
}

/// Pages SQLite keeps in memory while a snapshot is written, in KiB: the identity indexes of a
/// large estate fit, so their inserts do not spill to disk (100,000 identities go in twice as
/// fast). Set back to SQLite's default afterwards.
const WRITE_CACHE_KIB: i64 = 32_768;
const DEFAULT_CACHE_KIB: i64 = 2_000;

/// The tables a snapshot writes to, whose references are checked before it commits. Grants and
/// their scores are left out, as they are right by construction and a million of them took
/// half a second to check: every new grant's identity and entitlement were read back in this
/// transaction by [`Scoring::read`], which refuses a grant whose either is missing, and every
/// score row is written under the id its grant was inserted with.
const WRITTEN_TABLES: [&str; 5] = ["identity", "application", "entitlement", "sod_rule", "import_run"];

/// Writes `snapshot` in one transaction; returns the summary so far and the source's id.
///
/// On SQLite the references are checked once, table by table, before the commit instead of
/// on every row: identities refer to each other as owners and managers, and checking those
/// row by row took longer than writing them. SQLite only changes this setting outside a
/// transaction, so it is set here and set back after.
async fn write(db: &Db, snapshot: Snapshot, actor: &str, progress: &dyn Progress) -> Result<(ImportSummary, i64)> {
    let mut conn = db.pool.acquire().await?;
    let sqlite = db.backend == crate::db::Backend::Sqlite;
    if sqlite {
        sqlx::query(&format!("pragma cache_size = -{WRITE_CACHE_KIB}")).execute(&mut *conn).await?;
        sqlx::query("pragma foreign_keys = off").execute(&mut *conn).await?;
    }
    let written = write_on(&mut conn, db.backend, &snapshot, actor, progress).await;
    if sqlite {
        let reset = async {
            sqlx::query("pragma foreign_keys = on").execute(&mut *conn).await?;
            sqlx::query(&format!("pragma cache_size = -{DEFAULT_CACHE_KIB}")).execute(&mut *conn).await?;
            sqlx::query("pragma shrink_memory").execute(&mut *conn).await
        }
        .await;
        if reset.is_err() {
            // Never hand back a connection that does not check references.
            conn.close_on_drop();
        }
        let written = written?;
        reset?;
        return Ok(written);
    }
    written
}

/// Logs, at debug level, how long each step of an import took.
struct Laps(std::time::Instant);

impl Laps {
    fn start() -> Laps {
        Laps(std::time::Instant::now())
    }

    fn mark(&mut self, step: &str) {
        let peak_mib = super::peak_kib("self").unwrap_or(0) / 1024;
        tracing::debug!(step, ms = self.0.elapsed().as_millis() as u64, peak_mib, "import step done");
        self.0 = std::time::Instant::now();
    }
}

/// The identities' search index while many identities are added (SQLite only): its insert
/// trigger is dropped, and the new identities are indexed after, in one statement. Row by row,
/// the index wrote a segment at the end of every insert statement and merged them again and
/// again: indexing 100,000 identities took more than twice the instructions. Inside the
/// import's transaction, so a rollback brings the trigger back.
struct SearchBackfill {
    /// The trigger's `create` statement, as the migrations wrote it.
    trigger: String,
    /// The largest identity id before the insert: every new identity's id is larger.
    after: i64,
}

/// Index data SQLite's full-text search holds in memory before it writes a segment, in bytes,
/// while new identities are indexed in bulk: 100,000 identities fit. Its default, set back
/// after, is 1 MiB.
const SEARCH_BULK_HASH_BYTES: i64 = 16 << 20;
const SEARCH_DEFAULT_HASH_BYTES: i64 = 1 << 20;

impl SearchBackfill {
    async fn start(conn: &mut AnyConnection) -> Result<SearchBackfill> {
        let trigger: String =
            sqlx::query_scalar("select sql from sqlite_master where type = 'trigger' and name = 'identity_search_insert'")
                .fetch_one(&mut *conn)
                .await?;
        let after: i64 = sqlx::query_scalar("select coalesce(max(identity_id), 0) from identity").fetch_one(&mut *conn).await?;
        sqlx::query("drop trigger identity_search_insert").execute(&mut *conn).await?;
        Ok(SearchBackfill { trigger, after })
    }

    async fn finish(self, conn: &mut AnyConnection) -> Result<()> {
        let hashsize = "insert into identity_search (identity_search, rank) values ('hashsize', $1)";
        sqlx::query(hashsize).bind(SEARCH_BULK_HASH_BYTES).execute(&mut *conn).await?;
        sqlx::query(
            "insert into identity_search (rowid, display_name, email, external_id) \
             select identity_id, display_name, email, external_id from identity where identity_id > $1",
        )
        .bind(self.after)
        .execute(&mut *conn)
        .await?;
        sqlx::query(hashsize).bind(SEARCH_DEFAULT_HASH_BYTES).execute(&mut *conn).await?;
        sqlx::query(&self.trigger).execute(&mut *conn).await?;
        Ok(())
    }
}

/// Fails when a row of the tables the import wrote refers to a row that does not exist.
async fn check_references(conn: &mut AnyConnection) -> Result<()> {
    for table in WRITTEN_TABLES {
        let broken = sqlx::query(&format!("select rowid as row, parent from pragma_foreign_key_check('{table}') limit 1"))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = broken {
            let (id, parent): (i64, String) = (row.try_get("row")?, row.try_get("parent")?);
            return Err(crate::db::DbError::Integrity(format!("{table} {id} would refer to a missing {parent}")));
        }
    }
    Ok(())
}

async fn write_on(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    snapshot: &Snapshot,
    actor: &str,
    progress: &dyn Progress,
) -> Result<(ImportSummary, i64)> {
    use sqlx::Connection;
    let started = now();
    let clock = std::time::Instant::now();
    let mut summary = ImportSummary { source: snapshot.source.clone(), warnings: snapshot.warnings.clone(), ..Default::default() };
    let mut tx = conn.begin().await?;
    let conn: &mut AnyConnection = &mut tx;

    sqlx::query("insert into source (name, format, created_at) values ($1, $2, $3) on conflict (name) do nothing")
        .bind(&snapshot.source)
        .bind(&snapshot.format)
        .bind(started)
        .execute(&mut *conn)
        .await?;
    let source_id: i64 =
        sqlx::query_scalar("select source_id from source where name = $1").bind(&snapshot.source).fetch_one(&mut *conn).await?;

    // Identities.
    let mut laps = Laps::start();
    progress.phase("identities", Some(snapshot.identities.len() as u64));
    let columns: Vec<&str> = IDENTITY_FIELDS.iter().map(|(n, _)| *n).collect();
    let mut existing: HashMap<String, (i64, Vec<Value>, bool)> = HashMap::new();
    {
        let text = format!("select identity_id, external_id, ended_at, {} from identity where source_id = $1", columns.join(", "));
        let mut rows = sqlx::query(&text).bind(source_id).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let ended: Option<i64> = row.try_get("ended_at")?;
            existing
                .insert(row.try_get("external_id")?, (row.try_get("identity_id")?, read_values(&row, IDENTITY_FIELDS)?, ended.is_some()));
        }
    }
    let mut inserts: Vec<u32> = Vec::new();
    let update_text = format!(
        "update identity set {}, ended_at = null, updated_at = ${} where identity_id = ${}",
        columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect::<Vec<_>>().join(", "),
        columns.len() + 1,
        columns.len() + 2
    );
    // Indexes into snapshot.identities: the rows are built batch by batch, not all at once.
    for (index, record) in snapshot.identities.iter().enumerate() {
        let values = identity_values(record);
        match existing.remove(&record.external_id) {
            None => inserts.push(index as u32),
            Some((id, old, ended)) if old != values || ended => {
                let mut sql = Sql { text: update_text.clone(), values };
                sql.values.push(Value::Int(started));
                sql.values.push(Value::Int(id));
                sql.query()?.execute(&mut *conn).await?;
                summary.identities_changed += 1;
            }
            Some(_) => {}
        }
    }
    summary.identities_added = inserts.len() as i64;
    // Built again after the owners, managers and scores are written: not updated for those either.
    let identity_indexes = SetAside::before_insert(conn, backend, "identity", inserts.len()).await?;
    let head = format!("insert into identity (source_id, created_at, updated_at, external_id, {})", columns.join(", "));
    let constants = [Value::Int(source_id), Value::Int(started), Value::Int(started)];
    let rows = (0..inserts.len()).map(|k| {
        let record = &snapshot.identities[inserts[k] as usize];
        let mut row = vec![record.external_id.as_str().into()];
        row.extend(identity_values(record));
        row
    });
    let search = if identity_indexes.is_bulk() { Some(SearchBackfill::start(conn).await?) } else { None };
    crate::db::insert_many(conn, backend, &head, &constants, rows, |n| progress.set(n)).await?;
    if let Some(search) = search {
        search.finish(conn).await?;
    }
    let gone: Vec<i64> = existing.into_values().filter(|(_, _, ended)| !ended).map(|(id, _, _)| id).collect();
    summary.identities_ended = gone.len() as i64;
    end_many(conn, "identity", &gone, started).await?;
    let identity_ids = ids_by_external_id(conn, "identity", source_id).await?;
    laps.mark("identities");

    // Applications.
    let mut existing_apps: HashMap<String, (i64, Vec<Value>)> = HashMap::new();
    {
        let mut rows = sqlx::query("select application_id, external_id, name, owner, criticality from application where source_id = $1")
            .bind(source_id)
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            existing_apps.insert(row.try_get("external_id")?, (row.try_get("application_id")?, read_values(&row, APPLICATION_FIELDS)?));
        }
    }
    let mut app_inserts = Vec::new();
    for app in &snapshot.applications {
        let values: Vec<Value> = vec![app.name.as_str().into(), app.owner.clone().into(), app.criticality.as_str().into()];
        match existing_apps.get(&app.external_id) {
            None => {
                let mut row = vec![app.external_id.as_str().into()];
                row.extend(values);
                app_inserts.push(row);
            }
            Some((id, old)) if *old != values => {
                let mut sql =
                    Sql::new("update application set name = $1, owner = $2, criticality = $3, updated_at = $4 where application_id = $5");
                sql.values = values;
                sql.values.extend([Value::Int(started), Value::Int(*id)]);
                sql.query()?.execute(&mut *conn).await?;
            }
            Some(_) => {}
        }
    }
    summary.applications_added = app_inserts.len() as i64;
    crate::db::insert_many(
        conn,
        backend,
        "insert into application (source_id, created_at, updated_at, external_id, name, owner, criticality)",
        &[Value::Int(source_id), Value::Int(started), Value::Int(started)],
        app_inserts.into_iter(),
        |n| progress.set(n),
    )
    .await?;
    let app_ids = ids_by_external_id(conn, "application", source_id).await?;
    let snapshot_app_ids: Vec<i64> = snapshot
        .applications
        .iter()
        .map(|a| app_ids.get(&a.external_id).copied().ok_or_else(|| missing("application", &a.external_id)))
        .collect::<Result<_>>()?;

    // Entitlements, keyed by application and name.
    let existing_entitlements = load_entitlements(&mut *conn, source_id).await?;
    let mut ent_inserts = Vec::new();
    for ent in &snapshot.entitlements {
        let application_id = snapshot_app_ids[ent.application as usize];
        let (privilege, inferred) = ent.privilege();
        let inferred = i64::from(inferred);
        match existing_entitlements.get(&(application_id, ent.name.clone())) {
            None => ent_inserts.push(vec![
                Value::Int(application_id),
                ent.name.as_str().into(),
                privilege.as_str().into(),
                Value::Int(inferred),
            ]),
            Some((id, old_privilege, old_inferred)) if old_privilege != privilege.as_str() || *old_inferred != inferred => {
                sqlx::query("update entitlement set privilege = $1, privilege_inferred = $2 where entitlement_id = $3")
                    .bind(privilege.as_str())
                    .bind(inferred)
                    .bind(*id)
                    .execute(&mut *conn)
                    .await?;
            }
            Some(_) => {}
        }
    }
    summary.entitlements_added = ent_inserts.len() as i64;
    crate::db::insert_many(
        conn,
        backend,
        "insert into entitlement (created_at, application_id, name, privilege, privilege_inferred)",
        &[Value::Int(started)],
        ent_inserts.into_iter(),
        |n| progress.set(n),
    )
    .await?;
    let entitlement_ids = load_entitlements(&mut *conn, source_id).await?;
    let snapshot_ent_ids: Vec<i64> = snapshot
        .entitlements
        .iter()
        .map(|e| {
            entitlement_ids
                .get(&(snapshot_app_ids[e.application as usize], e.name.clone()))
                .map(|(id, _, _)| *id)
                .ok_or_else(|| missing("entitlement", &e.name))
        })
        .collect::<Result<_>>()?;
    let snapshot_identity_ids: Vec<i64> = snapshot
        .identities
        .iter()
        .map(|i| identity_ids.get(&i.external_id).copied().ok_or_else(|| missing("identity", &i.external_id)))
        .collect::<Result<_>>()?;

    laps.mark("applications and entitlements");

    // Grants: compare fingerprints, so a million unchanged grants cost a million lookups and
    // no writes. The source's stored grants are held sorted by key, 40 bytes each: a hash map
    // of them took twice the memory, and more while it grew.
    progress.phase("comparing grants", None);
    let count: i64 =
        sqlx::query_scalar("select count(*) from access_grant where source_id = $1").bind(source_id).fetch_one(&mut *conn).await?;
    let mut stored_grants: Vec<StoredGrant> = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    {
        let mut pages = JsonPages::new(
            backend,
            &[
                "access_grant_id",
                "identity_id",
                "entitlement_id",
                "granted_at",
                "last_used_at",
                "granted_by",
                "case when ended_at is null then 0 else 1 end",
            ],
            "access_grant_id",
            "from access_grant where source_id = $3",
            10_000,
        )
        .bind(source_id);
        while let Some(page) = pages.next_columns(&mut *conn).await? {
            let (ids, identities, entitlements) = (page.column::<i64>(0)?, page.column::<i64>(1)?, page.column::<i64>(2)?);
            let (granted, used, by) = (page.column::<Option<i64>>(3)?, page.column::<Option<i64>>(4)?, page.column::<Option<String>>(5)?);
            let ended = page.column::<i64>(6)?;
            for n in 0..page.len() {
                stored_grants.push(StoredGrant {
                    key: (identities[n], entitlements[n]),
                    id: ids[n],
                    fingerprint: grant_fingerprint(granted[n], used[n], by[n].as_deref()),
                    ended: ended[n] != 0,
                    seen: false,
                });
            }
        }
    }
    stored_grants.sort_unstable_by_key(|g| g.key);
    // The snapshot's grants in key order too, so the two are compared in one pass; the new
    // grants come out in key order, in which each index grows at a few places instead of
    // everywhere at once: a million new grants go in about four times faster.
    let grant_key = |index: u32| {
        let grant = &snapshot.grants[index as usize];
        (snapshot_identity_ids[grant.identity as usize], snapshot_ent_ids[grant.entitlement as usize])
    };
    let in_key_order = in_key_order(&snapshot.grants, &snapshot_identity_ids, &snapshot_ent_ids);
    // Indexes into snapshot.grants: the rows are built batch by batch, not all at once.
    let mut grant_inserts: Vec<u32> = Vec::new();
    let mut at = 0;
    for k in 0..in_key_order.len() {
        let index = in_key_order[k];
        let grant = &snapshot.grants[index as usize];
        let key = grant_key(index);
        while at < stored_grants.len() && stored_grants[at].key < key {
            at += 1;
        }
        // A key given twice in the snapshot finds its stored grant once; the second is new and
        // is refused as a duplicate when inserted.
        if at == stored_grants.len() || stored_grants[at].key != key || stored_grants[at].seen {
            grant_inserts.push(index);
            continue;
        }
        let granted_by = grant.granted_by.map(|i| snapshot.names[i as usize].as_str());
        let fingerprint = grant_fingerprint(grant.granted_at, grant.last_used_at, granted_by);
        let stored = &mut stored_grants[at];
        stored.seen = true;
        if stored.fingerprint != fingerprint || stored.ended {
            let id = stored.id;
            sqlx::query(
                "update access_grant set granted_at = $1, last_used_at = $2, granted_by = $3, ended_at = null, updated_at = $4 where access_grant_id = $5",
            )
            .bind(grant.granted_at)
            .bind(grant.last_used_at)
            .bind(granted_by)
            .bind(started)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            summary.grants_changed += 1;
        }
    }
    summary.grants_added = grant_inserts.len() as i64;
    let gone: Vec<i64> = stored_grants.iter().filter(|g| !g.seen && !g.ended).map(|g| g.id).collect();
    drop((stored_grants, in_key_order));
    summary.grants_ended = gone.len() as i64;
    end_grants(conn, &gone, started).await?;
    laps.mark("comparing grants");

    progress.phase("resolving owners and managers", None);
    resolve_people(conn, backend).await?;
    laps.mark("owners and managers");
    if let Some(rules) = &snapshot.sod_rules {
        crate::scoring::server::settings::replace_source_rules(conn, rules, source_id, actor, started).await?;
    }

    // By position, not by reference: a closure over `&u32` items makes this future not `Send`
    // for every lifetime, and web handlers need it to be.
    let key = |k: usize| grant_key(grant_inserts[k]);

    // The whole estate is scored with the new grants counted among the peers; the new grants
    // are scored as they are inserted, so each is written once.
    progress.phase("scoring risk", None);
    let mut scoring = Scoring::read(conn, backend, now(), (0..grant_inserts.len()).map(key)).await?;
    laps.mark("reading the estate for scoring");
    scoring.write_stored(conn).await?;
    scoring.expect_writes(conn, grant_inserts.len()).await?;
    laps.mark("scoring stored grants");
    progress.phase("writing grants", Some(grant_inserts.len() as u64));
    // Each new grant's score goes to `grant_score` under the id the grant is inserted with.
    let ids = crate::db::reserve_ids(conn, backend, "access_grant", grant_inserts.len()).await?;
    let mut scores: Vec<i64> = Vec::with_capacity(grant_inserts.len());
    let rows = (0..grant_inserts.len()).map(|k| {
        let grant = &snapshot.grants[grant_inserts[k] as usize];
        let (identity, entitlement) = key(k);
        let scored = scoring.score_new(k, identity, entitlement, grant.granted_at, grant.last_used_at);
        scores.push(scored.value);
        vec![
            Value::Int(ids[k]),
            Value::Int(identity),
            Value::Int(entitlement),
            grant.granted_at.into(),
            grant.last_used_at.into(),
            grant.granted_by.map(|i| snapshot.names[i as usize].as_str()).into(),
            Value::Text(scored.words),
            Value::Int(scored.hash),
            Value::Text(scored.rules),
        ]
    });
    // On SQLite, a failing row fails the import, whose transaction is then rolled back whole:
    // `or fail` spares SQLite a journal of each statement's pages to undo just that statement.
    let insert = if backend == crate::db::Backend::Sqlite { "insert or fail" } else { "insert" };
    crate::db::insert_many(
        conn,
        backend,
        &format!(
            "{insert} into access_grant (source_id, created_at, updated_at, access_grant_id, identity_id, entitlement_id, granted_at, \
         last_used_at, granted_by, risk_words, risk_hash, risk_rules)"
        ),
        &[Value::Int(source_id), Value::Int(started), Value::Int(started)],
        rows,
        |n| progress.set(n),
    )
    .await?;
    crate::scoring::server::repo::insert_scores(conn, backend, &ids, &scores).await?;
    laps.mark("inserting new grants");
    let (scored, scoring_time) = scoring.finish(conn).await?;
    laps.mark("identity scores and the risk index");
    identity_indexes.restore(conn).await?;
    laps.mark("identity indexes built again");
    summary.grants_scored = scored;
    summary.scoring_ms = scoring_time.as_millis() as u64;

    let finished = now();
    sqlx::query("update source set format = $1, last_imported_at = $2 where source_id = $3")
        .bind(&snapshot.format)
        .bind(finished)
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into import_run (source_id, format, actor, identities_added, identities_changed, identities_ended, \
         grants_added, grants_changed, grants_ended, rejected, started_at, finished_at, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(source_id)
    .bind(&snapshot.format)
    .bind(actor)
    .bind(summary.identities_added)
    .bind(summary.identities_changed)
    .bind(summary.identities_ended)
    .bind(summary.grants_added)
    .bind(summary.grants_changed)
    .bind(summary.grants_ended)
    .bind(summary.rejected)
    .bind(started)
    .bind(finished)
    .execute(&mut *conn)
    .await?;
    if backend == crate::db::Backend::Sqlite {
        check_references(conn).await?;
    }
    tx.commit().await?;
    laps.mark("recording the run and committing");
    summary.apply_ms = (clock.elapsed().as_millis() as u64).saturating_sub(summary.scoring_ms);
    Ok((summary, source_id))
}

/// The source's entitlements by application and name: (id, privilege, inferred).
async fn load_entitlements(conn: &mut AnyConnection, source_id: i64) -> Result<HashMap<(i64, String), (i64, String, i64)>> {
    let rows = sqlx::query(
        "select e.entitlement_id, e.application_id, e.name, e.privilege, e.privilege_inferred from entitlement e \
         join application a on a.application_id = e.application_id where a.source_id = $1",
    )
    .bind(source_id)
    .fetch_all(conn)
    .await?;
    let mut map = HashMap::new();
    for row in rows {
        map.insert(
            (row.try_get("application_id")?, row.try_get("name")?),
            (row.try_get("entitlement_id")?, row.try_get("privilege")?, row.try_get("privilege_inferred")?),
        );
    }
    Ok(map)
}

fn missing(what: &str, id: &str) -> crate::db::DbError {
    crate::db::DbError::NotFound(format!("{what} `{id}` vanished during the import"))
}

/// Links owners and managers, given as an email or an id, to active identities of any source:
/// the first identity with that email, else the first with that id. Worked out in memory from
/// one read of the identities, so only the rows whose links change are written.
async fn resolve_people(conn: &mut AnyConnection, backend: crate::db::Backend) -> Result<()> {
    let mut by_email: HashMap<String, i64> = HashMap::new();
    let mut by_id: HashMap<String, i64> = HashMap::new();
    // Identities with an owner or a manager, given or linked: id, owner, manager, owner's id,
    // manager's id.
    let mut linked: Vec<(i64, Option<String>, Option<String>, Option<i64>, Option<i64>)> = Vec::new();
    let mut pages = JsonPages::new(
        backend,
        &[
            "identity_id",
            "email",
            "external_id",
            "case when ended_at is null then 0 else 1 end",
            "owner",
            "manager",
            "owner_identity_id",
            "manager_identity_id",
        ],
        "identity_id",
        "from identity where 1 = 1",
        10_000,
    );
    // In id order, so the first identity found for an email or an id is the lowest.
    while let Some(page) = pages.next_columns(&mut *conn).await? {
        let (ids, ended) = (page.column::<i64>(0)?, page.column::<i64>(3)?);
        let (emails, external_ids) = (page.column::<Option<String>>(1)?, page.column::<String>(2)?);
        let (owners, managers) = (page.column::<Option<String>>(4)?, page.column::<Option<String>>(5)?);
        let (owner_ids, manager_ids) = (page.column::<Option<i64>>(6)?, page.column::<Option<i64>>(7)?);
        // What is kept is copied, so that the page is freed whole: kept in place, its strings
        // held on to memory the page's other strings left free, and a re-import peaked higher.
        for n in 0..page.len() {
            if ended[n] == 0 {
                if let Some(email) = &emails[n] {
                    by_email.entry(email.clone()).or_insert(ids[n]);
                }
                by_id.entry(external_ids[n].clone()).or_insert(ids[n]);
            }
            if owners[n].is_some() || managers[n].is_some() || owner_ids[n].is_some() || manager_ids[n].is_some() {
                linked.push((ids[n], owners[n].clone(), managers[n].clone(), owner_ids[n], manager_ids[n]));
            }
        }
    }
    let find = |name: &Option<String>| name.as_ref().and_then(|n| by_email.get(n).or_else(|| by_id.get(n)).copied());
    let changed: Vec<(i64, Option<i64>, Option<i64>)> = linked
        .iter()
        .filter_map(|p| {
            let (owner, manager) = (find(&p.1), find(&p.2));
            (owner != p.3 || manager != p.4).then_some((p.0, owner, manager))
        })
        .collect();
    let columns = [("owner_identity_id", true), ("manager_identity_id", true)];
    let rows = changed.into_iter().map(|(id, owner, manager)| vec![Value::Int(id), owner.into(), manager.into()]);
    crate::db::update_many(&mut *conn, backend, "identity", "identity_id", &columns, rows).await?;
    let applications = sqlx::query("select application_id, owner, owner_identity_id from application").fetch_all(&mut *conn).await?;
    let mut changed: Vec<(i64, Option<i64>)> = Vec::new();
    for row in applications {
        let owner = find(&row.try_get("owner")?);
        if owner != row.try_get::<Option<i64>, _>("owner_identity_id")? {
            changed.push((row.try_get("application_id")?, owner));
        }
    }
    let rows = changed.into_iter().map(|(id, owner)| vec![Value::Int(id), owner.into()]);
    crate::db::update_many(&mut *conn, backend, "application", "application_id", &[("owner_identity_id", true)], rows).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grant(identity: u32, entitlement: u32) -> GrantRecord {
        GrantRecord { identity, entitlement, granted_at: None, last_used_at: None, granted_by: None }
    }

    proptest! {
        #[test]
        fn grants_are_compared_and_written_in_the_order_of_identity_then_entitlement(
            identity_ids in proptest::collection::hash_set(1i64..1_000_000, 1..20),
            entitlement_ids in proptest::collection::vec(1i64..1_000, 1..10),
            pairs in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..200),
        ) {
            let identity_ids: Vec<i64> = identity_ids.into_iter().collect();
            let grants: Vec<GrantRecord> = pairs
                .iter()
                .map(|(i, e)| grant(i % identity_ids.len() as u32, e % entitlement_ids.len() as u32))
                .collect();
            let key = |index: u32| {
                let g = &grants[index as usize];
                (identity_ids[g.identity as usize], entitlement_ids[g.entitlement as usize])
            };
            let order = in_key_order(&grants, &identity_ids, &entitlement_ids);
            let mut expected: Vec<u32> = (0..grants.len() as u32).collect();
            expected.sort_by_key(|&index| key(index));
            prop_assert_eq!(order.iter().map(|&i| key(i)).collect::<Vec<_>>(), expected.iter().map(|&i| key(i)).collect::<Vec<_>>());
            let mut every: Vec<u32> = order.clone();
            every.sort_unstable();
            prop_assert_eq!(every, (0..grants.len() as u32).collect::<Vec<_>>());
        }
    }
}
