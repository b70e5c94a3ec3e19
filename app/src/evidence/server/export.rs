//! Exports for auditors: one row per review item as CSV and JSON (with the decision log's
//! entries and their hashes), a printable report, and a manifest holding the SHA-256 of every
//! file and the log's head. Rows stream from the database to disk; nothing holds them all.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::campaigns::server::chain::Entry;
use crate::db::{Backend, Db, DbError, Result, Sql};
use crate::evidence::{EXPORT_FILES, ExportFile, ExportRecord, ExportRequest, MANIFEST};

const DAY: i64 = 86_400;

/// The export manifest's and JSON file's format name.
pub const FORMAT: &str = "attest-evidence-v1";

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return at
/// the start) gets a leading apostrophe, so exported data stays data.
pub fn spreadsheet_safe(cell: String) -> String {
    if needs_quote(&cell) { format!("'{cell}") } else { cell }
}

fn needs_quote(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Writes one CSV cell, neutralised like [`spreadsheet_safe`], without copying it.
fn write_cell<W: Write>(csv: &mut csv::Writer<W>, cell: &str) -> Result<()> {
    if needs_quote(cell) { csv.write_field(format!("'{cell}")).map_err(csv_err) } else { csv.write_field(cell).map_err(csv_err) }
}

/// `2026-11-27T08:00:00Z`: RFC 3339 in UTC. Written by hand because an export formats
/// millions of them; years outside 0000–9999 come out as the plain number of seconds.
pub fn iso(ts: i64) -> String {
    let (days, secs) = (ts.div_euclid(DAY), ts.rem_euclid(DAY));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return ts.to_string();
    }
    let mut out = [0u8; 20];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, secs / 3600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
    out[19] = b'Z';
    out.iter().map(|&b| b as char).collect()
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// What an export covers, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub campaign_id: Option<i64>,
    pub campaign: Option<String>,
    /// Decisions made from this instant…
    pub from_at: Option<i64>,
    /// …up to and including this one.
    pub to_at: Option<i64>,
}

impl Scope {
    /// Words for the report and the manifest.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(id), Some(name)) = (self.campaign_id, &self.campaign) {
            parts.push(format!("campaign {id} “{name}”"));
        }
        match (self.from_at, self.to_at) {
            (Some(f), Some(t)) => parts.push(format!("decided {} to {}", crate::time_fmt::date(f), crate::time_fmt::date(t))),
            (Some(f), None) => parts.push(format!("decided from {}", crate::time_fmt::date(f))),
            (None, Some(t)) => parts.push(format!("decided up to {}", crate::time_fmt::date(t))),
            (None, None) => {}
        }
        if parts.is_empty() { "every campaign".to_string() } else { parts.join(", ") }
    }

    /// `and …` conditions over review items `r`, read in item order: `+` keeps the campaign's
    /// index out of the plan, which would sort every page of a big campaign again.
    fn push_items(&self, sql: &mut Sql) {
        if let Some(id) = self.campaign_id {
            sql.push(" and +r.campaign_id = ").bind(id);
        }
        if let Some(from) = self.from_at {
            sql.push(" and r.decided_at >= ").bind(from);
        }
        if let Some(to) = self.to_at {
            sql.push(" and r.decided_at <= ").bind(to);
        }
    }

    /// `and …` conditions over log entries `l`.
    fn push_log(&self, sql: &mut Sql) {
        if let Some(id) = self.campaign_id {
            sql.push(" and l.campaign_id = ").bind(id);
        }
        if let Some(from) = self.from_at {
            sql.push(" and l.at >= ").bind(from);
        }
        if let Some(to) = self.to_at {
            sql.push(" and l.at <= ").bind(to);
        }
    }
}

/// Checks a request: the campaign exists, the dates parse and are in order.
pub async fn scope_of(db: &Db, request: &ExportRequest) -> Result<std::result::Result<Scope, String>> {
    let day = |text: &Option<String>, field: &str| -> std::result::Result<Option<i64>, String> {
        match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => crate::imports::server::dates::parse_timestamp(t).map(Some).map_err(|e| format!("{field}: {e}")),
        }
    };
    let from_at = match day(&request.from, "from") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let to_at = match day(&request.to, "to") {
        Ok(v) => v.map(|t| t + DAY - 1),
        Err(e) => return Ok(Err(e)),
    };
    if let (Some(f), Some(t)) = (from_at, to_at)
        && f > t
    {
        return Ok(Err("to: the end of the range comes before its start".into()));
    }
    let campaign = match request.campaign_id {
        None => None,
        Some(id) => match sqlx::query_scalar::<_, String>("select name from campaign where campaign_id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?
        {
            Some(name) => Some(name),
            None => return Ok(Err(format!("campaign: there is no campaign {id}"))),
        },
    };
    Ok(Ok(Scope { campaign_id: request.campaign_id, campaign, from_at, to_at }))
}

/// A file being written, with its SHA-256 and size kept as it goes.
struct Hashed {
    out: BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl Hashed {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Hashed { out: BufWriter::with_capacity(256 * 1024, std::fs::File::create(path)?), hasher: Sha256::new(), bytes: 0 })
    }

    fn finish(mut self, name: &str) -> std::io::Result<ExportFile> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(ExportFile { name: name.to_string(), sha256: hex::encode(self.hasher.finalize()), bytes: self.bytes })
    }
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The CSV's columns, modelled on Entra's access review history export, plus attest's own.
pub const CSV_HEADER: [&str; 28] = [
    "Campaign ID",
    "Campaign",
    "Campaign launched at",
    "Campaign deadline",
    "Stage",
    "Item ID",
    "Identity",
    "Identity kind",
    "Identity email",
    "Application",
    "Entitlement",
    "Privilege",
    "Risk score at launch",
    "Risk factors at launch",
    "Reviewer",
    "Reviewer email",
    "Assigned because",
    "Decision",
    "Outcome",
    "Justification",
    "Exception until",
    "Decided at",
    "Approver",
    "Remediation status",
    "Remediation done by",
    "Remediation note",
    "Verified at",
    "Failed at",
];

/// What the export reads of each item, in [`ItemIn`]'s order.
const ITEM_EXPRESSIONS: [&str; 29] = [
    "r.campaign_id",
    "c.name",
    "c.launched_at",
    "c.deadline_at",
    "r.stage",
    "r.item_id",
    "r.identity_name",
    "r.identity_kind",
    "r.identity_email",
    "r.application",
    "r.entitlement",
    "r.privilege",
    "r.risk_score",
    "r.risk_words",
    "coalesce(rv.display_name, rg.name || ' (group)')",
    "rv.email",
    "r.assigned_by",
    "r.decision",
    "r.outcome",
    "r.justification",
    "r.exception_until",
    "r.decided_at",
    "r.decided_by",
    "t.status",
    "t.done_by",
    "t.done_note",
    "t.verified_at",
    "t.failed_at",
    "c.high_risk",
];

/// Items per page of the export's query. A page is one row holding its items as a JSON array,
/// so a million items cross from the database driver in a thousand rows, not a million rows
/// of 29 values each.
const PAGE: i64 = 1000;

/// The page of items after item `after`, in item order: (JSON array of items, last item id).
fn page_sql(backend: Backend, scope: &Scope, after: i64) -> Sql {
    let (array, aggregate) = crate::db::json_page(backend);
    let mut sql = Sql::new(&format!(
        "select {aggregate} as items, max(id) as last from (select r.item_id as id, {array}({}) as j \
         from review_item r join campaign c on c.campaign_id = r.campaign_id \
         left join identity rv on rv.identity_id = r.reviewer_id left join reviewer_group rg on rg.reviewer_group_id = r.reviewer_group_id \
         left join remediation_task t on t.item_id = r.item_id where r.item_id > ",
        ITEM_EXPRESSIONS.join(", ")
    ));
    sql.bind(after);
    scope.push_items(&mut sql);
    sql.push(" order by r.item_id limit ").bind(PAGE).push(") page");
    sql
}

/// One item as the query gives it (a JSON array, in [`ITEM_EXPRESSIONS`]' order).
#[derive(Debug, serde::Deserialize)]
struct ItemIn {
    campaign_id: i64,
    campaign: String,
    launched_at: Option<i64>,
    deadline_at: Option<i64>,
    stage: i64,
    item_id: i64,
    identity: String,
    identity_kind: String,
    identity_email: Option<String>,
    application: String,
    entitlement: String,
    privilege: String,
    risk_score: i64,
    risk_words: String,
    reviewer: Option<String>,
    reviewer_email: Option<String>,
    assigned_by: String,
    decision: Option<String>,
    outcome: Option<String>,
    justification: Option<String>,
    exception_until: Option<i64>,
    decided_at: Option<i64>,
    approver: Option<String>,
    remediation: Option<String>,
    done_by: Option<String>,
    done_note: Option<String>,
    verified_at: Option<i64>,
    failed_at: Option<i64>,
    high_risk: i64,
}

/// One review item as exported: the JSON object, and the CSV row in the same order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ItemOut {
    pub campaign_id: i64,
    pub campaign: String,
    pub campaign_launched_at: Option<String>,
    pub campaign_deadline: Option<String>,
    pub stage: i64,
    pub item_id: i64,
    pub identity: String,
    pub identity_kind: String,
    pub identity_email: Option<String>,
    pub application: String,
    pub entitlement: String,
    pub privilege: String,
    pub risk_score_at_launch: i64,
    pub risk_factors_at_launch: String,
    pub reviewer: Option<String>,
    pub reviewer_email: Option<String>,
    pub assigned_because: String,
    pub decision: Option<String>,
    pub outcome: Option<String>,
    pub justification: Option<String>,
    pub exception_until: Option<String>,
    pub decided_at: Option<String>,
    pub approver: Option<String>,
    pub remediation_status: Option<String>,
    pub remediation_done_by: Option<String>,
    pub remediation_note: Option<String>,
    pub verified_at: Option<String>,
    pub failed_at: Option<String>,
    /// The campaign's high-risk threshold, for the report.
    #[serde(skip)]
    pub high_risk: i64,
}

impl ItemOut {
    fn from_input(i: ItemIn) -> Self {
        ItemOut {
            campaign_id: i.campaign_id,
            campaign: i.campaign,
            campaign_launched_at: i.launched_at.map(iso),
            campaign_deadline: i.deadline_at.map(iso),
            stage: i.stage,
            item_id: i.item_id,
            identity: i.identity,
            identity_kind: i.identity_kind,
            identity_email: i.identity_email,
            application: i.application,
            entitlement: i.entitlement,
            privilege: i.privilege,
            risk_score_at_launch: i.risk_score,
            risk_factors_at_launch: i.risk_words,
            reviewer: i.reviewer,
            reviewer_email: i.reviewer_email,
            assigned_because: i.assigned_by,
            decision: i.decision,
            outcome: i.outcome,
            justification: i.justification,
            exception_until: i.exception_until.map(iso),
            decided_at: i.decided_at.map(iso),
            approver: i.approver,
            remediation_status: i.remediation,
            remediation_done_by: i.done_by,
            remediation_note: i.done_note,
            verified_at: i.verified_at.map(iso),
            failed_at: i.failed_at.map(iso),
            high_risk: i.high_risk,
        }
    }

    /// Writes the CSV row, safe to open in a spreadsheet.
    fn write_csv<W: Write>(&self, csv: &mut csv::Writer<W>) -> Result<()> {
        fn o(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        for cell in [
            self.campaign_id.to_string().as_str(),
            &self.campaign,
            o(&self.campaign_launched_at),
            o(&self.campaign_deadline),
            self.stage.to_string().as_str(),
            self.item_id.to_string().as_str(),
            &self.identity,
            &self.identity_kind,
            o(&self.identity_email),
            &self.application,
            &self.entitlement,
            &self.privilege,
            self.risk_score_at_launch.to_string().as_str(),
            &self.risk_factors_at_launch,
            o(&self.reviewer),
            o(&self.reviewer_email),
            &self.assigned_because,
            o(&self.decision),
            o(&self.outcome),
            o(&self.justification),
            o(&self.exception_until),
            o(&self.decided_at),
            o(&self.approver),
            o(&self.remediation_status),
            o(&self.remediation_done_by),
            o(&self.remediation_note),
            o(&self.verified_at),
            o(&self.failed_at),
        ] {
            write_cell(csv, cell)?;
        }
        csv.write_record(None::<&[u8]>).map_err(csv_err)
    }
}

fn entry_json(entry: &Entry, hash: &str) -> serde_json::Value {
    serde_json::json!({
        "seq": entry.seq,
        "campaign_id": entry.campaign_id,
        "item_id": entry.item_id,
        "stage": entry.stage,
        "action": entry.action,
        "justification": entry.justification,
        "exception_until": entry.exception_until,
        "reassigned_to": entry.reassigned_to,
        "bulk": entry.bulk,
        "approver": entry.approver,
        "approver_subject": entry.approver_subject,
        "at": entry.at,
        "prev_hash": entry.prev_hash,
        "hash": hash,
    })
}

fn entry_from_json(value: &serde_json::Value) -> Option<(Entry, String)> {
    let s = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let i = |k: &str| value.get(k).and_then(|v| v.as_i64());
    Some((
        Entry {
            seq: i("seq")?,
            campaign_id: i("campaign_id")?,
            item_id: i("item_id"),
            stage: i("stage")?,
            action: s("action")?,
            justification: s("justification"),
            exception_until: i("exception_until"),
            reassigned_to: i("reassigned_to"),
            bulk: value.get("bulk")?.as_bool()?,
            approver: s("approver")?,
            approver_subject: s("approver_subject")?,
            at: i("at")?,
            prev_hash: s("prev_hash")?,
        },
        s("hash")?,
    ))
}

fn json_err(e: serde_json::Error) -> DbError {
    DbError::Io(std::io::Error::other(e))
}

fn csv_err(e: csv::Error) -> DbError {
    DbError::Io(std::io::Error::other(e))
}

/// Who takes an export.
#[derive(Debug, Clone)]
pub struct Taker<'a> {
    pub name: &'a str,
    pub subject: &'a str,
}

/// Writes an export into `dir` (created if missing) and records it. The files are written
/// first; the record and the manifest last, so a failed export leaves no record.
pub async fn write(db: &Db, scope: &Scope, dir: &Path, by: &Taker<'_>, at: i64) -> Result<ExportRecord> {
    std::fs::create_dir_all(dir)?;
    let head = sqlx::query("select seq, hash from decision_log_head where id = 1").fetch_one(&db.pool).await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;

    let mut csv_file = csv::Writer::from_writer(Hashed::create(&dir.join(EXPORT_FILES[0]))?);
    let mut json_file = Hashed::create(&dir.join(EXPORT_FILES[1]))?;
    let header = serde_json::json!({
        "format": FORMAT,
        "generated_at": iso(at),
        "generated_by": by.name,
        "scope": scope.describe(),
        "decision_log_head": { "seq": head_seq, "hash": head_hash },
    });
    // One element per line, so the file streams both ways.
    let opening = header.to_string();
    json_file.write_all(opening[..opening.len() - 1].as_bytes())?;
    json_file.write_all(b",\n\"items\": [")?;
    csv_file.write_record(CSV_HEADER).map_err(csv_err)?;
    let mut item_rows = 0i64;
    let mut tally = super::report::Tally::default();
    // Each item is serialised into one buffer and written (and hashed) in one call.
    let mut buffer = Vec::with_capacity(4096);
    let mut after = 0i64;
    loop {
        let row = page_sql(db.backend, scope, after).query()?.fetch_one(&db.pool).await?;
        let Some(last) = row.try_get::<Option<i64>, _>("last")? else { break };
        let items: Option<String> = row.try_get("items")?;
        let page: Vec<ItemIn> = serde_json::from_str(items.as_deref().unwrap_or("[]")).map_err(json_err)?;
        for input in page {
            let item = ItemOut::from_input(input);
            item.write_csv(&mut csv_file)?;
            buffer.clear();
            buffer.extend_from_slice(if item_rows == 0 { b"\n" } else { b",\n" });
            serde_json::to_writer(&mut buffer, &item).map_err(json_err)?;
            json_file.write_all(&buffer)?;
            tally.add(item);
            item_rows += 1;
        }
        after = last;
    }
    json_file.write_all(b"\n],\n\"log\": [")?;
    let mut log = Sql::new(&format!("select {} from decision_log l where l.seq <= ", crate::campaigns::server::chain::ENTRY_COLUMNS));
    log.bind(head_seq);
    scope.push_log(&mut log);
    log.push(" order by l.seq");
    let mut entries = log.query()?.fetch(&db.pool);
    let mut first = true;
    while let Some(row) = entries.try_next().await? {
        let (entry, hash) = crate::campaigns::server::chain::entry_from(&row)?;
        json_file.write_all(if first { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut json_file, &entry_json(&entry, &hash)).map_err(json_err)?;
        first = false;
    }
    drop(entries);
    json_file.write_all(b"\n]}\n")?;
    let csv_done = csv_file.into_inner().map_err(|e| DbError::Io(std::io::Error::other(e.to_string())))?.finish(EXPORT_FILES[0])?;
    let json_done = json_file.finish(EXPORT_FILES[1])?;

    let report = super::report::render(db, scope, tally, by.name, at, head_seq, &head_hash).await?;
    let mut report_file = Hashed::create(&dir.join(EXPORT_FILES[2]))?;
    report_file.write_all(report.as_bytes())?;
    let report_done = report_file.finish(EXPORT_FILES[2])?;
    let files = vec![csv_done, json_done, report_done];

    let files_json = serde_json::to_string(&files).map_err(json_err)?;
    let row = sqlx::query(
        "insert into evidence_export (campaign_id, from_at, to_at, created_by, created_by_subject, created_at, head_seq, head_hash, item_rows, files, manifest_sha256) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '') returning export_id",
    )
    .bind(scope.campaign_id)
    .bind(scope.from_at)
    .bind(scope.to_at)
    .bind(by.name)
    .bind(by.subject)
    .bind(at)
    .bind(head_seq)
    .bind(&head_hash)
    .bind(item_rows)
    .bind(&files_json)
    .fetch_one(&db.pool)
    .await?;
    let export_id: i64 = row.try_get("export_id")?;
    let manifest = serde_json::json!({
        "format": FORMAT,
        "export_id": export_id,
        "generated_at": iso(at),
        "generated_by": by.name,
        "generated_by_subject": by.subject,
        "scope": {
            "description": scope.describe(),
            "campaign_id": scope.campaign_id,
            "from": scope.from_at.map(iso),
            "to": scope.to_at.map(iso),
        },
        "item_rows": item_rows,
        "decision_log_head": { "seq": head_seq, "hash": head_hash },
        "files": files,
    });
    let manifest_text = serde_json::to_string_pretty(&manifest).map_err(json_err)? + "\n";
    std::fs::write(dir.join(MANIFEST), &manifest_text)?;
    let manifest_sha256 = hex::encode(Sha256::digest(manifest_text.as_bytes()));
    sqlx::query("update evidence_export set manifest_sha256 = $1 where export_id = $2")
        .bind(&manifest_sha256)
        .bind(export_id)
        .execute(&db.pool)
        .await?;
    tracing::info!(export_id, item_rows, by = by.name, scope = %scope.describe(), "evidence exported");
    Ok(ExportRecord {
        export_id,
        campaign_id: scope.campaign_id,
        campaign: scope.campaign.clone(),
        from_at: scope.from_at,
        to_at: scope.to_at,
        created_by: by.name.to_string(),
        created_at: at,
        head_seq,
        head_hash,
        item_rows,
        files,
        manifest_sha256,
    })
}

/// Where the server keeps export `id`.
pub fn export_dir(root: &Path, export_id: i64) -> PathBuf {
    root.join(export_id.to_string())
}

/// Exports taken so far, newest first.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<ExportRecord>> {
    let rows = sqlx::query(
        "select x.export_id, x.campaign_id, c.name as campaign, x.from_at, x.to_at, x.created_by, x.created_at, x.head_seq, x.head_hash, \
         x.item_rows, x.files, x.manifest_sha256 from evidence_export x left join campaign c on c.campaign_id = x.campaign_id \
         order by x.export_id desc limit $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(record_from).collect()
}

/// One recorded export.
pub async fn get(db: &Db, export_id: i64) -> Result<Option<ExportRecord>> {
    let row = sqlx::query(
        "select x.export_id, x.campaign_id, c.name as campaign, x.from_at, x.to_at, x.created_by, x.created_at, x.head_seq, x.head_hash, \
         x.item_rows, x.files, x.manifest_sha256 from evidence_export x left join campaign c on c.campaign_id = x.campaign_id \
         where x.export_id = $1",
    )
    .bind(export_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(record_from).transpose()
}

fn record_from(row: &sqlx::any::AnyRow) -> Result<ExportRecord> {
    let files: String = row.try_get("files")?;
    Ok(ExportRecord {
        export_id: row.try_get("export_id")?,
        campaign_id: row.try_get("campaign_id")?,
        campaign: row.try_get("campaign")?,
        from_at: row.try_get("from_at")?,
        to_at: row.try_get("to_at")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        head_seq: row.try_get("head_seq")?,
        head_hash: row.try_get("head_hash")?,
        item_rows: row.try_get("item_rows")?,
        files: serde_json::from_str(&files).map_err(|e| crate::db::decode_err("files", e.to_string()))?,
        manifest_sha256: row.try_get("manifest_sha256")?,
    })
}

/// What checking an export found: every problem, named by file (and entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub export_id: Option<i64>,
    pub files_checked: usize,
    pub entries_checked: u64,
    /// Whether the export was also compared with this server's log and records.
    pub live: bool,
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(serde::Deserialize)]
struct Manifest {
    format: String,
    export_id: i64,
    item_rows: i64,
    decision_log_head: Head,
    files: Vec<ExportFile>,
}

#[derive(serde::Deserialize)]
struct Head {
    seq: i64,
    hash: String,
}

fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    loop {
        let buf = file.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        let n = buf.len();
        bytes += n as u64;
        file.consume(n);
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Checks an export folder against itself: every file the manifest names has its hash and
/// size, the JSON's log entries hash to what they say, and the item count matches. With `db`,
/// also against this server: the export is on record with the same files, and every log
/// entry and the head are the live log's.
pub async fn verify_dir(dir: &Path, db: Option<&Db>) -> Result<Verdict> {
    let mut verdict = Verdict::default();
    let manifest_text = match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(t) => t,
        Err(e) => {
            verdict.problems.push(format!("{MANIFEST}: cannot be read: {e}"));
            return Ok(verdict);
        }
    };
    let manifest: Manifest = match serde_json::from_str(&manifest_text) {
        Ok(m) => m,
        Err(e) => {
            verdict.problems.push(format!("{MANIFEST}: not a manifest: {e}"));
            return Ok(verdict);
        }
    };
    if manifest.format != FORMAT {
        verdict.problems.push(format!("{MANIFEST}: format `{}`, expected `{FORMAT}`", manifest.format));
    }
    verdict.export_id = Some(manifest.export_id);
    for expected in EXPORT_FILES {
        if !manifest.files.iter().any(|f| f.name == expected) {
            verdict.problems.push(format!("{MANIFEST}: does not list {expected}"));
        }
    }
    for file in &manifest.files {
        if file.name.contains(['/', '\\']) || file.name.starts_with('.') {
            verdict.problems.push(format!("{MANIFEST}: file name `{}` is not a plain name", file.name));
            continue;
        }
        match sha256_of(&dir.join(&file.name)) {
            Ok((sha, bytes)) if sha == file.sha256 && bytes == file.bytes => verdict.files_checked += 1,
            Ok((sha, bytes)) => verdict.problems.push(format!(
                "{}: changed: SHA-256 {sha} ({bytes} bytes), the manifest says {} ({} bytes)",
                file.name, file.sha256, file.bytes
            )),
            Err(e) => verdict.problems.push(format!("{}: cannot be read: {e}", file.name)),
        }
    }
    // The JSON: items counted, log entries recomputed.
    let mut entries: Vec<(i64, String)> = Vec::new();
    if let Ok(file) = std::fs::File::open(dir.join(EXPORT_FILES[1])) {
        let mut section = "";
        let mut items = 0i64;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            let line_no = n + 1;
            let body = line.strip_suffix(',').unwrap_or(&line);
            match body {
                "\"items\": [" => section = "items",
                "\"log\": [" => section = "log",
                _ if !body.starts_with('{') => {}
                _ if section == "items" => items += 1,
                _ if section == "log" => match serde_json::from_str::<serde_json::Value>(body).ok().as_ref().and_then(entry_from_json) {
                    Some((entry, hash)) => {
                        if entry.hash() != hash {
                            verdict.problems.push(format!(
                                "{}: line {line_no}: log entry {} does not hash to what it says (edited)",
                                EXPORT_FILES[1], entry.seq
                            ));
                        }
                        verdict.entries_checked += 1;
                        entries.push((entry.seq, hash));
                    }
                    None => verdict.problems.push(format!("{}: line {line_no}: not a log entry", EXPORT_FILES[1])),
                },
                _ => {}
            }
        }
        if items != manifest.item_rows {
            verdict.problems.push(format!("{}: {items} items, the manifest says {}", EXPORT_FILES[1], manifest.item_rows));
        }
    }
    let Some(db) = db else { return Ok(verdict) };
    verdict.live = true;
    match get(db, manifest.export_id).await? {
        None => verdict.problems.push(format!("this server has no record of export {}", manifest.export_id)),
        Some(record) => {
            if record.files != manifest.files {
                verdict
                    .problems
                    .push(format!("{MANIFEST}: its files differ from what this server recorded for export {}", manifest.export_id));
            }
            let (sha, _) = sha256_of(&dir.join(MANIFEST))?;
            if sha != record.manifest_sha256 {
                verdict.problems.push(format!("{MANIFEST}: changed since export {} was recorded", manifest.export_id));
            }
        }
    }
    let live_head: Option<String> = sqlx::query_scalar("select hash from decision_log where seq = $1")
        .bind(manifest.decision_log_head.seq)
        .fetch_optional(&db.pool)
        .await?;
    if manifest.decision_log_head.seq > 0 && live_head.as_deref() != Some(manifest.decision_log_head.hash.as_str()) {
        verdict.problems.push(format!(
            "the decision log's entry {} is not the head the export recorded ({})",
            manifest.decision_log_head.seq, manifest.decision_log_head.hash
        ));
    }
    for chunk in entries.chunks(500) {
        let seqs: Vec<i64> = chunk.iter().map(|(seq, _)| *seq).collect();
        let mut sql = Sql::new("select seq, hash from decision_log where seq in ");
        sql.push_in(&seqs);
        let live: std::collections::HashMap<i64, String> =
            sql.query()?.fetch_all(&db.pool).await?.iter().map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?))).collect::<Result<_>>()?;
        for (seq, hash) in chunk {
            if live.get(seq) != Some(hash) {
                verdict.problems.push(format!("{}: log entry {seq} differs from this server's log", EXPORT_FILES[1]));
            }
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_rfc3339_in_utc_exactly_as_the_time_crate_writes_them() {
        let by_time = |ts: i64| {
            time::OffsetDateTime::from_unix_timestamp(ts)
                .expect("in range")
                .format(&time::format_description::well_known::Rfc3339)
                .expect("formats")
        };
        let mut ts = -62_167_219_200; // 0000-01-01T00:00:00Z
        while ts < 253_402_300_799 {
            assert_eq!(iso(ts), by_time(ts), "{ts}");
            ts += 86_399 * 37 + 12_345;
        }
        for ts in [0, 951_782_400, 1_709_164_800, 1_764_201_600, 253_402_300_799] {
            assert_eq!(iso(ts), by_time(ts), "{ts}");
        }
        assert_eq!(iso(1_764_230_400), "2025-11-27T08:00:00Z");
        assert_eq!(iso(253_402_300_800), "253402300800", "year 10000 is left as seconds");
    }

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        assert_eq!(spreadsheet_safe("=cmd|' /C calc'!A0".into()), "'=cmd|' /C calc'!A0");
        assert_eq!(spreadsheet_safe("@SUM(1+1)".into()), "'@SUM(1+1)");
        assert_eq!(spreadsheet_safe("-2".into()), "'-2");
        assert_eq!(spreadsheet_safe("Ada".into()), "Ada");
    }
}
