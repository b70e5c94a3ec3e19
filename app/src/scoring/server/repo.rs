use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use serde::Deserialize;
use sqlx::{AnyConnection, Row};

use crate::db::{Backend, Db, JsonPages, Result, SetAside, Value};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::scoring::{Input, Score, Settings, score};

/// Grants read per page, and changed scores held in memory before they are written.
const PAGE: i64 = 10_000;
/// With more changed scores than this, the risk index is dropped and built again afterwards,
/// which is several times faster than updating it row by row.
const REBUILD_INDEX_ABOVE: usize = 100_000;

/// What scoring needs of an identity, read once per identity.
#[derive(Deserialize)]
struct IdentityIn(
    i64,
    IdentityKind,
    IdentityStatus,
    i64,
    Option<IdentityStatus>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
);

struct Identity {
    kind: IdentityKind,
    status: IdentityStatus,
    has_owner: bool,
    owner_inactive: bool,
    ended: bool,
    /// Index into the interned departments.
    department: u32,
    last_active_at: Option<i64>,
    credential_rotated_at: Option<i64>,
    expires_at: Option<i64>,
    stored_risk: i64,
    /// The highest score among its active grants, found while scoring.
    risk: i64,
}

/// What scoring needs of an entitlement: id, privilege, inferred, application, criticality.
#[derive(Deserialize)]
struct EntitlementIn(i64, Privilege, i64, i64, Criticality);

/// One active grant as kept in memory while the estate is scored: the stored words only as
/// their stored hash, so a million grants take about 60 MB.
struct Grant {
    id: i64,
    identity: i64,
    entitlement: i64,
    granted_at: Option<i64>,
    last_used_at: Option<i64>,
    stored_score: i64,
    stored_hash: i64,
}

/// The stored hash of a grant's risk words: 64-bit FNV-1a, the same on every machine and
/// version, never 0.
fn hash_words(words: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in words.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash as i64).max(1)
}

/// Peer groups: people by department; machines by kind and application.
#[derive(Default)]
struct Peers {
    people: FxHashMap<u32, i64>,
    people_holding: FxHashMap<(i64, u32), i64>,
    machines: FxHashMap<(IdentityKind, i64), i64>,
    machines_holding: FxHashMap<(i64, IdentityKind), i64>,
}

/// Interned departments: `None` is 0.
#[derive(Default)]
struct Departments(HashMap<Option<String>, u32>);

impl Departments {
    fn index(&mut self, department: Option<String>) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(department).or_insert(next)
    }
}

async fn identities(conn: &mut AnyConnection, backend: Backend, departments: &mut Departments) -> Result<FxHashMap<i64, Identity>> {
    let mut found = FxHashMap::default();
    let mut pages = JsonPages::new(
        backend,
        &[
            "i.identity_id",
            "i.kind",
            "i.status",
            "case when i.owner is null then 0 else 1 end",
            "o.status",
            "i.department",
            "i.last_active_at",
            "i.credential_rotated_at",
            "i.expires_at",
            "i.risk_score",
            "case when i.ended_at is null then 0 else 1 end",
        ],
        "i.identity_id",
        "from identity i left join identity o on o.identity_id = i.owner_identity_id where 1 = 1",
        PAGE,
    );
    while let Some(page) = pages.next::<IdentityIn>(&mut *conn).await? {
        for IdentityIn(id, kind, status, has_owner, owner_status, department, last_active_at, rotated, expires_at, stored_risk, ended) in
            page
        {
            found.insert(
                id,
                Identity {
                    kind,
                    status,
                    has_owner: has_owner != 0,
                    owner_inactive: owner_status.is_some_and(|s| s != IdentityStatus::Active),
                    ended: ended != 0,
                    department: departments.index(department),
                    last_active_at,
                    credential_rotated_at: rotated,
                    expires_at,
                    stored_risk,
                    risk: 0,
                },
            );
        }
    }
    Ok(found)
}

async fn entitlements(conn: &mut AnyConnection, backend: Backend) -> Result<FxHashMap<i64, EntitlementIn>> {
    let mut found = FxHashMap::default();
    let mut pages = JsonPages::new(
        backend,
        &["e.entitlement_id", "e.privilege", "e.privilege_inferred", "e.application_id", "a.criticality"],
        "e.entitlement_id",
        "from entitlement e join application a on a.application_id = e.application_id where 1 = 1",
        PAGE,
    );
    while let Some(page) = pages.next::<EntitlementIn>(&mut *conn).await? {
        found.extend(page.into_iter().map(|e| (e.0, e)));
    }
    Ok(found)
}

/// Every active grant, in id order.
async fn grants(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<Grant>> {
    // Room for all of them from the start (the ended ones too, as they are not counted apart):
    // growing a vector of a million grants doubles it while both copies live.
    let count: i64 = sqlx::query_scalar("select count(*) from grant_score").fetch_one(&mut *conn).await?;
    let mut found = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut pages = JsonPages::new(
        backend,
        &["g.access_grant_id", "g.identity_id", "g.entitlement_id", "g.granted_at", "g.last_used_at", "s.risk_score", "g.risk_hash"],
        "g.access_grant_id",
        "from access_grant g join grant_score s on s.access_grant_id = g.access_grant_id where g.ended_at is null",
        PAGE,
    );
    while let Some(page) = pages.next_columns(&mut *conn).await? {
        let (ids, identities, entitlements) = (page.column::<i64>(0)?, page.column::<i64>(1)?, page.column::<i64>(2)?);
        let (granted, used) = (page.column::<Option<i64>>(3)?, page.column::<Option<i64>>(4)?);
        let (scores, hashes) = (page.column::<i64>(5)?, page.column::<i64>(6)?);
        for n in 0..page.len() {
            found.push(Grant {
                id: ids[n],
                identity: identities[n],
                entitlement: entitlements[n],
                granted_at: granted[n],
                last_used_at: used[n],
                stored_score: scores[n],
                stored_hash: hashes[n],
            });
        }
    }
    Ok(found)
}

/// Counts peers and holders from the identities and the (identity, entitlement) of every
/// active grant.
fn peers(
    identities: &FxHashMap<i64, Identity>,
    entitlements: &FxHashMap<i64, EntitlementIn>,
    grants: impl Iterator<Item = (i64, i64)>,
) -> Peers {
    let mut peers = Peers::default();
    for identity in identities.values().filter(|i| !i.ended && i.kind == IdentityKind::Human) {
        *peers.people.entry(identity.department).or_default() += 1;
    }
    // An identity holds an entitlement at most once, so counting grants counts holders.
    let mut machine_on_app: FxHashSet<(i64, i64)> = FxHashSet::default();
    for (identity_id, entitlement_id) in grants {
        let (Some(identity), Some(entitlement)) = (identities.get(&identity_id), entitlements.get(&entitlement_id)) else { continue };
        if identity.kind.is_machine() {
            *peers.machines_holding.entry((entitlement_id, identity.kind)).or_default() += 1;
            if machine_on_app.insert((identity_id, entitlement.3)) {
                *peers.machines.entry((identity.kind, entitlement.3)).or_default() += 1;
            }
        } else {
            *peers.people_holding.entry((entitlement_id, identity.department)).or_default() += 1;
        }
    }
    peers
}

/// Scores every active grant with the settings in force.
pub async fn rescore(db: &Db) -> Result<u64> {
    let mut tx = db.pool.begin().await?;
    let mut scoring = Scoring::read(&mut tx, db.backend, crate::db::now(), std::iter::empty()).await?;
    scoring.write_stored(&mut tx).await?;
    let (scored, _) = scoring.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(scored)
}

/// A grant's score as stored: the value, the factors in words and their hash, and the rules
/// as `,rule,rule,`.
pub struct Scored {
    pub value: i64,
    pub words: String,
    pub hash: i64,
    pub rules: String,
}

/// Scoring the whole estate inside one transaction. [`Scoring::read`] reads the identities,
/// entitlements and active grants once, in pages, and counts peers and separation-of-duties
/// conflicts in memory, including grants about to be inserted; [`Scoring::write_stored`]
/// stores the stored grants' changed scores; [`Scoring::score_new`] scores each grant as it is
/// inserted, so it is written once; [`Scoring::finish`] sets each identity's highest score.
pub struct Scoring {
    backend: Backend,
    settings: Settings,
    now: i64,
    identities: FxHashMap<i64, Identity>,
    entitlements: FxHashMap<i64, EntitlementIn>,
    stored: Vec<Grant>,
    peers: Peers,
    /// Conflicts by grant id; a grant not stored yet is keyed `-1 - position`.
    toxic: HashMap<i64, String>,
    scored: u64,
    changed: usize,
    /// The risk index, when it was dropped and must be built again at the end.
    rebuild: Option<SetAside>,
    /// Time spent scoring, for the import's summary.
    elapsed: std::time::Duration,
}

impl Scoring {
    /// Reads the settings in force and the estate through `conn`; `new` are the (identity,
    /// entitlement) of grants that will be inserted, in the order [`Scoring::score_new`] will be
    /// asked for them.
    #[tracing::instrument(skip_all)]
    pub async fn read(
        conn: &mut AnyConnection,
        backend: Backend,
        now: i64,
        new: impl Iterator<Item = (i64, i64)> + Clone,
    ) -> Result<Scoring> {
        let clock = std::time::Instant::now();
        let settings = crate::scoring::server::settings::current(&mut *conn).await?;
        let mut departments = Departments::default();
        departments.index(None);
        let identities = identities(&mut *conn, backend, &mut departments).await?;
        let entitlements = entitlements(&mut *conn, backend).await?;
        let identities_ms = clock.elapsed().as_millis();
        let stored = grants(&mut *conn, backend).await?;
        let grants_ms = clock.elapsed().as_millis() - identities_ms;
        let rules = crate::scoring::server::settings::resolved_rules(&mut *conn).await?;
        for (identity, entitlement) in new.clone() {
            if !identities.contains_key(&identity) || !entitlements.contains_key(&entitlement) {
                return Err(crate::db::decode_err(
                    "access_grant",
                    format!("a new grant refers to identity {identity} or entitlement {entitlement}, which are missing"),
                ));
            }
        }
        let peers = peers(&identities, &entitlements, stored.iter().map(|g| (g.identity, g.entitlement)).chain(new.clone()));
        let toxic = crate::scoring::server::settings::conflicts(
            &rules,
            stored.iter().map(|g| (g.id, g.identity, g.entitlement)).chain(new.enumerate().map(|(k, (i, e))| (-1 - k as i64, i, e))),
        );
        tracing::info!(read_ms = clock.elapsed().as_millis(), identities_ms, grants_ms, stored = stored.len(), "estate read for scoring");
        Ok(Scoring {
            backend,
            settings,
            now,
            identities,
            entitlements,
            stored,
            peers,
            toxic,
            scored: 0,
            changed: 0,
            rebuild: None,
            elapsed: clock.elapsed(),
        })
    }

    /// Scores one grant, raising its identity's highest score; `None` for a grant whose
    /// identity or entitlement is not in the estate.
    fn score(
        &mut self,
        key: i64,
        identity_id: i64,
        entitlement_id: i64,
        granted_at: Option<i64>,
        last_used_at: Option<i64>,
    ) -> Option<Score> {
        let (identity, entitlement) = (self.identities.get_mut(&identity_id)?, self.entitlements.get(&entitlement_id)?);
        let peers = &self.peers;
        let (peers_holding, peer_count) = if identity.kind.is_machine() {
            (
                peers.machines_holding.get(&(entitlement_id, identity.kind)).copied().unwrap_or(0),
                peers.machines.get(&(identity.kind, entitlement.3)).copied().unwrap_or(0),
            )
        } else {
            (
                peers.people_holding.get(&(entitlement_id, identity.department)).copied().unwrap_or(0),
                peers.people.get(&identity.department).copied().unwrap_or(0),
            )
        };
        let input = Input {
            kind: identity.kind,
            status: identity.status,
            has_owner: identity.has_owner,
            owner_inactive: identity.owner_inactive,
            identity_last_active_at: identity.last_active_at,
            credential_rotated_at: identity.credential_rotated_at,
            expires_at: identity.expires_at,
            privilege: entitlement.1,
            privilege_inferred: entitlement.2 != 0,
            criticality: entitlement.4,
            granted_at,
            last_used_at,
            peers_holding,
            peers: peer_count,
            toxic: self.toxic.get(&key).cloned(),
        };
        let result = score(&input, &self.settings, self.now);
        identity.risk = identity.risk.max(i64::from(result.value));
        self.scored += 1;
        Some(result)
    }

    /// Scores the grant at `position` among the new ones given to [`Scoring::read`].
    pub fn score_new(
        &mut self,
        position: usize,
        identity: i64,
        entitlement: i64,
        granted_at: Option<i64>,
        last_used_at: Option<i64>,
    ) -> Scored {
        let started = std::time::Instant::now();
        // `read` checked that every new grant's identity and entitlement are in the estate.
        let scored = self
            .score(-1 - position as i64, identity, entitlement, granted_at, last_used_at)
            .map(|result| {
                let words = result.words();
                Scored { value: i64::from(result.value), hash: hash_words(&words), words, rules: rules_text(&result) }
            })
            .unwrap_or_else(|| Scored { value: 0, words: String::new(), hash: hash_words(""), rules: String::new() });
        self.elapsed += started.elapsed();
        scored
    }

    /// Drops the risk index before `rows` more rows change, when that many are cheaper to
    /// index again at the end than one by one. SQLite only: on PostgreSQL dropping an index
    /// would lock readers out of the grants until the transaction ends.
    pub async fn expect_writes(&mut self, conn: &mut AnyConnection, rows: usize) -> Result<()> {
        if self.backend == Backend::Sqlite && self.rebuild.is_none() && self.changed + rows > REBUILD_INDEX_ABOVE {
            self.rebuild = Some(SetAside::index(conn, "grant_score_risk").await?);
        }
        self.changed += rows;
        Ok(())
    }

    /// Scores every stored active grant and writes those whose score or words changed, a page
    /// at a time, in id order.
    pub async fn write_stored(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let started = std::time::Instant::now();
        let stored = std::mem::take(&mut self.stored);
        let mut pages = stored.chunks(PAGE as usize);
        let mut changed = Changes::default();
        loop {
            let page = pages.next();
            if page.is_none() && changed.is_empty() {
                break;
            }
            self.expect_writes(conn, changed.scores.len()).await?;
            // The database writes one page's changes while the next page is scored.
            let backend = self.backend;
            let (written, next) = futures_util::join!(update_grant_risk(conn, backend, std::mem::take(&mut changed)), async {
                self.changes(page.unwrap_or_default())
            });
            written?;
            changed = next?;
        }
        self.elapsed += started.elapsed();
        Ok(())
    }

    /// Scores `grants`, stored ones, and returns those whose score or words change.
    fn changes(&mut self, grants: &[Grant]) -> Result<Changes> {
        let mut changed = Changes::default();
        for grant in grants {
            let Some(result) = self.score(grant.id, grant.identity, grant.entitlement, grant.granted_at, grant.last_used_at) else {
                return Err(crate::db::decode_err(
                    "access_grant",
                    format!("grant {} refers to a missing identity or entitlement", grant.id),
                ));
            };
            let value = i64::from(result.value);
            let words = result.words();
            let hash = hash_words(&words);
            if grant.stored_hash != hash {
                changed.words.push(vec![Value::Int(grant.id), Value::Text(words), Value::Int(hash), Value::Text(rules_text(&result))]);
            }
            if grant.stored_score != value {
                changed.scores.push(vec![Value::Int(grant.id), Value::Int(value)]);
            }
        }
        Ok(changed)
    }

    /// Builds the risk index again if it was dropped and stores each identity's highest score
    /// (an ended grant's score was cleared as it ended). Returns how many grants were scored,
    /// and the time spent scoring all told.
    pub async fn finish(mut self, conn: &mut AnyConnection) -> Result<(u64, std::time::Duration)> {
        let started = std::time::Instant::now();
        if let Some(risk_index) = self.rebuild.take() {
            risk_index.restore(conn).await?;
        }
        let moved: Vec<Vec<Value>> = self
            .identities
            .iter()
            .filter(|(_, i)| i.risk != i.stored_risk)
            .map(|(id, i)| vec![Value::Int(*id), Value::Int(i.risk)])
            .collect();
        let identities_changed = moved.len();
        crate::db::update_many(&mut *conn, self.backend, "identity", "identity_id", &[("risk_score", true)], moved).await?;
        self.elapsed += started.elapsed();
        tracing::info!(
            scored = self.scored,
            changed = self.changed,
            identities_changed,
            ms = self.elapsed.as_millis(),
            "risk scores recomputed"
        );
        Ok((self.scored, self.elapsed))
    }
}

/// A score's rules as stored, `,rule,rule,`, so a rule is found with `like '%,rule,%'`.
fn rules_text(result: &Score) -> String {
    result.factors.iter().map(|f| format!(",{}", f.rule.as_str())).collect::<String>() + ","
}

/// Stored grants whose score or words changed. The rules are read off the same factors as the
/// words, so when the words stay, so do the rules. Scores live in `grant_score`, a few bytes a
/// row: a change of weights rewrites a number per grant, not the grant with its explanation.
#[derive(Default)]
struct Changes {
    /// id, words, hash of the words, rules.
    words: Vec<Vec<Value>>,
    /// id, score.
    scores: Vec<Vec<Value>>,
}

impl Changes {
    fn len(&self) -> usize {
        self.words.len() + self.scores.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `changes`: words with their hash and rules, and scores.
async fn update_grant_risk(conn: &mut AnyConnection, backend: Backend, changes: Changes) -> Result<()> {
    let words = [("risk_words", false), ("risk_hash", true), ("risk_rules", false)];
    crate::db::update_many(&mut *conn, backend, "access_grant", "access_grant_id", &words, changes.words).await?;
    crate::db::update_many(conn, backend, "grant_score", "access_grant_id", &[("risk_score", true)], changes.scores).await
}

/// Stores the scores of grants just inserted: `scores[k]` belongs to grant `ids[k]`. On SQLite,
/// where the ids of one import run on without a gap, a page of scores goes as one JSON array of
/// numbers, each stored under the first id plus its position: SQLite walks such an array about
/// four times faster than it took the same rows as bound values.
pub async fn insert_scores(conn: &mut AnyConnection, backend: Backend, ids: &[i64], scores: &[i64]) -> Result<()> {
    // By position throughout: iterators over slices held across an await make this future not
    // `Send` for every lifetime, and web handlers need it to be.
    let contiguous = (1..ids.len()).all(|k| ids[k] == ids[k - 1] + 1);
    if backend == Backend::Sqlite && contiguous {
        let mut start = 0;
        while start < ids.len() {
            let end = (start + SCORES_PER_STATEMENT).min(ids.len());
            let numbers = serde_json::to_string(&scores[start..end]).map_err(|e| crate::db::decode_err("risk_score", e.to_string()))?;
            sqlx::query("insert into grant_score (access_grant_id, risk_score) select $1 + key, value from json_each($2)")
                .bind(ids[start])
                .bind(numbers)
                .execute(&mut *conn)
                .await?;
            start = end;
        }
        return Ok(());
    }
    let rows = (0..ids.len()).map(|k| vec![Value::Int(ids[k]), Value::Int(scores[k])]);
    crate::db::insert_many(conn, backend, "insert into grant_score (access_grant_id, risk_score)", &[], rows, |_| {}).await
}

/// Scores per statement when they go as one JSON array.
const SCORES_PER_STATEMENT: usize = 100_000;

/// Distribution, factor counts and the riskiest grants, for the risk page.
pub async fn overview(db: &Db) -> Result<crate::scoring::RiskOverview> {
    use crate::scoring::{RiskOverview, Rule};
    let mut histogram = vec![(0i64, 0i64); 10];
    for row in sqlx::query(
        "select case when s.risk_score >= 100 then 9 else s.risk_score / 10 end as band, \
         case when i.kind = 'human' then 1 else 0 end as human, count(*) as n \
         from access_grant g join grant_score s on s.access_grant_id = g.access_grant_id \
         join identity i on i.identity_id = g.identity_id where g.ended_at is null \
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
    sql.push(
        ", cast(sum(s.risk_score) as bigint) as total, count(*) as n from access_grant g \
         join grant_score s on s.access_grant_id = g.access_grant_id join identity i on i.identity_id = g.identity_id \
         where g.ended_at is null group by 1",
    );
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
