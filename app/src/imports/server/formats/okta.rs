//! Okta Management API lists, one JSON array (or a single object) per file, told apart by shape:
//! users (`GET /api/v1/users`: status, lastLogin, profile), app users
//! (`GET /api/v1/apps/{id}/users`: a grant on that app, with the user embedded), admin role
//! assignments (`GET /api/v1/users/{id}/roles`, or the IAM role lists: admin grants on the
//! source) and OAuth scope grants of an app (`GET /api/v1/apps/{id}/grants`: the app's client
//! is a service account holding each scope). Lists that do not say whose they are (a user's
//! groups, an app's group assignments) are skipped with a warning.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Builder, Format, When, identity, is_array, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::imports::server::BadInput;
use crate::imports::server::model::{IdentityRecord, Snapshot};

const EXPECTED: &str = "Okta users, app users, role assignments or app grants as returned by the Management API";

/// Any Okta object; which one it is comes from the fields it has.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Object {
    id: Option<String>,
    status: Option<String>,
    created: When,
    #[serde(rename = "lastLogin")]
    last_login: When,
    #[serde(rename = "passwordChanged")]
    password_changed: When,
    profile: Option<serde_json::Value>,
    credentials: Option<serde_json::Value>,
    scope: Option<String>,
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    label: Option<String>,
    #[serde(rename = "assignmentType")]
    assignment_type: Option<String>,
    #[serde(rename = "scopeId")]
    scope_id: Option<String>,
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    priority: Option<serde_json::Value>,
    #[serde(rename = "_links")]
    links: Option<serde_json::Value>,
    #[serde(rename = "_embedded")]
    embedded: Option<Embedded>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Embedded {
    user: Option<Box<Object>>,
}

fn text<'a>(value: Option<&'a serde_json::Value>, key: &str) -> Option<&'a str> {
    value?.get(key)?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The last path segment of `_links.<name>.href`, e.g. an app's or a user's id.
fn link_id(links: Option<&serde_json::Value>, name: &str) -> Option<String> {
    let href = links?.get(name)?.get("href")?.as_str()?;
    let id = href.trim_end_matches('/').rsplit('/').next()?;
    (!id.is_empty() && !id.contains('{')).then(|| id.to_string())
}

fn link_kind(links: Option<&serde_json::Value>, name: &str) -> Option<String> {
    let href = links?.get(name)?.get("href")?.as_str()?;
    let mut parts = href.trim_end_matches('/').rsplit('/');
    parts.next()?;
    parts.next().map(str::to_string)
}

/// Okta's user statuses: who can sign in now, who is suspended, who is gone.
fn status(file: &str, at: &str, status: Option<&str>) -> Result<IdentityStatus, BadInput> {
    match status.unwrap_or("ACTIVE") {
        "ACTIVE" | "PROVISIONED" | "RECOVERY" | "PASSWORD_EXPIRED" | "LOCKED_OUT" => Ok(IdentityStatus::Active),
        "STAGED" | "SUSPENDED" => Ok(IdentityStatus::Disabled),
        "DEPROVISIONED" => Ok(IdentityStatus::Terminated),
        other => Err(refuse(
            file,
            format!("{at}.status"),
            format!(
                "unknown user status `{other}` (expected ACTIVE, STAGED, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED or DEPROVISIONED)"
            ),
        )),
    }
}

fn user_record(file: &str, at: &str, user: &Object) -> Result<IdentityRecord, BadInput> {
    let Some(id) = user.id.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Err(refuse(file, format!("{at}.id"), "a user without an id"));
    };
    let profile = user.profile.as_ref();
    let login = text(profile, "login");
    let display_name = text(profile, "displayName")
        .map(str::to_string)
        .or_else(|| {
            let full =
                format!("{} {}", text(profile, "firstName").unwrap_or(""), text(profile, "lastName").unwrap_or("")).trim().to_string();
            (!full.is_empty()).then_some(full)
        })
        .or(login.map(str::to_string))
        .unwrap_or_else(|| id.to_string());
    let mut record = identity(id, IdentityKind::Human, &display_name);
    record.email = text(profile, "email").or(login.filter(|l| l.contains('@'))).map(str::to_string);
    record.department = text(profile, "department").map(str::to_string);
    record.manager = text(profile, "managerId").map(str::to_string);
    record.status = status(file, at, user.status.as_deref())?;
    record.created_at = user.created.0;
    record.last_active_at = user.last_login.0;
    record.credential_rotated_at = user.password_changed.0;
    Ok(record)
}

/// Reads Okta lists into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::Okta);
    let mut skipped: HashMap<&'static str, usize> = HashMap::new();
    // Role grants whose user is not in the files: the user is added with its id only.
    let mut unnamed: Vec<String> = Vec::new();
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let (objects, single) = if is_array(&bytes) {
            (parse_json::<Vec<Object>>(&file, &bytes, EXPECTED)?, false)
        } else {
            (vec![parse_json::<Object>(&file, &bytes, EXPECTED)?], true)
        };
        if single && objects.first().is_some_and(|o| o.id.is_none()) {
            return Err(refuse(&file, "id", format!("an object without an id (expected {EXPECTED})")));
        }
        for (i, object) in objects.iter().enumerate() {
            let at = if single { String::new() } else { format!("[{i}]") };
            let links = object.links.as_ref();
            let profile = object.profile.as_ref();
            if object.scope.is_some() && link_id(links, "app").is_some() {
                // An app user: the assignment of one user to one app.
                let app_id = link_id(links, "app").unwrap_or_default();
                let app = b.application(&format!("okta-app:{app_id}"), &format!("Okta app {app_id}"), Criticality::Medium);
                let user = match object.embedded.as_ref().and_then(|e| e.user.as_deref()) {
                    Some(user) => user_record(&file, &format!("{at}._embedded.user"), user)?,
                    None => {
                        let Some(id) = object.id.as_deref() else {
                            return Err(refuse(&file, format!("{at}.id"), "an app user without an id"));
                        };
                        let name = text(profile, "displayName").or(text(object.credentials.as_ref(), "userName")).unwrap_or(id);
                        let mut record = identity(id, IdentityKind::Human, name);
                        record.email = text(profile, "email").map(str::to_string);
                        record
                    }
                };
                let index = b.identity(user);
                let role = text(profile, "role").map(|r| format!("role:{r}")).unwrap_or_else(|| "assigned".to_string());
                let entitlement = b.entitlement(app, &role, None);
                b.grant(
                    index,
                    entitlement,
                    object.created.0,
                    None,
                    object.scope.as_deref().filter(|s| *s == "GROUP").map(|_| "an Okta group"),
                );
            } else if object.label.is_some() && object.assignment_type.is_some() {
                // An admin role assignment.
                let app = b.application(source, source, Criticality::High);
                let role = object.kind.as_ref().and_then(|k| k.as_str()).unwrap_or("CUSTOM");
                let label = object.label.as_deref().unwrap_or(role);
                let name = if role == "CUSTOM" { format!("custom role: {label}") } else { format!("{label} ({role})") };
                let privilege = if role == "CUSTOM" { None } else { Some(Privilege::Admin) };
                let entitlement = b.entitlement(app, &name, privilege);
                let assignee = link_id(links, "assignee");
                match (object.assignment_type.as_deref(), assignee, link_kind(links, "assignee").as_deref()) {
                    (Some("USER"), Some(user), _) | (_, Some(user), Some("users")) => {
                        let index = match b.identity_index(&user) {
                            Some(index) => index,
                            None => {
                                unnamed.push(user.clone());
                                b.identity(identity(&user, IdentityKind::Human, &user))
                            }
                        };
                        b.grant(index, entitlement, object.created.0, None, None);
                    }
                    (Some("GROUP"), _, _) => *skipped.entry("role assignments to groups").or_default() += 1,
                    _ => *skipped.entry("role assignments without an assignee link").or_default() += 1,
                }
            } else if object.scope_id.is_some() && object.client_id.is_some() {
                // An OAuth scope granted to an app's client: a machine holding API access.
                let client = object.client_id.as_deref().unwrap_or_default();
                let app = b.application(source, source, Criticality::High);
                let title = links.and_then(|l| l.get("client")).and_then(|c| c.get("title")).and_then(|t| t.as_str());
                let mut record = identity(&format!("okta-client:{client}"), IdentityKind::ServiceAccount, title.unwrap_or(client));
                record.purpose = Some("OAuth client of an Okta app".into());
                let index = b.identity(record);
                let scope = object.scope_id.as_deref().unwrap_or_default();
                let entitlement = b.entitlement(app, scope, None);
                let active = object.status.as_deref().is_none_or(|s| s == "ACTIVE");
                if active {
                    b.grant(index, entitlement, object.created.0, None, None);
                }
            } else if object.priority.is_some() && link_id(links, "group").is_some() {
                *skipped.entry("app-to-group assignments (they name no user)").or_default() += 1;
            } else if text(profile, "login").is_some() || (object.status.is_some() && object.credentials.is_some()) {
                let record = user_record(&file, &at, object)?;
                b.identity(record);
            } else if text(profile, "name").is_some() && object.status.is_none() {
                *skipped.entry("groups listed without their members").or_default() += 1;
            } else {
                let field = if at.is_empty() { "id".to_string() } else { at.clone() };
                return Err(refuse(
                    &file,
                    field,
                    format!("not an Okta user, app user, role assignment or app grant (expected {EXPECTED})"),
                ));
            }
        }
    }
    let mut skipped: Vec<_> = skipped.into_iter().collect();
    skipped.sort();
    for (what, count) in skipped {
        b.warn(format!("{count} {what} skipped"));
    }
    if !unnamed.is_empty() {
        b.warn(format!("{} users hold admin roles but are not in the user lists read; they are named by their id", unnamed.len()));
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::imports::server::dates::parse_timestamp;

    fn okta(names: &[&str]) -> Result<Snapshot, BadInput> {
        let paths: Vec<PathBuf> = names.iter().map(|n| sample(&format!("okta/okta-management-openapi-spec_{n}.json"))).collect();
        read(&paths, "okta")
    }

    #[test]
    fn users_carry_status_and_last_login() {
        let s = okta(&["ListUsersResponse", "ListUsersQResponse", "ListUsersSearchResponse", "ListUsersFilterResponse", "user-example"])
            .unwrap();
        assert_eq!(s.identities.len(), 7, "the locked-out user appears in two lists and is one identity");
        let alice = &s.identities[0];
        assert_eq!((alice.display_name.as_str(), alice.email.as_deref()), ("Alice Smith", Some("alice.smith@example.com")));
        assert_eq!(alice.last_active_at, parse_timestamp("2022-05-04T19:50:52Z").ok());
        let status = |id: &str| s.identities.iter().find(|i| i.external_id == id).map(|i| i.status);
        assert_eq!(status("00u3m5wrdPjJYUFb81d6"), Some(IdentityStatus::Active), "locked out is still an account");
        assert_eq!(status("00u1xke1apZnmHgpB1d7"), Some(IdentityStatus::Disabled), "staged");
        let isaac = s.identities.iter().find(|i| i.external_id == "00ub0oNGTSWTBKOLGLNR").unwrap();
        assert_eq!(isaac.department.as_deref(), Some("Engineering"));
        assert!(s.grants.is_empty());
    }

    #[test]
    fn app_users_roles_and_scopes_are_grants() {
        let s = okta(&[
            "AppUserListEx",
            "StandardAndCustomRolesListResponse",
            "ListAppGrantsEx",
            "ListUserGroups",
            "GroupAssignmentExListResponse",
        ])
        .unwrap();
        let grants: Vec<(&str, &str)> = s
            .grants
            .iter()
            .map(|g| (s.identities[g.identity as usize].external_id.as_str(), s.entitlements[g.entitlement as usize].name.as_str()))
            .collect();
        assert_eq!(
            grants,
            [
                ("00u1dnq5S0CfjlkpABCD", "role:Tester"),
                ("00ur32Vg0fvpyHZeQ0g3", "Application administrator (APP_ADMIN)"),
                ("00ur32Vg0fvpyHZeQ0g3", "Help Desk administrator (HELP_DESK_ADMIN)"),
                ("00ur32Vg0fvpyHZeQ0g3", "Organization administrator (ORG_ADMIN)"),
                ("okta-client:{clientId}", "okta.users.read"),
                ("okta-client:{clientId}", "okta.apps.manage"),
            ]
        );
        assert_eq!(s.identities[2].kind, IdentityKind::ServiceAccount);
        assert_eq!(s.applications[0].name, "Okta app 0oajiqIRNXPPJBNZMGYL");
        assert_eq!(
            s.warnings,
            [
                "1 app-to-group assignments (they name no user) skipped",
                "2 groups listed without their members skipped",
                "2 role assignments to groups skipped",
                "1 role assignments without an assignee link skipped",
                "1 users hold admin roles but are not in the user lists read; they are named by their id",
            ]
        );
    }

    #[test]
    fn something_else_is_refused_naming_the_item() {
        let (_dir, path) = temp_file("x.json", b"[{\"id\": \"1\", \"name\": \"not okta\"}]");
        let err = read(&[path], "okta").unwrap_err().to_string();
        assert!(err.contains("x.json, field `[0]`: not an Okta user"), "{err}");
        let (_dir, path) =
            temp_file("y.json", b"[{\"id\": \"1\", \"status\": \"ACTIVE\", \"profile\": {\"login\": \"a\"}, \"created\": \"last week\"}]");
        let err = read(&[path], "okta").unwrap_err().to_string();
        assert!(err.contains("y.json line 1, field `[0].created`: `last week` is not a date"), "{err}");
    }
}
