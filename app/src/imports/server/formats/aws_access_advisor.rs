//! IAM access advisor reports: the output of `aws iam get-service-last-accessed-details` for one
//! user or role, one JSON file each. The report lists every AWS service the entity's policies
//! allow and when the entity last used it; each becomes a grant `service: <namespace>` with that
//! date as its last use (none for a service never used), so dormant access shows in the risk.
//!
//! The report does not name whom it is about. The user's or role's ARN is read from
//! `LastAuthenticatedEntity`, which a report for one user or role gives on each service it
//! used; the identity then lines up with `aws-authorization-details` (same ARN, same account
//! application). A report where nothing was ever used names no one: its file name is taken as
//! the user's or role's name (`<name>.json`), with a warning, since the ARN is unknown. A report
//! naming several entities was made for a group or a policy and is refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Builder, Format, When, identity, latest, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind};
use crate::imports::server::BadInput;
use crate::imports::server::model::Snapshot;

const EXPECTED: &str = "the output of aws iam get-service-last-accessed-details for one user or role, saved as <name>.json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    #[serde(default)]
    job_status: Option<String>,
    #[serde(default)]
    services_last_accessed: Option<Vec<Service>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    is_truncated: Option<bool>,
    #[serde(default)]
    marker: Option<String>,
    /// Only `get-service-last-accessed-details-with-entities` has these.
    #[serde(default)]
    entity_details_list: Option<serde_json::Value>,
    /// Only `get-organizations-access-report` has these.
    #[serde(default)]
    access_details: Option<serde_json::Value>,
    #[serde(default)]
    number_of_services_accessible: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    service_namespace: String,
    #[serde(default)]
    last_authenticated: When,
    #[serde(default)]
    last_authenticated_entity: Option<String>,
}

/// Reads access advisor reports, one per user or role, into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::AwsAccessAdvisor);
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let report: Report = parse_json(&file, &bytes, EXPECTED)?;
        if report.access_details.is_some() || report.number_of_services_accessible.is_some() {
            return Err(refuse(
                &file,
                "AccessDetails",
                format!(
                    "this is aws iam get-organizations-access-report output, a report on an AWS Organizations entity, \
                     which names no user or role (expected {EXPECTED})"
                ),
            ));
        }
        if report.entity_details_list.is_some() {
            return Err(refuse(
                &file,
                "EntityDetailsList",
                format!(
                    "this is aws iam get-service-last-accessed-details-with-entities output, the users and roles of one \
                     service; run get-service-last-accessed-details without --service-namespace (expected {EXPECTED})"
                ),
            ));
        }
        match report.job_status.as_deref() {
            Some("COMPLETED") => {}
            Some(status) => {
                let detail = report.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
                return Err(refuse(
                    &file,
                    "JobStatus",
                    format!(
                        "the report's job is {status}{detail}, not COMPLETED; run get-service-last-accessed-details again once it completes"
                    ),
                ));
            }
            None => return Err(refuse(&file, "JobStatus", format!("missing (expected {EXPECTED})"))),
        }
        let Some(services) = report.services_last_accessed else {
            return Err(refuse(&file, "ServicesLastAccessed", format!("missing (expected {EXPECTED})")));
        };
        let named: BTreeSet<&str> =
            services.iter().filter_map(|s| s.last_authenticated_entity.as_deref()).map(str::trim).filter(|a| !a.is_empty()).collect();
        if named.len() > 1 {
            return Err(refuse(
                &file,
                "ServicesLastAccessed",
                format!(
                    "the report names {} users or roles ({}), so it was made for a group or a policy; generate one report per user or role",
                    named.len(),
                    named.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let (external_id, name, kind, app) = match named.first() {
            Some(arn) => {
                let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
                let kind = if arn.contains(":role/") { IdentityKind::ServiceAccount } else { IdentityKind::Human };
                let app = match account_of(arn) {
                    Some(account) => b.application(&format!("aws:{account}"), &format!("AWS account {account}"), Criticality::Medium),
                    None => source_application(&mut b),
                };
                (arn.to_string(), name, kind, app)
            }
            None => {
                let name = stem(path)
                    .ok_or_else(|| refuse(&file, "ServicesLastAccessed", "name the file after the user or role (<name>.json)"))?;
                b.warn(format!(
                    "{file}: no service was ever used, so the report does not give the ARN; the identity is named `{name}` after the file \
                     and will not line up with the same user or role from aws-authorization-details"
                ));
                (format!("aws-iam:{name}"), name, IdentityKind::Human, source_application(&mut b))
            }
        };
        let mut record = identity(&external_id, kind, &name);
        record.last_active_at = services.iter().fold(None, |at, s| latest(at, s.last_authenticated.0));
        let index = b.identity(record);
        for service in &services {
            let namespace = service.service_namespace.trim();
            if namespace.is_empty() {
                return Err(refuse(&file, "ServicesLastAccessed[].ServiceNamespace", "must not be empty"));
            }
            let entitlement = b.entitlement(app, &format!("service: {namespace}"), None);
            b.grant(index, entitlement, None, service.last_authenticated.0, None);
        }
        if report.is_truncated == Some(true) && report.marker.is_some() {
            b.warn(format!(
                "{file}: the report says more follows (IsTruncated with a Marker); fetch every page with --marker and import them together"
            ));
        }
    }
    Ok(b.finish())
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

fn source_application(b: &mut Builder) -> u32 {
    let source = b.source().to_string();
    b.application(&format!("aws:{source}"), &format!("AWS ({source})"), Criticality::Medium)
}

fn stem(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().trim().to_string()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::imports::server::dates::parse_timestamp;

    #[test]
    fn a_report_gives_one_grant_per_service_with_its_last_use() {
        let s = read(&[sample("aws-access-advisor/botocore_GetServiceLastAccessedDetails.json")], "aws").unwrap();
        assert_eq!(s.identities.len(), 1);
        let user = &s.identities[0];
        assert_eq!(
            (user.external_id.as_str(), user.display_name.as_str()),
            ("arn:aws:iam::123456789012:user/AWSExampleUser01", "AWSExampleUser01")
        );
        assert_eq!(user.kind, IdentityKind::Human);
        assert_eq!(user.last_active_at, parse_timestamp("2018-10-24T19:11:00Z").ok());
        assert_eq!(
            (s.applications[0].external_id.as_str(), s.applications[0].name.as_str()),
            ("aws:123456789012", "AWS account 123456789012")
        );
        let grants: Vec<(&str, Option<i64>)> =
            s.grants.iter().map(|g| (s.entitlements[g.entitlement as usize].name.as_str(), g.last_used_at)).collect();
        assert_eq!(grants, [("service: iam", parse_timestamp("2018-10-24T19:11:00Z").ok()), ("service: s3", None)]);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn a_report_where_nothing_was_used_is_named_after_its_file() {
        let text = b"{\"JobStatus\": \"COMPLETED\", \"ServicesLastAccessed\": [{\"ServiceName\": \"Amazon S3\", \"ServiceNamespace\": \"s3\", \"TotalAuthenticatedEntities\": 0}]}";
        let (_dir, path) = temp_file("deploy-bot.json", text);
        let s = read(&[path], "aws").unwrap();
        assert_eq!(s.identities[0].external_id, "aws-iam:deploy-bot");
        assert_eq!(s.grants[0].last_used_at, None);
        assert!(s.warnings[0].contains("named `deploy-bot` after the file"), "{:?}", s.warnings);
    }

    #[test]
    fn a_role_is_a_service_account() {
        let text = b"{\"JobStatus\": \"COMPLETED\", \"ServicesLastAccessed\": [{\"ServiceNamespace\": \"ec2\", \"LastAuthenticated\": \"2024-01-02T03:04:05Z\", \"LastAuthenticatedEntity\": \"arn:aws:iam::123456789012:role/ci\"}]}";
        let (_dir, path) = temp_file("ci.json", text);
        let s = read(&[path], "aws").unwrap();
        assert_eq!((s.identities[0].display_name.as_str(), s.identities[0].kind), ("ci", IdentityKind::ServiceAccount));
    }

    #[test]
    fn the_other_access_advisor_documents_are_refused_saying_what_was_expected() {
        let err = read(&[sample("aws-access-advisor/botocore_GetOrganizationsAccessReport.json")], "aws").unwrap_err().to_string();
        assert!(err.contains("field `AccessDetails`: this is aws iam get-organizations-access-report output"), "{err}");
        let err =
            read(&[sample("aws-access-advisor/botocore_GetServiceLastAccessedDetailsWithEntities.json")], "aws").unwrap_err().to_string();
        assert!(err.contains("field `EntityDetailsList`: this is aws iam get-service-last-accessed-details-with-entities output"), "{err}");
        let err = read(&[sample("aws-access-advisor/aws-cli_get-service-last-accessed-details-with-entities.json")], "aws")
            .unwrap_err()
            .to_string();
        assert!(err.contains("with-entities output"), "{err}");
    }

    #[test]
    fn the_elided_documentation_outputs_are_refused_as_invalid_json() {
        for name in ["aws-cli_get-service-last-accessed-details.elided.txt", "aws-cli_get-organizations-access-report.elided.txt"] {
            let err = read(&[sample(&format!("aws-access-advisor/{name}"))], "aws").unwrap_err().to_string();
            assert!(err.contains(&format!("{name} line")) && err.contains("not valid JSON"), "{err}");
            assert!(err.contains(EXPECTED), "{err}");
        }
    }

    #[test]
    fn a_job_not_completed_is_refused() {
        let (_dir, path) = temp_file("alice.json", b"{\"JobStatus\": \"IN_PROGRESS\", \"JobCreationDate\": \"2024-01-01T00:00:00Z\"}");
        let err = read(&[path], "aws").unwrap_err().to_string();
        assert!(err.contains("alice.json, field `JobStatus`: the report's job is IN_PROGRESS, not COMPLETED"), "{err}");
    }

    #[test]
    fn a_report_for_a_group_is_refused() {
        let text = b"{\"JobStatus\": \"COMPLETED\", \"ServicesLastAccessed\": [\
            {\"ServiceNamespace\": \"s3\", \"LastAuthenticated\": \"2024-01-02T03:04:05Z\", \"LastAuthenticatedEntity\": \"arn:aws:iam::123456789012:user/a\"},\
            {\"ServiceNamespace\": \"ec2\", \"LastAuthenticated\": \"2024-01-02T03:04:05Z\", \"LastAuthenticatedEntity\": \"arn:aws:iam::123456789012:user/b\"}]}";
        let (_dir, path) = temp_file("admins.json", text);
        let err = read(&[path], "aws").unwrap_err().to_string();
        assert!(err.contains("made for a group or a policy"), "{err}");
    }
}
