//! GitHub fine-grained personal access tokens of an organisation
//! (`GET /orgs/{org}/personal-access-tokens`, one JSON array per page). Each token is a `token`
//! identity owned by its user (who is an identity too, named by login); each permission is a
//! grant on the application named after the source, with the privilege GitHub gives it
//! (read, write, admin), the token's expiry and its last use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Builder, Format, When, identity, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::imports::server::BadInput;
use crate::imports::server::model::Snapshot;

const EXPECTED: &str = "a JSON array of fine-grained personal access tokens from GET /orgs/{org}/personal-access-tokens";

#[derive(Debug, Deserialize)]
struct Token {
    id: u64,
    owner: Owner,
    #[serde(default)]
    repository_selection: Option<String>,
    #[serde(default)]
    permissions: BTreeMap<String, BTreeMap<String, Level>>,
    #[serde(default)]
    access_granted_at: When,
    #[serde(default)]
    token_expired: Option<bool>,
    #[serde(default)]
    token_expires_at: When,
    #[serde(default)]
    token_last_used_at: When,
    #[serde(default)]
    token_id: Option<u64>,
    #[serde(default)]
    token_name: Option<String>,
    /// Only requests carry a reason; they are not access yet.
    #[serde(default, rename = "reason")]
    _reason: Option<serde_json::Value>,
    #[serde(default)]
    created_at: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Owner {
    login: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    fn privilege(self) -> Privilege {
        match self {
            Level::Read => Privilege::Read,
            Level::Write => Privilege::Write,
            Level::Admin => Privilege::Admin,
        }
    }
}

/// Reads token lists into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::GithubPats);
    let app = b.application(source, source, Criticality::Medium);
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let tokens: Vec<Token> = parse_json(&file, &bytes, EXPECTED)?;
        for (i, token) in tokens.into_iter().enumerate() {
            if token.access_granted_at.0.is_none() && token.created_at.is_some() {
                return Err(refuse(
                    &file,
                    format!("[{i}]"),
                    format!(
                        "a pending token request (GET /orgs/{{org}}/personal-access-token-requests), not a granted token (expected {EXPECTED})"
                    ),
                ));
            }
            let login = token.owner.login.trim();
            if login.is_empty() {
                return Err(refuse(&file, format!("[{i}].owner.login"), "must not be empty"));
            }
            let kind = if token.owner.kind.as_deref() == Some("Bot") { IdentityKind::Bot } else { IdentityKind::Human };
            b.identity(identity(login, kind, login));

            let id = format!("github-pat:{}", token.token_id.unwrap_or(token.id));
            let name = match token.token_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) => format!("{name} ({login})"),
                None => format!("fine-grained token {} of {login}", token.id),
            };
            let mut record = identity(&id, IdentityKind::Token, &name);
            record.owner = Some(login.to_string());
            record.created_at = token.access_granted_at.0;
            record.credential_rotated_at = token.access_granted_at.0;
            record.last_active_at = token.token_last_used_at.0;
            record.expires_at = token.token_expires_at.0;
            record.status = if token.token_expired == Some(true) { IdentityStatus::Disabled } else { IdentityStatus::Active };
            record.purpose = token.repository_selection.as_deref().map(|s| format!("repositories: {s}"));
            let index = b.identity(record);
            for (scope, permissions) in &token.permissions {
                let prefix = match scope.as_str() {
                    "organization" => "org",
                    "repository" => "repo",
                    other => other,
                };
                for (permission, level) in permissions {
                    let entitlement = b.entitlement(app, &format!("{prefix}:{permission}:{}", level_name(*level)), Some(level.privilege()));
                    b.grant(index, entitlement, token.access_granted_at.0, token.token_last_used_at.0, None);
                }
            }
        }
    }
    Ok(b.finish())
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Read => "read",
        Level::Write => "write",
        Level::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::imports::server::dates::parse_timestamp;

    #[test]
    fn a_token_is_owned_by_its_user_and_its_permissions_are_grants() {
        let s = read(&[sample("github-pat/go-github_list_fine_grained_pats.json")], "github").unwrap();
        assert_eq!(s.identities.len(), 2);
        let (user, token) = (&s.identities[0], &s.identities[1]);
        assert_eq!((user.external_id.as_str(), user.kind), ("octocat", IdentityKind::Human));
        assert_eq!((token.external_id.as_str(), token.kind), ("github-pat:25381", IdentityKind::Token));
        assert_eq!(token.owner.as_deref(), Some("octocat"));
        assert_eq!(token.expires_at, parse_timestamp("2023-11-16T15:47:09Z").ok());
        assert_eq!(token.last_active_at, None);
        let names: Vec<(&str, Option<Privilege>)> = s.entitlements.iter().map(|e| (e.name.as_str(), e.privilege)).collect();
        assert_eq!(names, [("org:members:read", Some(Privilege::Read)), ("repo:metadata:read", Some(Privilege::Read))]);
        assert_eq!(s.grants.len(), 2);
        assert!(s.grants.iter().all(|g| g.identity == 1 && g.granted_at == parse_timestamp("2023-05-16T15:47:09Z").ok()));
    }

    #[test]
    fn pending_requests_are_refused_as_not_yet_access() {
        let err = read(&[sample("github-pat/go-github_list_fine_grained_pat_requests.json")], "github").unwrap_err().to_string();
        assert!(err.contains("field `[0]`: a pending token request"), "{err}");
    }

    #[test]
    fn an_unknown_permission_level_is_named_by_line_and_field() {
        let text = std::fs::read_to_string(sample("github-pat/go-github_list_fine_grained_pats.json"))
            .unwrap()
            .replace("\"members\": \"read\"", "\"members\": \"owner\"");
        let (_dir, path) = temp_file("pats.json", text.as_bytes());
        let err = read(&[path], "github").unwrap_err().to_string();
        assert!(err.contains("pats.json line 28, field `[0].permissions.organization.members`: unknown variant `owner`"), "{err}");
    }

    #[test]
    fn an_object_instead_of_a_list_is_refused() {
        let (_dir, path) = temp_file("pats.json", b"{\"message\": \"Not Found\"}");
        let err = read(&[path], "github").unwrap_err().to_string();
        assert!(err.contains("pats.json line 1: invalid type: map, expected a sequence (expected a JSON array"), "{err}");
    }
}
