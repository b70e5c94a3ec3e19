//! Vendor exports read as they come: each format is a pure function from files to a
//! [`Snapshot`], refusing the whole input with a [`BadInput`] that names the file and the
//! place in it. Shared here: reading a file, JSON with line and field in its errors, dates,
//! and a [`Builder`] that interns applications, entitlements and grants.

pub mod aws_access_advisor;
pub mod aws_authorization_details;
pub mod aws_credential_report;
pub mod baton;
pub mod entra;
pub mod github_pats;
pub mod okta;
pub mod scim;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::dates::parse_timestamp;
use super::model::{ApplicationRecord, EntitlementRecord, GrantRecord, IdentityRecord, Snapshot};
use super::{BadInput, Problem};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};

/// The formats `attest import <format>` reads besides the CSV bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Scim,
    AwsCredentialReport,
    AwsAuthorizationDetails,
    GithubPats,
    Okta,
    Entra,
    Baton,
    AwsAccessAdvisor,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Scim,
        Format::AwsCredentialReport,
        Format::AwsAuthorizationDetails,
        Format::GithubPats,
        Format::Okta,
        Format::Entra,
        Format::Baton,
        Format::AwsAccessAdvisor,
    ];

    /// The name on the command line, also the default source name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Scim => "scim",
            Format::AwsCredentialReport => "aws-credential-report",
            Format::AwsAuthorizationDetails => "aws-authorization-details",
            Format::GithubPats => "github-pats",
            Format::Okta => "okta",
            Format::Entra => "entra",
            Format::Baton => "baton",
            Format::AwsAccessAdvisor => "aws-access-advisor",
        }
    }

    pub fn parse(text: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == text)
            .ok_or_else(|| format!("unknown format `{text}` (expected one of {})", Format::ALL.map(Format::name).join(", ")))
    }

    /// Reads `paths` (all of this format) into one snapshot for `source`.
    pub fn read(self, paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
        if paths.is_empty() {
            return Err(BadInput::one(Problem { file: self.name().into(), line: None, field: None, message: "no files given".into() }));
        }
        match self {
            Format::Scim => scim::read(paths, source),
            Format::AwsCredentialReport => aws_credential_report::read(paths, source),
            Format::AwsAuthorizationDetails => aws_authorization_details::read(paths, source),
            Format::GithubPats => github_pats::read(paths, source),
            Format::Okta => okta::read(paths, source),
            Format::Entra => entra::read(paths, source),
            Format::Baton => baton::read(paths, source),
            Format::AwsAccessAdvisor => aws_access_advisor::read(paths, source),
        }
    }
}

/// Largest file read, so a wrong path (a disk image, a log) fails fast instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A file's name as problems show it, and its bytes.
pub(crate) fn read_file(path: &Path) -> Result<(String, Vec<u8>), BadInput> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let refuse = |message: String| BadInput::one(Problem { file: name.clone(), line: None, field: None, message });
    let meta = std::fs::metadata(path).map_err(|e| refuse(format!("cannot open {}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(refuse(format!("{} is a folder; give the exported files themselves", path.display())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(refuse(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    Ok((name, bytes))
}

/// The text of a file, refusing anything but UTF-8 with the line of the first bad byte.
pub(crate) fn utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, BadInput> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(BadInput::one(Problem {
            file: file.into(),
            line: Some(1),
            field: None,
            message: "UTF-16 text; save the file as UTF-8 (PowerShell: Out-File -Encoding utf8)".into(),
        }));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        BadInput::one(Problem {
            file: file.into(),
            line: Some(line),
            field: None,
            message: format!("not UTF-8 text (invalid byte at position {at}); save the file as UTF-8"),
        })
    })
}

/// Parses JSON into `T`; a problem names the line and the field path (`Resources[2].active`).
pub(crate) fn parse_json<T: DeserializeOwned>(file: &str, bytes: &[u8], expected: &str) -> Result<T, BadInput> {
    let text = utf8(file, bytes)?;
    if text.trim().is_empty() {
        return Err(BadInput::one(Problem { file: file.into(), line: None, field: None, message: format!("empty (expected {expected})") }));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = strip_position(&inner.to_string());
        let message = match inner.classify() {
            serde_json::error::Category::Eof => format!("the JSON ends early; the file is truncated (expected {expected})"),
            serde_json::error::Category::Syntax => format!("not valid JSON: {detail} (expected {expected})"),
            serde_json::error::Category::Data => format!("{detail} (expected {expected})"),
            serde_json::error::Category::Io => format!("cannot read: {detail}"),
        };
        let field = (path != "." && !path.is_empty()).then_some(path);
        BadInput::one(Problem { file: file.into(), line: (inner.line() > 0).then_some(inner.line() as u64), field, message })
    })?;
    deserializer.end().map_err(|e| {
        BadInput::one(Problem {
            file: file.into(),
            line: Some(e.line() as u64),
            field: None,
            message: format!("more text after the JSON document (expected {expected})"),
        })
    })?;
    Ok(value)
}

/// Whether a JSON document is an array (rather than an object), from its first character.
pub(crate) fn is_array(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// serde_json ends its messages with ` at line L column C`; problems carry the line themselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A refusal naming a field without a line (found after parsing).
pub(crate) fn refuse(file: &str, field: impl Into<String>, message: impl Into<String>) -> BadInput {
    BadInput::one(Problem { file: file.into(), line: None, field: Some(field.into()), message: message.into() })
}

/// A timestamp read while parsing, so a bad one is reported with its line and field.
/// `null`, an absent field and an empty string are "no date".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct When(pub Option<i64>);

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(When(None)),
            Some(text) => parse_timestamp(text).map(|t| When(Some(t))).map_err(serde::de::Error::custom),
        }
    }
}

/// A list where some exports put a single object.
#[derive(Debug, Clone)]
pub(crate) struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Option::<Shape<T>>::deserialize(deserializer)? {
            None => OneOrMany(Vec::new()),
            Some(Shape::Many(v)) => OneOrMany(v),
            Some(Shape::One(v)) => OneOrMany(vec![v]),
        })
    }
}

/// The later of two optional dates.
pub(crate) fn latest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A new identity with only what every one has; the rest is filled in by each format.
pub(crate) fn identity(external_id: &str, kind: IdentityKind, display_name: &str) -> IdentityRecord {
    IdentityRecord {
        external_id: external_id.to_string(),
        kind,
        display_name: display_name.to_string(),
        email: None,
        owner: None,
        manager: None,
        department: None,
        status: IdentityStatus::Active,
        purpose: None,
        created_at: None,
        last_active_at: None,
        credential_rotated_at: None,
        expires_at: None,
    }
}

/// Builds a snapshot, interning what repeats and merging duplicates instead of refusing them:
/// vendor exports overlap (a user in two pages, a group reached twice).
pub(crate) struct Builder {
    snapshot: Snapshot,
    identities: HashMap<String, u32>,
    applications: HashMap<String, u32>,
    entitlements: HashMap<(u32, String), u32>,
    grants: HashMap<(u32, u32), usize>,
    names: HashMap<String, u32>,
}

impl Builder {
    pub(crate) fn new(source: &str, format: Format) -> Builder {
        Builder {
            snapshot: Snapshot { source: source.to_string(), format: format.name().to_string(), ..Default::default() },
            identities: HashMap::new(),
            applications: HashMap::new(),
            entitlements: HashMap::new(),
            grants: HashMap::new(),
            names: HashMap::new(),
        }
    }

    pub(crate) fn source(&self) -> &str {
        &self.snapshot.source
    }

    /// Adds an identity, or fills in what an earlier record of the same id left empty.
    pub(crate) fn identity(&mut self, record: IdentityRecord) -> u32 {
        if let Some(&i) = self.identities.get(&record.external_id) {
            let old = &mut self.snapshot.identities[i as usize];
            old.email = old.email.take().or(record.email);
            old.owner = old.owner.take().or(record.owner);
            old.manager = old.manager.take().or(record.manager);
            old.department = old.department.take().or(record.department);
            old.purpose = old.purpose.take().or(record.purpose);
            old.created_at = old.created_at.or(record.created_at);
            old.last_active_at = latest(old.last_active_at, record.last_active_at);
            old.credential_rotated_at = latest(old.credential_rotated_at, record.credential_rotated_at);
            old.expires_at = old.expires_at.or(record.expires_at);
            return i;
        }
        let i = self.snapshot.identities.len() as u32;
        self.identities.insert(record.external_id.clone(), i);
        self.snapshot.identities.push(record);
        i
    }

    pub(crate) fn identity_index(&self, external_id: &str) -> Option<u32> {
        self.identities.get(external_id).copied()
    }

    pub(crate) fn identity_mut(&mut self, index: u32) -> &mut IdentityRecord {
        &mut self.snapshot.identities[index as usize]
    }

    pub(crate) fn application(&mut self, external_id: &str, name: &str, criticality: Criticality) -> u32 {
        if let Some(&i) = self.applications.get(external_id) {
            return i;
        }
        let i = self.snapshot.applications.len() as u32;
        self.snapshot.applications.push(ApplicationRecord {
            external_id: external_id.to_string(),
            name: name.to_string(),
            owner: None,
            criticality,
        });
        self.applications.insert(external_id.to_string(), i);
        i
    }

    /// An entitlement of `application`; a given privilege raises, never lowers, an earlier one.
    pub(crate) fn entitlement(&mut self, application: u32, name: &str, privilege: Option<Privilege>) -> u32 {
        if let Some(&i) = self.entitlements.get(&(application, name.to_string())) {
            let record = &mut self.snapshot.entitlements[i as usize];
            if let Some(p) = privilege
                && record.privilege.is_none_or(|q| p.rank() > q.rank())
            {
                record.privilege = Some(p);
            }
            return i;
        }
        let i = self.snapshot.entitlements.len() as u32;
        self.snapshot.entitlements.push(EntitlementRecord { application, name: name.to_string(), privilege });
        self.entitlements.insert((application, name.to_string()), i);
        i
    }

    /// A grant; the same one twice keeps the earliest grant date and the latest use.
    pub(crate) fn grant(
        &mut self,
        identity: u32,
        entitlement: u32,
        granted_at: Option<i64>,
        last_used_at: Option<i64>,
        granted_by: Option<&str>,
    ) {
        let granted_by = granted_by.map(|name| match self.names.get(name) {
            Some(&i) => i,
            None => {
                let i = self.snapshot.names.len() as u32;
                self.snapshot.names.push(name.to_string());
                self.names.insert(name.to_string(), i);
                i
            }
        });
        if let Some(&k) = self.grants.get(&(identity, entitlement)) {
            let grant = &mut self.snapshot.grants[k];
            grant.granted_at = match (grant.granted_at, granted_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            grant.last_used_at = latest(grant.last_used_at, last_used_at);
            // A direct grant says more than one through a group.
            if granted_by.is_none() {
                grant.granted_by = None;
            }
            return;
        }
        self.grants.insert((identity, entitlement), self.snapshot.grants.len());
        self.snapshot.grants.push(GrantRecord { identity, entitlement, granted_at, last_used_at, granted_by });
    }

    pub(crate) fn warn(&mut self, warning: impl Into<String>) {
        self.snapshot.warnings.push(warning.into());
    }

    pub(crate) fn finish(self) -> Snapshot {
        self.snapshot
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    /// A public sample kept in the repository (`server/tests/fixtures/samples/`).
    pub fn sample(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures/samples").join(path)
    }

    /// Writes `text` to a temporary file named `name`.
    pub fn temp_file(name: &str, text: &[u8]) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join(name);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    pub mod tempdir {
        /// A folder under the system temp dir, removed when dropped.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!("attest-formats-{:016x}", rand::random::<u64>()));
                std::fs::create_dir_all(&path).expect("temp dir");
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        items: Vec<Item>,
    }
    #[derive(Debug, Deserialize)]
    struct Item {
        #[allow(dead_code)]
        at: When,
    }

    #[test]
    fn a_bad_date_is_named_by_line_and_field() {
        let text = b"{\n  \"items\": [\n    {\"at\": \"2024-01-01\"},\n    {\"at\": \"yesterday\"}\n  ]\n}\n";
        let err = parse_json::<Doc>("x.json", text, "a doc").unwrap_err();
        let problem = &err.problems[0];
        assert_eq!((problem.line, problem.field.as_deref()), (Some(4), Some("items[1].at")), "{err}");
        assert!(problem.message.contains("`yesterday` is not a date"), "{err}");
    }

    #[test]
    fn truncated_and_elided_json_is_refused_with_its_line() {
        let err = parse_json::<Doc>("x.json", b"{\n \"items\": [\n", "a doc").unwrap_err();
        assert!(err.to_string().contains("x.json line 3, field `items`: the JSON ends early"), "{err}");
        let err = parse_json::<Doc>("x.json", b"{\n \"items\": [\n    ...\n  ]\n}", "a doc").unwrap_err();
        assert!(err.to_string().contains("x.json line 3, field `items[0]`: not valid JSON: expected value"), "{err}");
    }

    #[test]
    fn utf16_and_latin1_files_are_refused() {
        let err = parse_json::<Doc>("x.json", b"\xFF\xFE{\x00", "a doc").unwrap_err();
        assert!(err.to_string().contains("UTF-16"), "{err}");
        let err = parse_json::<Doc>("x.json", b"{\n\"items\": [{\"at\": \"caf\xE9\"}]}", "a doc").unwrap_err();
        assert!(err.to_string().contains("x.json line 2: not UTF-8 text"), "{err}");
    }

    #[test]
    fn one_or_many_reads_both() {
        let one: OneOrMany<u8> = serde_json::from_str("1").unwrap();
        let many: OneOrMany<u8> = serde_json::from_str("[1, 2]").unwrap();
        let none: OneOrMany<u8> = serde_json::from_str("null").unwrap();
        assert_eq!((one.0, many.0, none.0), (vec![1], vec![1, 2], vec![]));
    }

    /// Every public sample with its format, to mutate.
    pub(super) fn all_samples() -> Vec<(Format, Vec<u8>)> {
        let folders = [
            (Format::Scim, "scim"),
            (Format::AwsCredentialReport, "aws-iam-credential-report"),
            (Format::AwsAuthorizationDetails, "aws-iam-authorization-details"),
            (Format::GithubPats, "github-pat"),
            (Format::Okta, "okta"),
            (Format::Entra, "entra"),
            (Format::Baton, "baton-c1z"),
            (Format::AwsAccessAdvisor, "aws-access-advisor"),
        ];
        let mut out = Vec::new();
        for (format, folder) in folders {
            for entry in std::fs::read_dir(test_support::sample(folder)).expect("samples") {
                out.push((format, std::fs::read(entry.expect("entry").path()).expect("read")));
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// Cut, overwritten or arbitrary input is refused or read, never a panic.
        #[test]
        fn damaged_samples_never_panic(pick in 0usize..1000, cut in 0usize..10_000, at in 0usize..10_000, byte in 0u8..=255, noise in proptest::collection::vec(0u8..=255, 0..64)) {
            let samples = all_samples();
            let (format, mut bytes) = samples[pick % samples.len()].clone();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = byte;
                bytes.truncate(cut % (bytes.len() + 1));
            }
            bytes.extend_from_slice(&noise);
            let (_dir, path) = test_support::temp_file("damaged", &bytes);
            let _ = format.read(&[path.clone()], "fuzz");
            for other in Format::ALL {
                let _ = other.read(&[path.clone()], "fuzz");
            }
        }
    }

    #[test]
    fn format_names_round_trip() {
        for format in Format::ALL {
            assert_eq!(Format::parse(format.name()), Ok(format));
        }
        assert!(Format::parse("ldap").unwrap_err().contains("expected one of scim"));
    }
}
