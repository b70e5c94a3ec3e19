//! The IAM credential report (`aws iam get-credential-report`, the 22-column CSV). A user is
//! a human when it has a console password, a service account when it signs in with access keys
//! only. Each active access key (and signing certificate) becomes its own identity owned by its
//! user, with its rotation and last-use dates. The root account is a human holding the admin
//! entitlement `root user`. `N/A`, `no_information` and `not_supported` mean "no value".

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Builder, Format, identity, latest, read_file, utf8};
use crate::identities::{Criticality, IdentityKind, Privilege};
use crate::imports::server::dates::parse_timestamp;
use crate::imports::server::model::Snapshot;
use crate::imports::server::{BadInput, Problem};

/// The report's columns, as AWS writes them (in this order, though any order is read).
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

const ROOT: &str = "<root_account>";

struct Row<'a> {
    file: &'a str,
    line: u64,
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl Row<'_> {
    fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem { file: self.file.to_string(), line: Some(self.line), field: Some(field.to_string()), message: message.into() }
    }

    /// The value, `None` for the report's ways of saying "nothing".
    fn get(&self, field: &str) -> Option<&str> {
        let value = self.columns.get(field).and_then(|&i| self.record.get(i)).map(str::trim).unwrap_or("");
        match value {
            "" | "N/A" | "no_information" | "not_supported" => None,
            v => Some(v),
        }
    }

    fn flag(&self, field: &str) -> Result<bool, Problem> {
        match self.get(field).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(self.problem(field, format!("`{other}` is not true or false"))),
        }
    }

    fn date(&self, field: &str) -> Result<Option<i64>, Problem> {
        self.get(field).map(|v| parse_timestamp(v).map_err(|m| self.problem(field, m))).transpose()
    }
}

/// The account id in `arn:aws:iam::123456789012:user/x`.
fn account_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let account = parts.nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Reads credential reports (one per account, or several) into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::AwsCredentialReport);
    let mut problems: Vec<Problem> = Vec::new();
    let mut rejected = 0u64;
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let text = utf8(&file, &bytes)?;
        let header_problem =
            |message: String, field: Option<String>| BadInput::one(Problem { file: file.clone(), line: Some(1), field, message });
        if text.trim_start().starts_with('{') || text.trim_start().starts_with('[') {
            return Err(header_problem(
                "JSON, not the credential report CSV; `aws iam get-credential-report` returns it base64-encoded in `Content` \
                 (decode it: --query Content --output text | base64 -d)"
                    .into(),
                None,
            ));
        }
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| header_problem(format!("malformed CSV: {e}"), None))?.clone();
        let mut columns = HashMap::new();
        for (i, header) in headers.iter().enumerate() {
            let header = header.trim().to_ascii_lowercase();
            if !COLUMNS.contains(&header.as_str()) && !header.is_empty() {
                b.warn(format!("{file}: unknown column `{header}` ignored"));
            }
            columns.insert(header, i);
        }
        let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !columns.contains_key(*c)).collect();
        if !missing.is_empty() {
            return Err(header_problem(
                "required column missing (expected the IAM credential report header: user,arn,user_creation_time,…)".into(),
                Some(missing.join(", ")),
            ));
        }
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0);
                    let row = Row { file: &file, line, record: &record, columns: &columns };
                    if let Err(p) = read_row(&mut b, &row) {
                        rejected += 1;
                        if problems.len() < BadInput::SHOWN {
                            problems.push(p);
                        }
                    }
                }
                Err(e) => {
                    let message = match e.kind() {
                        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                            format!("the row has {len} fields, the header has {expected_len}")
                        }
                        _ => format!("malformed CSV: {e}"),
                    };
                    rejected += 1;
                    problems.push(Problem { file: file.clone(), line: e.position().map(|p| p.line()), field: None, message });
                    break;
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(BadInput { problems, rejected });
    }
    Ok(b.finish())
}

fn read_row(b: &mut Builder, row: &Row<'_>) -> Result<(), Problem> {
    let user = row.get("user").ok_or_else(|| row.problem("user", "must not be empty"))?;
    let arn = row.get("arn").ok_or_else(|| row.problem("arn", "must not be empty"))?;
    let root = user == ROOT;
    let password = row.flag("password_enabled")?;
    let password_last_used = row.date("password_last_used")?;
    let created = row.date("user_creation_time")?;
    let password_changed = row.date("password_last_changed")?;
    let mfa = row.flag("mfa_active")?;

    let mut keys = Vec::new();
    for (n, kind) in [(1, "access_key"), (2, "access_key"), (1, "cert"), (2, "cert")] {
        let prefix = format!("{kind}_{n}");
        if !row.flag(&format!("{prefix}_active"))? {
            continue;
        }
        let rotated = row.date(&format!("{prefix}_last_rotated"))?;
        let (used, region, service) = if kind == "access_key" {
            (
                row.date(&format!("{prefix}_last_used_date"))?,
                row.get(&format!("{prefix}_last_used_region")),
                row.get(&format!("{prefix}_last_used_service")),
            )
        } else {
            (None, None, None)
        };
        keys.push((n, kind, rotated, used, region.map(str::to_string), service.map(str::to_string)));
    }

    let account = account_of(arn);
    let (app_id, app_name) = match account {
        Some(account) => (format!("aws:{account}"), format!("AWS account {account}")),
        None => (format!("aws:{}", b.source()), format!("AWS ({})", b.source())),
    };
    let app = b.application(&app_id, &app_name, if root { Criticality::High } else { Criticality::Medium });

    let has_access_keys = keys.iter().any(|k| k.1 == "access_key");
    let kind = if root || password || !has_access_keys { IdentityKind::Human } else { IdentityKind::ServiceAccount };
    let display_name = if root { format!("root ({})", account.unwrap_or("AWS account")) } else { user.to_string() };
    let mut record = identity(arn, kind, &display_name);
    record.created_at = created;
    record.credential_rotated_at = password_changed;
    record.last_active_at = keys.iter().fold(password_last_used, |acc, k| latest(acc, k.3));
    if root {
        record.purpose = Some(format!("AWS account root user: unrestricted access to the account{}", if mfa { "" } else { "; no MFA" }));
    } else if password && !mfa {
        record.purpose = Some("console password without MFA".into());
    }
    let user_index = b.identity(record);

    if root {
        let entitlement = b.entitlement(app, "root user", Some(Privilege::Admin));
        b.grant(user_index, entitlement, created, password_last_used, None);
    } else if password {
        let entitlement = b.entitlement(app, "console sign-in", None);
        b.grant(user_index, entitlement, None, password_last_used, None);
    }
    for (n, kind, rotated, used, region, service) in keys {
        let (suffix, label, identity_kind, entitlement_name) = if kind == "access_key" {
            ("access-key", "access key", IdentityKind::ApiKey, "programmatic access")
        } else {
            ("signing-certificate", "signing certificate", IdentityKind::Certificate, "signing certificate")
        };
        let mut key = identity(&format!("{arn}#{suffix}-{n}"), identity_kind, &format!("{user} {label} {n}"));
        key.owner = Some(arn.to_string());
        key.credential_rotated_at = rotated;
        key.created_at = rotated;
        key.last_active_at = used;
        key.purpose = match (service, region) {
            (Some(service), Some(region)) => Some(format!("last used by {service} in {region}")),
            (Some(service), None) => Some(format!("last used by {service}")),
            (None, Some(region)) => Some(format!("last used in {region}")),
            (None, None) => None,
        };
        let key_index = b.identity(key);
        let privilege = root.then_some(Privilege::Admin);
        let name = if root { format!("root user {entitlement_name}") } else { entitlement_name.to_string() };
        let entitlement = b.entitlement(app, &name, privilege);
        b.grant(key_index, entitlement, rotated, used, None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::identities::IdentityStatus;

    fn report(names: &[&str]) -> Result<Snapshot, BadInput> {
        let paths: Vec<PathBuf> = names.iter().map(|n| sample(&format!("aws-iam-credential-report/{n}"))).collect();
        read(&paths, "aws")
    }

    fn kinds(s: &Snapshot) -> Vec<(&str, &str)> {
        s.identities.iter().map(|i| (i.external_id.as_str(), i.kind.as_str())).collect()
    }

    #[test]
    fn keys_without_a_password_make_a_service_account_and_each_key_is_owned() {
        let s = report(&["cloudquery_exampleReportWithNilValues.csv"]).unwrap();
        assert_eq!(
            kinds(&s),
            [
                ("arn:aws:iam::123456789012:root", "human"),
                ("arn:aws:iam::123456789012:user/user-cli", "service_account"),
                ("arn:aws:iam::123456789012:user/user-cli#access-key-1", "api_key"),
                ("arn:aws:iam::123456789012:user/user-cli#access-key-2", "api_key"),
                ("arn:aws:iam::123456789012:user/user-readonly", "service_account"),
                ("arn:aws:iam::123456789012:user/user-readonly#access-key-1", "api_key"),
            ]
        );
        let key = &s.identities[3];
        assert_eq!(key.owner.as_deref(), Some("arn:aws:iam::123456789012:user/user-cli"));
        assert_eq!(key.credential_rotated_at, parse_timestamp("2022-08-29T08:39:55+00:00").ok());
        assert_eq!(key.last_active_at, parse_timestamp("2022-09-01T15:41:00+00:00").ok());
        assert_eq!(key.purpose.as_deref(), Some("last used by logs in us-east-1"));
        // The user was last active when its newest key was used.
        assert_eq!(s.identities[1].last_active_at, key.last_active_at);
        assert_eq!(s.identities.iter().filter(|i| i.status == IdentityStatus::Active).count(), 6);
    }

    #[test]
    fn the_root_account_holds_an_admin_entitlement() {
        let s = report(&["prowler_iam_avoid_root_usage_root_not_used.csv"]).unwrap();
        assert_eq!(s.identities[0].display_name, "root (123456789012)");
        assert!(s.identities[0].purpose.as_deref().unwrap_or_default().contains("no MFA"));
        let root_grants: Vec<_> = s.grants.iter().map(|g| &s.entitlements[g.entitlement as usize]).collect();
        assert_eq!(root_grants.len(), 2, "root user and its access key");
        assert!(root_grants.iter().all(|e| e.privilege == Some(Privilege::Admin)));
        assert_eq!(s.identities[1].kind, IdentityKind::ApiKey);
        assert_eq!(s.applications[0].criticality, Criticality::High);
    }

    #[test]
    fn every_public_sample_reads() {
        let s = report(&[
            "cloudquery_exampleReport.csv",
            "prowler_no_setup_initial_access_key_1_fail.csv",
            "prowler_no_setup_initial_access_key_2_fail.csv",
            "prowler_no_setup_initial_both_access_keys_fail.csv",
            "prowler_no_setup_initial_access_key_pass.csv",
        ])
        .unwrap();
        let keys = s.identities.iter().filter(|i| i.kind == IdentityKind::ApiKey).count();
        assert_eq!(keys, 2 + 1 + 1 + 2, "inactive certificates are left out");
        // Password enabled with keys: a human; the pass row has neither.
        let human = |id: &str| s.identities.iter().find(|i| i.external_id == id).map(|i| i.kind);
        assert_eq!(human("arn:aws:iam::123456789012:test_false_both_access_keys"), Some(IdentityKind::Human));
        assert_eq!(human("arn:aws:iam::123456789012:test_pass"), Some(IdentityKind::Human));
        assert_eq!(human("arn:aws:iam::123456789012:user/user-readonly"), Some(IdentityKind::ServiceAccount));
    }

    #[test]
    fn a_bad_date_or_flag_is_named_by_line_and_column() {
        let text = std::fs::read_to_string(sample("aws-iam-credential-report/cloudquery_exampleReportWithNilValues.csv")).unwrap();
        let text = text.replacen("2022-08-01T13:51:50+00:00", "01/08/2022", 1).replacen(
            ",false,true,2022-08-31T11:10:34",
            ",false,yes,2022-08-31T11:10:34",
            1,
        );
        let (_dir, path) = temp_file("report.csv", text.as_bytes());
        let err = read(&[path], "aws").unwrap_err();
        let text = err.to_string();
        assert_eq!(err.rejected, 2, "{text}");
        assert!(text.contains("report.csv line 3, field `access_key_1_last_rotated`: `01/08/2022` is not a date"), "{text}");
        assert!(text.contains("report.csv line 4, field `access_key_1_active`: `yes` is not true or false"), "{text}");
    }

    #[test]
    fn a_file_of_another_kind_is_refused_at_its_header() {
        let (_dir, path) = temp_file("users.csv", b"id,kind,display_name\nu1,human,Ann\n");
        let err = read(&[path], "aws").unwrap_err().to_string();
        assert!(err.contains("users.csv line 1, field `user, arn,"), "{err}");
        let (_dir, path) = temp_file("report.json", b"{\"Content\": \"dXNlcg==\"}");
        let err = read(&[path], "aws").unwrap_err().to_string();
        assert!(err.contains("base64"), "{err}");
    }
}
