//! Microsoft Entra ID through Microsoft Graph: `GET /users?$select=…,signInActivity`,
//! `GET /servicePrincipals` and `GET /reports/servicePrincipalSignInActivities` (beta), each a
//! collection (`{"value": [...]}`) or a plain array of pages' items. Users are humans with their
//! last sign-in; service principals are service accounts (managed identities are workloads)
//! with their credentials' dates; the sign-in report gives service principals their last use.
//! Group and directory-role memberships (`$expand=memberOf`) become grants on the source.
//! `0001-01-01T00:00:00Z`, Graph's "never", is no date.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Builder, Format, When, identity, is_array, latest, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use crate::imports::server::BadInput;
use crate::imports::server::model::Snapshot;

const EXPECTED: &str = "a Microsoft Graph collection of users, servicePrincipals or servicePrincipalSignInActivities";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Collection {
    #[serde(rename = "@odata.context")]
    context: Option<String>,
    value: Option<Vec<Item>>,
    error: Option<serde_json::Value>,
}

/// A user, a service principal or a sign-in activity record: told apart by their fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Item {
    id: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "userPrincipalName")]
    user_principal_name: Option<String>,
    mail: Option<String>,
    department: Option<String>,
    #[serde(rename = "accountEnabled")]
    account_enabled: Option<bool>,
    #[serde(rename = "createdDateTime")]
    created: When,
    #[serde(rename = "signInActivity")]
    sign_in_activity: Option<SignIns>,
    manager: Option<Reference>,
    #[serde(rename = "memberOf")]
    member_of: Option<Vec<Reference>>,
    // Service principals.
    #[serde(rename = "appId")]
    app_id: Option<String>,
    #[serde(rename = "appDisplayName")]
    app_display_name: Option<String>,
    #[serde(rename = "servicePrincipalType")]
    service_principal_type: Option<String>,
    #[serde(rename = "servicePrincipalNames")]
    service_principal_names: Option<Vec<String>>,
    #[serde(rename = "publisherName")]
    publisher_name: Option<String>,
    #[serde(rename = "passwordCredentials")]
    password_credentials: Option<Vec<Credential>>,
    #[serde(rename = "keyCredentials")]
    key_credentials: Option<Vec<Credential>>,
    owners: Option<Vec<Reference>>,
    // Sign-in activity report.
    #[serde(rename = "lastSignInActivity")]
    last_sign_in_activity: Option<SignIn>,
    #[serde(rename = "delegatedClientSignInActivity")]
    delegated_client: Option<SignIn>,
    #[serde(rename = "applicationAuthenticationClientSignInActivity")]
    application_client: Option<SignIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignIns {
    #[serde(rename = "lastSignInDateTime")]
    last: When,
    #[serde(rename = "lastNonInteractiveSignInDateTime")]
    last_non_interactive: When,
    #[serde(rename = "lastSuccessfulSignInDateTime")]
    last_successful: When,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignIn {
    #[serde(rename = "lastSignInDateTime")]
    last: When,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Reference {
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    id: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "userPrincipalName")]
    user_principal_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Credential {
    #[serde(rename = "startDateTime")]
    start: When,
    #[serde(rename = "endDateTime")]
    end: When,
}

/// Graph writes "never" as the year 1.
fn real(when: When) -> Option<i64> {
    when.0.filter(|&t| t > 0)
}

/// Reads Graph exports into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::Entra);
    // Sign-in activity by appId, applied once every file is read.
    let mut activity: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut by_app_id: BTreeMap<String, u32> = BTreeMap::new();
    let mut without_id = 0usize;
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let items = if is_array(&bytes) {
            parse_json::<Vec<Item>>(&file, &bytes, EXPECTED)?
        } else {
            let c: Collection = parse_json(&file, &bytes, EXPECTED)?;
            if let Some(error) = c.error {
                let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("no message");
                return Err(refuse(&file, "error", format!("a Graph error response ({message}), not a collection (expected {EXPECTED})")));
            }
            match c.value {
                Some(items) => items,
                None => {
                    let what = c.context.map(|c| format!(" ({c})")).unwrap_or_default();
                    return Err(refuse(&file, "value", format!("a single object{what}, not a collection (expected {EXPECTED})")));
                }
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let at = format!("value[{i}]");
            if item.last_sign_in_activity.is_some() || item.delegated_client.is_some() || item.application_client.is_some() {
                let Some(app_id) = item.app_id.clone() else {
                    return Err(refuse(&file, format!("{at}.appId"), "a sign-in activity record without an appId"));
                };
                let last = [&item.last_sign_in_activity, &item.delegated_client, &item.application_client]
                    .into_iter()
                    .flatten()
                    .fold(None, |acc, s| latest(acc, real(s.last)));
                let entry = activity.entry(app_id).or_insert(None);
                *entry = latest(*entry, last);
            } else if item.app_id.is_some() || item.service_principal_names.is_some() || item.service_principal_type.is_some() {
                let Some(id) = item.id.clone() else {
                    return Err(refuse(&file, format!("{at}.id"), "a service principal without an id"));
                };
                let kind = match item.service_principal_type.as_deref() {
                    Some("ManagedIdentity") => IdentityKind::Workload,
                    _ => IdentityKind::ServiceAccount,
                };
                let name = item.display_name.clone().or(item.app_display_name.clone()).unwrap_or_else(|| id.clone());
                let mut record = identity(&id, kind, &name);
                record.status = if item.account_enabled == Some(false) { IdentityStatus::Disabled } else { IdentityStatus::Active };
                record.created_at = real(item.created);
                record.purpose = match (&item.app_display_name, &item.publisher_name) {
                    (Some(app), Some(publisher)) => Some(format!("{app} (published by {publisher})")),
                    (Some(app), None) => Some(app.clone()),
                    (None, Some(publisher)) => Some(format!("published by {publisher}")),
                    (None, None) => None,
                };
                let credentials = item.password_credentials.iter().chain(item.key_credentials.iter()).flatten();
                for credential in credentials {
                    record.credential_rotated_at = latest(record.credential_rotated_at, real(credential.start));
                    record.expires_at = latest(record.expires_at, real(credential.end));
                }
                record.owner = item.owners.as_deref().unwrap_or_default().first().and_then(|o| o.id.clone());
                let index = b.identity(record);
                if let Some(app_id) = item.app_id {
                    by_app_id.insert(app_id, index);
                }
            } else if item.user_principal_name.is_some() || item.sign_in_activity.is_some() || item.mail.is_some() || item.id.is_some() {
                let Some(id) = item.id.clone().or(item.user_principal_name.clone()) else {
                    return Err(refuse(&file, format!("{at}.id"), "a user without an id or userPrincipalName"));
                };
                if item.id.is_none() {
                    without_id += 1;
                }
                let name = item.display_name.clone().or(item.user_principal_name.clone()).unwrap_or_else(|| id.clone());
                let mut record = identity(&id, IdentityKind::Human, &name);
                record.email = item.mail.clone();
                record.department = item.department.clone();
                record.manager = item.manager.as_ref().and_then(|m| m.id.clone().or(m.user_principal_name.clone()));
                record.status = if item.account_enabled == Some(false) { IdentityStatus::Disabled } else { IdentityStatus::Active };
                record.created_at = real(item.created);
                record.last_active_at = item
                    .sign_in_activity
                    .as_ref()
                    .map(|s| [s.last, s.last_non_interactive, s.last_successful].into_iter().fold(None, |acc, w| latest(acc, real(w))))
                    .unwrap_or(None);
                let index = b.identity(record);
                for group in item.member_of.as_deref().unwrap_or_default() {
                    let Some(name) = group.display_name.clone().or(group.id.clone()) else { continue };
                    let app = b.application(source, source, Criticality::Medium);
                    let role = group.odata_type.as_deref() == Some("#microsoft.graph.directoryRole");
                    let entitlement = if role {
                        b.entitlement(app, &format!("directory role: {name}"), Some(Privilege::infer(&name).max_with(Privilege::Write)))
                    } else {
                        b.entitlement(app, &name, None)
                    };
                    b.grant(index, entitlement, None, None, None);
                }
            } else {
                return Err(refuse(
                    &file,
                    at,
                    format!("neither a user, a service principal nor a sign-in activity record (expected {EXPECTED})"),
                ));
            }
        }
    }
    let mut unmatched = 0usize;
    for (app_id, last) in activity {
        match by_app_id.get(&app_id) {
            Some(&index) => {
                let record = b.identity_mut(index);
                record.last_active_at = latest(record.last_active_at, last);
            }
            None => unmatched += 1,
        }
    }
    if unmatched > 0 {
        b.warn(format!("sign-in activity of {unmatched} applications without a service principal in the files read was ignored"));
    }
    if without_id > 0 {
        b.warn(format!("{without_id} users have no `id` (not selected?); they are named by userPrincipalName"));
    }
    Ok(b.finish())
}

trait AtLeast {
    fn max_with(self, floor: Privilege) -> Privilege;
}

impl AtLeast for Privilege {
    /// Directory roles change the directory: at least write, admin when the name says so.
    fn max_with(self, floor: Privilege) -> Privilege {
        if self.rank() >= floor.rank() { self } else { floor }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::imports::server::dates::parse_timestamp;

    fn entra(names: &[&str]) -> Result<Snapshot, BadInput> {
        let paths: Vec<PathBuf> = names.iter().map(|n| sample(&format!("entra/{n}.json"))).collect();
        read(&paths, "entra")
    }

    #[test]
    fn users_get_their_latest_sign_in_and_never_is_no_date() {
        let s =
            entra(&["graph-docs_v1.0_user-list_ex11_signInActivity", "entra-docs_inactive-users_signInActivity_lastSuccessful"]).unwrap();
        assert_eq!(s.identities.len(), 3);
        assert_eq!(s.identities[0].last_active_at, parse_timestamp("2021-06-17T16:41:33Z").ok(), "0001-01-01 is ignored");
        assert_eq!(s.identities[1].last_active_at, parse_timestamp("2021-07-29T17:53:42Z").ok(), "non-interactive counts");
        assert!(s.identities.iter().all(|i| i.kind == IdentityKind::Human));
    }

    #[test]
    fn every_user_sample_reads() {
        let s = entra(&[
            "graph-docs_v1.0_user-list_ex1_all_users",
            "graph-docs_v1.0_user-list_ex8_b2b_guest_users",
            "graph-docs_v1.0_user-list_filter_signInActivity_le_2019-06-01",
        ])
        .unwrap();
        assert_eq!(s.identities.len(), 5);
        assert_eq!(s.identities[0].email.as_deref(), Some("Adams@contoso.com"));
        assert_eq!(s.identities[3].external_id, "AdeleV@contoso.com");
        assert_eq!(s.warnings, ["2 users have no `id` (not selected?); they are named by userPrincipalName"]);
    }

    #[test]
    fn service_principals_take_their_sign_in_activity_with_graph_offsets() {
        let s =
            entra(&["graph-docs_v1.0_serviceprincipal-list", "graph-docs_beta_reportroot-list-serviceprincipalsigninactivities"]).unwrap();
        assert_eq!(s.identities.len(), 1);
        let sp = &s.identities[0];
        assert_eq!((sp.kind, sp.display_name.as_str()), (IdentityKind::ServiceAccount, "foo"));
        assert_eq!(sp.purpose.as_deref(), Some("My App (published by Contoso)"));
        assert_eq!(s.warnings, ["sign-in activity of 2 applications without a service principal in the files read was ignored"]);

        let (_dir, sps) = temp_file(
            "sps.json",
            br#"{"value": [{"id": "sp1", "appId": "83f45296-fb8f-4aaa-a399-ac51084e02b7", "displayName": "Build bot",
                 "servicePrincipalType": "Application", "accountEnabled": false,
                 "passwordCredentials": [{"startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2022-01-01T00:00:00Z"}]}]}"#,
        );
        let report = sample("entra/graph-docs_beta_reportroot-list-serviceprincipalsigninactivities.json");
        let s = read(&[sps, report], "entra").unwrap();
        let sp = &s.identities[0];
        // The latest of its own sign-ins as a client; `-8:00` offsets are read as `-08:00`.
        assert_eq!(sp.last_active_at, parse_timestamp("2021-04-01T00:00:00Z").ok());
        assert_eq!(sp.status, IdentityStatus::Disabled);
        assert_eq!(sp.credential_rotated_at, parse_timestamp("2020-01-01").ok());
        assert_eq!(sp.expires_at, parse_timestamp("2022-01-01").ok());
    }

    #[test]
    fn memberships_become_grants_and_directory_roles_are_privileged() {
        let (_dir, path) = temp_file(
            "users.json",
            br##"{"value": [{"id": "u1", "displayName": "Ann", "memberOf": [
                {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Finance"},
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "Global Administrator"},
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "r2", "displayName": "Directory Readers"}]}]}"##,
        );
        let s = read(&[path], "entra").unwrap();
        let names: Vec<(&str, Option<Privilege>)> = s.entitlements.iter().map(|e| (e.name.as_str(), e.privilege)).collect();
        assert_eq!(
            names,
            [
                ("Finance", None),
                ("directory role: Global Administrator", Some(Privilege::Admin)),
                ("directory role: Directory Readers", Some(Privilege::Write))
            ]
        );
        assert_eq!(s.grants.len(), 3);
    }

    #[test]
    fn a_single_user_or_an_error_is_refused() {
        let (_dir, path) =
            temp_file("me.json", br#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": "u1"}"#);
        let err = read(&[path], "entra").unwrap_err().to_string();
        assert!(err.contains("me.json, field `value`: a single object"), "{err}");
        let (_dir, path) =
            temp_file("e.json", br#"{"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}"#);
        let err = read(&[path], "entra").unwrap_err().to_string();
        assert!(err.contains("a Graph error response (Insufficient privileges)"), "{err}");
        let (_dir, path) = temp_file("d.json", b"{\"value\": [\n{\"id\": \"u1\", \"createdDateTime\": \"2021-13-01T00:00:00Z\"}]}");
        let err = read(&[path], "entra").unwrap_err().to_string();
        assert!(err.contains("d.json line 2, field `value[0].createdDateTime`: `2021-13-01T00:00:00Z` is not a date"), "{err}");
    }
}
