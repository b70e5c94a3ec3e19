//! The CSV bundle: a folder with `identities.csv`, `grants.csv` and, optionally,
//! `applications.csv`. Columns are found by header name, in any order; unknown columns are
//! reported as warnings. Every row is checked before anything is written.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use rustc_hash::FxHashMap;

use super::dates::parse_timestamp;
use super::model::{ApplicationRecord, EntitlementRecord, GrantRecord, IdentityRecord, Snapshot};
use super::{BadInput, Problem, Progress};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};

pub const IDENTITY_REQUIRED: &[&str] = &["id", "kind", "display_name"];
pub const IDENTITY_OPTIONAL: &[&str] = &[
    "email",
    "owner",
    "manager",
    "department",
    "status",
    "created_at",
    "last_active_at",
    "credential_rotated_at",
    "expires_at",
    "purpose",
];
pub const GRANT_REQUIRED: &[&str] = &["identity", "application", "entitlement"];
pub const GRANT_OPTIONAL: &[&str] = &["privilege", "granted_at", "last_used_at", "granted_by"];
pub const APPLICATION_REQUIRED: &[&str] = &["id", "name"];
pub const APPLICATION_OPTIONAL: &[&str] = &["owner", "criticality"];
pub const SOD_REQUIRED: &[&str] = &["application_a", "entitlement_a", "application_b", "entitlement_b", "reason"];

/// Longest value accepted in any field.
pub const MAX_FIELD: usize = 4096;

/// Collects problems across a whole file, so one run names all of them.
struct Problems {
    list: Vec<Problem>,
    rejected: u64,
}

impl Problems {
    fn add(&mut self, problem: Problem) {
        if self.list.len() < BadInput::SHOWN {
            self.list.push(problem);
        }
    }
    fn into_result(self) -> Result<(), BadInput> {
        if self.list.is_empty() { Ok(()) } else { Err(BadInput { problems: self.list, rejected: self.rejected }) }
    }
}

/// One open CSV file, with its columns by name.
struct Table {
    file: String,
    reader: csv::Reader<BufReader<File>>,
    /// Looked up for every field of every row: FxHash, as the names are the file's few headers.
    columns: FxHashMap<String, usize>,
    len: u64,
}

impl Table {
    fn open(dir: &Path, name: &str, required: &[&str], optional: &[&str], warnings: &mut Vec<String>) -> Result<Option<Table>, BadInput> {
        let path = dir.join(name);
        let problem = |line, message: String| BadInput::one(Problem { file: name.to_string(), line, field: None, message });
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(problem(None, format!("cannot open {}: {e}", path.display()))),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(BufReader::new(file));
        let headers = reader.byte_headers().map_err(|e| problem(Some(1), csv_message(&e)))?.clone();
        let mut columns = FxHashMap::default();
        for (i, raw) in headers.iter().enumerate() {
            let header = std::str::from_utf8(raw).map_err(|_| problem(Some(1), "the header is not UTF-8 text".into()))?;
            let header = header.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
            if header.is_empty() {
                continue;
            }
            if columns.insert(header.clone(), i).is_some() {
                return Err(BadInput::one(Problem {
                    file: name.into(),
                    line: Some(1),
                    field: Some(header),
                    message: "the column appears twice".into(),
                }));
            }
            if !required.contains(&header.as_str()) && !optional.contains(&header.as_str()) {
                warnings.push(format!("{name}: unknown column `{header}` ignored"));
            }
        }
        let missing: Vec<&str> = required.iter().copied().filter(|c| !columns.contains_key(*c)).collect();
        if !missing.is_empty() {
            return Err(BadInput::one(Problem {
                file: name.into(),
                line: Some(1),
                field: Some(missing.join(", ")),
                message: format!("required column missing (the header must name {})", required.join(", ")),
            }));
        }
        Ok(Some(Table { file: name.to_string(), reader, columns, len }))
    }

    /// Calls `row` for every record with its line number; stops at a broken record.
    fn each(&mut self, progress: &dyn Progress, problems: &mut Problems, mut row: impl FnMut(&Row<'_>, &mut Problems)) {
        progress.phase(&format!("reading {}", self.file), Some(self.len));
        let mut record = csv::ByteRecord::new();
        let mut count = 0u64;
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0);
                    row(&Row { file: &self.file, line, record: &record, columns: &self.columns }, problems);
                    count += 1;
                    if count % 8192 == 0 {
                        progress.set(record.position().map(|p| p.byte()).unwrap_or(0));
                    }
                }
                Err(e) => {
                    problems.rejected += 1;
                    let line = e.position().map(|p| p.line());
                    problems.add(Problem { file: self.file.clone(), line, field: None, message: csv_message(&e) });
                    break;
                }
            }
        }
        progress.set(self.len);
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        _ => format!("malformed CSV: {e}"),
    }
}

struct Row<'a> {
    file: &'a str,
    line: u64,
    record: &'a csv::ByteRecord,
    columns: &'a FxHashMap<String, usize>,
}

impl Row<'_> {
    fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem { file: self.file.to_string(), line: Some(self.line), field: Some(field.to_string()), message: message.into() }
    }

    /// The trimmed value of a column; `None` when the column is absent or the cell is empty.
    fn get(&self, field: &str) -> Result<Option<&str>, Problem> {
        let Some(&index) = self.columns.get(field) else { return Ok(None) };
        let raw = self.record.get(index).unwrap_or_default();
        let text = std::str::from_utf8(raw).map_err(|e| {
            self.problem(field, format!("not UTF-8 text (invalid byte at position {}); save the file as UTF-8", e.valid_up_to()))
        })?;
        let text = text.trim();
        if text.len() > MAX_FIELD {
            return Err(self.problem(field, format!("longer than {MAX_FIELD} bytes")));
        }
        Ok((!text.is_empty()).then_some(text))
    }

    fn required(&self, field: &str) -> Result<&str, Problem> {
        self.get(field)?.ok_or_else(|| self.problem(field, "must not be empty"))
    }

    fn text(&self, field: &str) -> Result<Option<String>, Problem> {
        Ok(self.get(field)?.map(str::to_string))
    }

    fn date(&self, field: &str) -> Result<Option<i64>, Problem> {
        self.get(field)?.map(|v| parse_timestamp(v).map_err(|m| self.problem(field, m))).transpose()
    }

    fn parsed<T>(&self, field: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, Problem> {
        self.get(field)?.map(|v| parse(v).map_err(|m| self.problem(field, m))).transpose()
    }
}

/// Reads a CSV bundle folder into a snapshot for `source`.
pub fn read_bundle(dir: &Path, source: &str, progress: &dyn Progress) -> Result<Snapshot, BadInput> {
    if !dir.is_dir() {
        return Err(BadInput::one(Problem {
            file: dir.display().to_string(),
            line: None,
            field: None,
            message: "not a folder (expected a folder with identities.csv and grants.csv)".into(),
        }));
    }
    let mut snapshot = Snapshot { source: source.to_string(), format: "csv".into(), ..Default::default() };
    let mut warnings = Vec::new();
    let mut problems = Problems { list: Vec::new(), rejected: 0 };

    let missing = |name: &str| {
        BadInput::one(Problem { file: name.into(), line: None, field: None, message: format!("missing from {}", dir.display()) })
    };
    let mut identities = Table::open(dir, "identities.csv", IDENTITY_REQUIRED, IDENTITY_OPTIONAL, &mut warnings)?
        .ok_or_else(|| missing("identities.csv"))?;
    let mut grants = Table::open(dir, "grants.csv", GRANT_REQUIRED, GRANT_OPTIONAL, &mut warnings)?.ok_or_else(|| missing("grants.csv"))?;
    let applications = Table::open(dir, "applications.csv", APPLICATION_REQUIRED, APPLICATION_OPTIONAL, &mut warnings)?;
    let sod_rules = Table::open(dir, "sod_rules.csv", SOD_REQUIRED, &[], &mut warnings)?;

    // identities.csv
    let mut identity_index: HashMap<String, (u32, u64)> = HashMap::new();
    // Rows already refused; their grants are not reported a second time.
    let mut refused_identities: HashSet<String> = HashSet::new();
    identities.each(progress, &mut problems, |row, problems| match read_identity(row) {
        Ok(record) => match identity_index.get(&record.external_id) {
            Some((_, first)) => {
                problems.rejected += 1;
                problems.add(row.problem("id", format!("duplicate id `{}` (first on line {first})", record.external_id)));
            }
            None => {
                identity_index.insert(record.external_id.clone(), (snapshot.identities.len() as u32, row.line));
                snapshot.identities.push(record);
            }
        },
        Err(p) => {
            if let Ok(Some(id)) = row.get("id") {
                refused_identities.insert(id.to_string());
            }
            problems.rejected += 1;
            problems.add(p);
        }
    });

    // applications.csv, when given, is the list grants must refer to.
    let explicit_apps = applications.is_some();
    let mut app_index: HashMap<String, u32> = HashMap::new();
    if let Some(mut applications) = applications {
        let mut lines: HashMap<String, u64> = HashMap::new();
        applications.each(progress, &mut problems, |row, problems| {
            let record = (|| {
                Ok::<_, Problem>(ApplicationRecord {
                    external_id: row.required("id")?.to_string(),
                    name: row.required("name")?.to_string(),
                    owner: row.text("owner")?,
                    criticality: row.parsed("criticality", Criticality::parse)?.unwrap_or(Criticality::Medium),
                })
            })();
            match record {
                Ok(record) => {
                    if let Some(first) = lines.get(&record.external_id) {
                        problems.rejected += 1;
                        problems.add(row.problem("id", format!("duplicate id `{}` (first on line {first})", record.external_id)));
                        return;
                    }
                    lines.insert(record.external_id.clone(), row.line);
                    let index = snapshot.applications.len() as u32;
                    app_index.insert(record.external_id.clone(), index);
                    app_index.entry(record.name.clone()).or_insert(index);
                    snapshot.applications.push(record);
                }
                Err(p) => {
                    problems.rejected += 1;
                    problems.add(p);
                }
            }
        });
    }

    // grants.csv
    let mut entitlement_index: HashMap<(u32, String), u32> = HashMap::new();
    let mut names: HashMap<String, u32> = HashMap::new();
    let mut seen: HashMap<(u32, u32), u64> = HashMap::new();
    grants.each(progress, &mut problems, |row, problems| {
        let reject = |p: Problem, problems: &mut Problems| {
            problems.rejected += 1;
            problems.add(p);
        };
        let fields = (|| {
            let identity = row.required("identity")?;
            let application = row.required("application")?;
            let entitlement = row.required("entitlement")?;
            let privilege = row.parsed("privilege", Privilege::parse)?;
            let granted_at = row.date("granted_at")?;
            let last_used_at = row.date("last_used_at")?;
            let granted_by = row.get("granted_by")?;
            let Some(&(identity, _)) = identity_index.get(identity) else {
                if refused_identities.contains(identity) {
                    return Ok(None);
                }
                return Err(row.problem("identity", format!("unknown identity `{identity}` (not in identities.csv)")));
            };
            Ok(Some((identity, application, entitlement, privilege, granted_at, last_used_at, granted_by)))
        })();
        let (identity, application, entitlement, privilege, granted_at, last_used_at, granted_by) = match fields {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(p) => return reject(p, problems),
        };
        let app = match app_index.get(application) {
            Some(&i) => i,
            None if explicit_apps => {
                return reject(
                    row.problem("application", format!("unknown application `{application}` (not in applications.csv)")),
                    problems,
                );
            }
            None => {
                let i = snapshot.applications.len() as u32;
                snapshot.applications.push(ApplicationRecord {
                    external_id: application.to_string(),
                    name: application.to_string(),
                    owner: None,
                    criticality: Criticality::Medium,
                });
                app_index.insert(application.to_string(), i);
                i
            }
        };
        let ent = match entitlement_index.get(&(app, entitlement.to_string())) {
            Some(&i) => {
                let record = &mut snapshot.entitlements[i as usize];
                if let Some(p) = privilege {
                    if record.privilege.is_none_or(|q| p.rank() > q.rank()) {
                        record.privilege = Some(p);
                    }
                }
                i
            }
            None => {
                let i = snapshot.entitlements.len() as u32;
                snapshot.entitlements.push(EntitlementRecord { application: app, name: entitlement.to_string(), privilege });
                entitlement_index.insert((app, entitlement.to_string()), i);
                i
            }
        };
        if let Some(first) = seen.insert((identity, ent), row.line) {
            return reject(
                row.problem(
                    "entitlement",
                    format!(
                        "duplicate grant of `{application}` / `{entitlement}` to `{}` (first on line {first})",
                        snapshot.identities[identity as usize].external_id
                    ),
                ),
                problems,
            );
        }
        let granted_by = granted_by.map(|name| match names.get(name) {
            Some(&i) => i,
            None => {
                let i = snapshot.names.len() as u32;
                snapshot.names.push(name.to_string());
                names.insert(name.to_string(), i);
                i
            }
        });
        snapshot.grants.push(GrantRecord { identity, entitlement: ent, granted_at, last_used_at, granted_by });
    });

    // sod_rules.csv, when given, replaces the rules the source's earlier bundle brought.
    if let Some(mut table) = sod_rules {
        let mut rules = Vec::new();
        table.each(progress, &mut problems, |row, problems| {
            let rule = (|| {
                let rule = crate::scoring::NewSodRule {
                    application_a: row.required("application_a")?.to_string(),
                    entitlement_a: row.required("entitlement_a")?.to_string(),
                    application_b: row.required("application_b")?.to_string(),
                    entitlement_b: row.required("entitlement_b")?.to_string(),
                    reason: row.required("reason")?.to_string(),
                };
                rule.checked().map_err(|message| {
                    let field = message.split([' ', ':']).next().unwrap_or_default().to_string();
                    row.problem(&field, message)
                })
            })();
            match rule {
                Ok(rule) => rules.push(rule),
                Err(p) => {
                    problems.rejected += 1;
                    problems.add(p);
                }
            }
        });
        snapshot.sod_rules = Some(rules);
    }
    progress.finish();
    problems.into_result()?;
    snapshot.warnings = warnings;
    Ok(snapshot)
}

fn read_identity(row: &Row<'_>) -> Result<IdentityRecord, Problem> {
    Ok(IdentityRecord {
        external_id: row.required("id")?.to_string(),
        kind: IdentityKind::parse(row.required("kind")?).map_err(|m| row.problem("kind", m))?,
        display_name: row.required("display_name")?.to_string(),
        email: row.text("email")?,
        owner: row.text("owner")?,
        manager: row.text("manager")?,
        department: row.text("department")?,
        status: row.parsed("status", IdentityStatus::parse)?.unwrap_or(IdentityStatus::Active),
        purpose: row.text("purpose")?,
        created_at: row.date("created_at")?,
        last_active_at: row.date("last_active_at")?,
        credential_rotated_at: row.date("credential_rotated_at")?,
        expires_at: row.date("expires_at")?,
    })
}
