//! IAM `GetAccountAuthorizationDetails` (`aws iam get-account-authorization-details`, one JSON
//! page per file). Users and roles are identities (a role assumed by an AWS service is a
//! workload, by anyone else a service account; users are humans, as nothing here says
//! otherwise); each policy attached to them, or to a group they are in, is a grant on the
//! account. Privilege comes from the policy document when the file has it: `"Action": "*"` is
//! admin, actions that only read (`Get*`, `List*`, `Describe*`) are read, anything else write.
//! AWS-managed policies without a document are judged by name (`AdministratorAccess` is admin).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Builder, Format, OneOrMany, When, identity, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind, Privilege};
use crate::imports::server::BadInput;
use crate::imports::server::model::Snapshot;

const EXPECTED: &str = "the output of aws iam get-account-authorization-details";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "PascalCase")]
struct Details {
    #[serde(default)]
    user_detail_list: Vec<User>,
    #[serde(default)]
    group_detail_list: Vec<Group>,
    #[serde(default)]
    role_detail_list: Vec<Role>,
    #[serde(default)]
    policies: Vec<Policy>,
    #[serde(default)]
    is_truncated: Option<bool>,
    #[serde(default)]
    marker: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    user_name: String,
    arn: String,
    #[serde(default)]
    create_date: When,
    #[serde(default)]
    group_list: Vec<String>,
    #[serde(default)]
    user_policy_list: OneOrMany<Inline>,
    #[serde(default)]
    attached_managed_policies: OneOrMany<Attached>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Group {
    group_name: String,
    #[serde(default)]
    group_policy_list: OneOrMany<Inline>,
    #[serde(default)]
    attached_managed_policies: OneOrMany<Attached>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Role {
    role_name: String,
    arn: String,
    #[serde(default)]
    create_date: When,
    #[serde(default)]
    assume_role_policy_document: Option<Document>,
    #[serde(default)]
    role_policy_list: OneOrMany<Inline>,
    #[serde(default)]
    attached_managed_policies: OneOrMany<Attached>,
    #[serde(default)]
    role_last_used: Option<LastUsed>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LastUsed {
    #[serde(default)]
    last_used_date: When,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inline {
    policy_name: String,
    #[serde(default)]
    policy_document: Option<Document>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attached {
    policy_name: String,
    policy_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policy {
    arn: String,
    #[serde(default)]
    policy_version_list: Vec<Version>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Version {
    #[serde(default)]
    document: Option<Document>,
    #[serde(default)]
    is_default_version: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    #[serde(default)]
    statement: OneOrMany<Statement>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    #[serde(default)]
    effect: String,
    #[serde(default)]
    action: OneOrMany<String>,
    #[serde(default)]
    principal: Option<serde_json::Value>,
}

/// The most a document allows; `None` when it allows nothing (only denies).
fn privilege_of(document: &Document) -> Option<Privilege> {
    let mut best: Option<Privilege> = None;
    for statement in document.statement.0.iter().filter(|s| s.effect.eq_ignore_ascii_case("allow")) {
        for action in &statement.action.0 {
            let action = action.trim();
            let level = if action == "*" || action == "*:*" {
                Privilege::Admin
            } else {
                let verb = action.rsplit(':').next().unwrap_or(action);
                let reads = ["Get", "List", "Describe", "View", "Read", "BatchGet", "Search", "Query"];
                if reads.iter().any(|r| verb.starts_with(r)) { Privilege::Read } else { Privilege::Write }
            };
            if best.is_none_or(|b| level.rank() > b.rank()) {
                best = Some(level);
            }
        }
    }
    best
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads authorization-details pages into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::AwsAuthorizationDetails);
    let mut pages = Vec::new();
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let page: Details = parse_json(&file, &bytes, EXPECTED)?;
        if page.user_detail_list.is_empty()
            && page.group_detail_list.is_empty()
            && page.role_detail_list.is_empty()
            && page.policies.is_empty()
        {
            return Err(refuse(&file, "UserDetailList", format!("no users, groups, roles or policies (expected {EXPECTED})")));
        }
        pages.push(page);
    }
    // Documents of managed policies, by ARN (only the default version grants anything).
    let mut documents: HashMap<String, Option<Privilege>> = HashMap::new();
    let mut groups: HashMap<String, Vec<(String, Option<Privilege>)>> = HashMap::new();
    let mut truncated = false;
    for page in &pages {
        truncated |= page.is_truncated == Some(true) && (page.marker.is_some() || page.next_token.is_some());
        for policy in &page.policies {
            if let Some(document) = policy.policy_version_list.iter().find(|v| v.is_default_version).and_then(|v| v.document.as_ref()) {
                documents.insert(policy.arn.clone(), privilege_of(document));
            }
        }
    }
    let attached = |list: &OneOrMany<Attached>| -> Vec<(String, Option<Privilege>)> {
        list.0
            .iter()
            .map(|a| {
                let privilege = match documents.get(&a.policy_arn) {
                    Some(p) => *p,
                    None if a.policy_name == "AdministratorAccess" => Some(Privilege::Admin),
                    None => None,
                };
                (a.policy_name.clone(), privilege)
            })
            .collect()
    };
    let inline = |list: &OneOrMany<Inline>| -> Vec<(String, Option<Privilege>)> {
        list.0
            .iter()
            .filter_map(|p| {
                let privilege = p.policy_document.as_ref().map(privilege_of);
                // A policy that only denies grants nothing.
                match privilege {
                    Some(None) => None,
                    Some(level) => Some((format!("inline:{}", p.policy_name), level)),
                    None => Some((format!("inline:{}", p.policy_name), None)),
                }
            })
            .collect()
    };
    for page in &pages {
        for group in &page.group_detail_list {
            let mut policies = attached(&group.attached_managed_policies);
            policies.extend(inline(&group.group_policy_list).into_iter().map(|(n, p)| (format!("{n} (group {})", group.group_name), p)));
            groups.insert(group.group_name.clone(), policies);
        }
    }
    let mut denied = 0usize;
    for page in &pages {
        for user in &page.user_detail_list {
            let app = application(&mut b, &user.arn);
            let mut record = identity(&user.arn, IdentityKind::Human, &user.user_name);
            record.created_at = user.create_date.0;
            let index = b.identity(record);
            denied += user.user_policy_list.0.len() - inline(&user.user_policy_list).len();
            for (policy, privilege) in attached(&user.attached_managed_policies).into_iter().chain(inline(&user.user_policy_list)) {
                let entitlement = b.entitlement(app, &policy, privilege);
                b.grant(index, entitlement, None, None, None);
            }
            for group in &user.group_list {
                for (policy, privilege) in groups.get(group).cloned().unwrap_or_default() {
                    let entitlement = b.entitlement(app, &policy, privilege);
                    b.grant(index, entitlement, None, None, Some(&format!("group {group}")));
                }
            }
        }
        for role in &page.role_detail_list {
            let app = application(&mut b, &role.arn);
            let by_service = role
                .assume_role_policy_document
                .as_ref()
                .is_some_and(|d| d.statement.0.iter().any(|s| s.principal.as_ref().is_some_and(|p| p.get("Service").is_some())));
            let kind = if by_service { IdentityKind::Workload } else { IdentityKind::ServiceAccount };
            let mut record = identity(&role.arn, kind, &role.role_name);
            record.created_at = role.create_date.0;
            let last_used = role.role_last_used.as_ref().and_then(|r| r.last_used_date.0);
            record.last_active_at = last_used;
            let index = b.identity(record);
            for (policy, privilege) in attached(&role.attached_managed_policies).into_iter().chain(inline(&role.role_policy_list)) {
                let entitlement = b.entitlement(app, &policy, privilege);
                b.grant(index, entitlement, None, last_used, None);
            }
        }
    }
    if denied > 0 {
        b.warn(format!("{denied} inline policies that only deny were not counted as grants"));
    }
    if truncated {
        b.warn("a page says more follows (IsTruncated with a Marker): import every page together, or grants will be ended");
    }
    Ok(b.finish())
}

fn application(b: &mut Builder, arn: &str) -> u32 {
    match account_of(arn) {
        Some(account) => b.application(&format!("aws:{account}"), &format!("AWS account {account}"), Criticality::Medium),
        None => {
            let source = b.source().to_string();
            b.application(&format!("aws:{source}"), &format!("AWS ({source})"), Criticality::Medium)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;

    #[test]
    fn users_get_their_groups_policies_and_admin_is_recognised() {
        let s = read(&[sample("aws-iam-authorization-details/aws-cli_get-account-authorization-details.json")], "aws-iam").unwrap();
        let kinds: Vec<(&str, IdentityKind)> = s.identities.iter().map(|i| (i.display_name.as_str(), i.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("Alice", IdentityKind::Human),
                ("Bob", IdentityKind::Human),
                ("Charlie", IdentityKind::Human),
                ("EC2role", IdentityKind::Workload)
            ]
        );
        let grants: Vec<(&str, &str, Option<Privilege>)> = s
            .grants
            .iter()
            .map(|g| {
                let e = &s.entitlements[g.entitlement as usize];
                (s.identities[g.identity as usize].display_name.as_str(), e.name.as_str(), e.privilege)
            })
            .collect();
        assert_eq!(
            grants,
            [
                ("Alice", "AdministratorAccess", Some(Privilege::Admin)),
                ("Bob", "AdministratorAccess", Some(Privilege::Admin)),
                ("Charlie", "PowerUserAccess", None),
                ("EC2role", "AmazonS3FullAccess", None),
                ("EC2role", "AmazonDynamoDBFullAccess", None),
            ]
        );
        assert_eq!(s.entitlements[1].privilege().0, Privilege::Admin, "PowerUserAccess reads as admin by name");
        assert!(s.warnings.iter().any(|w| w.contains("only deny")), "{:?}", s.warnings);
        assert!(s.warnings.iter().any(|w| w.contains("IsTruncated")), "{:?}", s.warnings);
        assert_eq!(s.identities[3].last_active_at, crate::imports::server::dates::parse_timestamp("2019-11-13T17:30:00Z").ok());
    }

    #[test]
    fn a_star_action_is_admin_and_reads_are_read() {
        let doc = |actions: &str| -> Document {
            serde_json::from_str(&format!("{{\"Statement\": {{\"Effect\": \"Allow\", \"Action\": {actions}}}}}")).unwrap()
        };
        assert_eq!(privilege_of(&doc("\"*\"")), Some(Privilege::Admin));
        assert_eq!(privilege_of(&doc("[\"s3:Get*\", \"s3:List*\"]")), Some(Privilege::Read));
        assert_eq!(privilege_of(&doc("[\"s3:Get*\", \"s3:PutObject\"]")), Some(Privilege::Write));
        let deny: Document = serde_json::from_str("{\"Statement\": [{\"Effect\": \"Deny\", \"Action\": \"*\"}]}").unwrap();
        assert_eq!(privilege_of(&deny), None);
    }

    #[test]
    fn another_aws_output_is_refused_naming_its_field() {
        let err = read(&[sample("aws-access-advisor/botocore_GetServiceLastAccessedDetails.json")], "aws").unwrap_err().to_string();
        assert!(err.contains("line 2, field `IsTruncated`") || err.contains("unknown field"), "{err}");
        let (_dir, path) = temp_file("x.json", b"{\"UserDetailList\": [{\"UserName\": \"a\"}]}");
        let err = read(&[path], "aws").unwrap_err().to_string();
        assert!(err.contains("x.json line 1, field `UserDetailList[0]`: missing field `Arn`"), "{err}");
    }
}
