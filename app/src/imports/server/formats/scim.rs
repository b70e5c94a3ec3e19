//! SCIM 2.0 (RFC 7643/7644): User and Group resources, alone or in a ListResponse, from any
//! number of files. Users become identities (enterprise extension: manager, department);
//! group membership becomes grants on an application named after the source, one entitlement
//! per group, nested groups expanded (each group once, so cycles end); `roles` and
//! `entitlements` become grants too. `active: false` is a disabled identity.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::{Builder, Format, When, identity, parse_json, read_file, refuse};
use crate::identities::{Criticality, IdentityKind, IdentityStatus};
use crate::imports::server::BadInput;
use crate::imports::server::model::Snapshot;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const EXPECTED: &str = "SCIM Users, Groups or a ListResponse of them";

/// Every SCIM document has this shape at the top; what it is comes from `schemas`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Resource {
    schemas: Vec<String>,
    #[serde(rename = "Resources")]
    resources: Option<Vec<Resource>>,
    id: Option<String>,
    #[serde(rename = "externalId")]
    external_id: Option<String>,
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    /// A User's name parts; a ResourceType's `name` is a string, kept to say what the file is.
    name: Option<serde_json::Value>,
    emails: Option<Vec<MultiValue>>,
    #[serde(deserialize_with = "flexible_bool")]
    active: Option<bool>,
    title: Option<String>,
    #[serde(rename = "userType")]
    user_type: Option<String>,
    groups: Option<Vec<MultiValue>>,
    members: Option<Vec<MultiValue>>,
    roles: Option<Vec<MultiValue>>,
    entitlements: Option<Vec<MultiValue>>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
    enterprise: Option<Enterprise>,
    meta: Option<Meta>,
    // What other messages carry, to say what a wrong file is.
    detail: Option<serde_json::Value>,
    status: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Name {
    formatted: Option<String>,
    #[serde(rename = "givenName")]
    given_name: Option<String>,
    #[serde(rename = "familyName")]
    family_name: Option<String>,
}

/// An email, group, member, role or entitlement: `value` plus how to show it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MultiValue {
    value: Option<serde_json::Value>,
    display: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "$ref")]
    reference: Option<String>,
    #[serde(deserialize_with = "flexible_bool")]
    primary: Option<bool>,
}

impl MultiValue {
    /// The value as text; SCIM says string, some servers send numbers.
    fn value(&self) -> Option<String> {
        match &self.value {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Enterprise {
    department: Option<String>,
    manager: Option<Manager>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Manager {
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Meta {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    created: When,
}

/// `true`, `"True"`, `"false"`: Entra and others send booleans as strings.
fn flexible_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    match Option::<B>::deserialize(deserializer)? {
        None => Ok(None),
        Some(B::Bool(b)) => Ok(Some(b)),
        Some(B::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!("`{t}` is not true or false"))),
        },
    }
}

enum Kind {
    User,
    Group,
}

/// What a resource is, or why it cannot be imported.
fn kind_of(resource: &Resource) -> Result<Kind, String> {
    let has = |schema: &str| resource.schemas.iter().any(|s| s.eq_ignore_ascii_case(schema));
    if has(USER) {
        return Ok(Kind::User);
    }
    if has(GROUP) {
        return Ok(Kind::Group);
    }
    if let Some(other) = resource.schemas.iter().find(|s| s.starts_with("urn:ietf:params:scim:")) {
        let short = other.rsplit(':').next().unwrap_or(other);
        return Err(match short {
            "Error" => format!(
                "a SCIM error response (status {}: {}), not users or groups; the export failed",
                resource.status.as_ref().map(|s| s.to_string().trim_matches('"').to_string()).unwrap_or_else(|| "?".into()),
                resource.detail.as_ref().and_then(|d| d.as_str()).unwrap_or("no detail")
            ),
            "PatchOp" => "a SCIM PatchOp request (a change), not users or groups".into(),
            "ServiceProviderConfig" => "a SCIM ServiceProviderConfig (what the server supports), not users or groups".into(),
            "ResourceType" => "a SCIM ResourceType definition, not users or groups".into(),
            "Schema" => "a SCIM Schema definition, not users or groups".into(),
            _ => format!("a SCIM `{short}` document, not users or groups"),
        });
    }
    // Servers asked for some attributes only (RFC 7644 §3.4.2.5) may leave `schemas` out.
    match resource.meta.as_ref().and_then(|m| m.resource_type.as_deref()) {
        Some("User") => return Ok(Kind::User),
        Some("Group") => return Ok(Kind::Group),
        _ => {}
    }
    if resource.user_name.is_some() {
        Ok(Kind::User)
    } else if resource.members.is_some() {
        Ok(Kind::Group)
    } else {
        Err("neither a User nor a Group (no `schemas`, `userName` or `members`)".into())
    }
}

struct User {
    id: String,
    record: crate::imports::server::model::IdentityRecord,
    groups: Vec<(String, Option<String>)>,
    roles: Vec<String>,
    entitlements: Vec<String>,
}

struct Group {
    name: Option<String>,
    members: Vec<(String, Option<String>, Option<String>)>,
}

/// Reads SCIM files into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    let mut users: Vec<User> = Vec::new();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let document: Resource = parse_json(&file, &bytes, EXPECTED)?;
        let (resources, prefix) = match document.resources {
            Some(resources) => {
                if !document.schemas.iter().any(|s| s == LIST) && !document.schemas.is_empty() {
                    return Err(refuse(
                        &file,
                        "schemas",
                        format!("`Resources` in a document that is not a ListResponse (expected {EXPECTED})"),
                    ));
                }
                (resources, "Resources")
            }
            None => (vec![document], ""),
        };
        for (i, resource) in resources.into_iter().enumerate() {
            let at = if prefix.is_empty() { String::new() } else { format!("{prefix}[{i}]") };
            let field = |name: &str| if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
            match kind_of(&resource) {
                Err(message) => {
                    let field = if at.is_empty() { "schemas".to_string() } else { at.clone() };
                    return Err(refuse(&file, field, format!("{message} (expected {EXPECTED})")));
                }
                Ok(Kind::User) => users.push(read_user(&file, resource, &field)?),
                Ok(Kind::Group) => {
                    let Some(id) = resource.id.clone().filter(|s| !s.trim().is_empty()) else {
                        return Err(refuse(&file, field("id"), "a group without an id cannot be referred to"));
                    };
                    let members = resource
                        .members
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| m.value().map(|v| (v, m.kind.clone(), m.display.clone().or(m.reference.clone()))))
                        .collect();
                    groups.insert(id, Group { name: resource.display_name.filter(|s| !s.trim().is_empty()), members });
                }
            }
        }
    }
    Ok(build(source, users, groups))
}

fn read_user(file: &str, resource: Resource, field: &dyn Fn(&str) -> String) -> Result<User, BadInput> {
    let user_name = resource.user_name.clone().filter(|s| !s.trim().is_empty());
    let Some(id) = resource.id.clone().or(resource.external_id.clone()).or(user_name.clone()).filter(|s| !s.trim().is_empty()) else {
        return Err(refuse(file, field("userName"), "a user needs an id, externalId or userName"));
    };
    let name: Option<Name> = resource.name.clone().and_then(|n| serde_json::from_value(n).ok());
    let name = name.as_ref();
    let display_name = resource
        .display_name
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| name.and_then(|n| n.formatted.clone()).filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            let given = name.and_then(|n| n.given_name.clone()).unwrap_or_default();
            let family = name.and_then(|n| n.family_name.clone()).unwrap_or_default();
            let full = format!("{given} {family}").trim().to_string();
            (!full.is_empty()).then_some(full)
        })
        .or(user_name.clone())
        .unwrap_or_else(|| id.clone());
    let emails = resource.emails.as_deref().unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e.primary == Some(true))
        .or_else(|| emails.iter().find(|e| e.kind.as_deref() == Some("work")))
        .or_else(|| emails.first())
        .and_then(MultiValue::value);
    let mut record = identity(&id, IdentityKind::Human, &display_name);
    record.email = email;
    record.department = resource.enterprise.as_ref().and_then(|e| e.department.clone()).filter(|s| !s.trim().is_empty());
    record.manager =
        resource.enterprise.as_ref().and_then(|e| e.manager.as_ref()).and_then(|m| m.value.clone()).filter(|s| !s.trim().is_empty());
    record.status = if resource.active == Some(false) { IdentityStatus::Disabled } else { IdentityStatus::Active };
    record.created_at = resource.meta.as_ref().and_then(|m| m.created.0);
    let values = |list: &Option<Vec<MultiValue>>| -> Vec<String> {
        list.as_deref().unwrap_or_default().iter().filter_map(|v| v.value().or_else(|| v.display.clone())).collect()
    };
    let groups = resource.groups.as_deref().unwrap_or_default().iter().filter_map(|g| g.value().map(|v| (v, g.display.clone()))).collect();
    Ok(User { id, record, groups, roles: values(&resource.roles), entitlements: values(&resource.entitlements) })
}

fn build(source: &str, users: Vec<User>, groups: BTreeMap<String, Group>) -> Snapshot {
    let mut b = Builder::new(source, Format::Scim);
    let app = b.application(source, source, Criticality::Medium);

    // Group names must be unique entitlements; two groups may share a display name.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut name_of = |id: &str, display: Option<&str>| -> String {
        let name = display.map(str::to_string).unwrap_or_else(|| id.to_string());
        let seen = by_name.entry(name.clone()).or_insert(0);
        *seen += 1;
        if *seen > 1 { format!("{name} ({id})") } else { name }
    };
    let mut group_names: HashMap<String, String> = HashMap::new();
    for (id, group) in &groups {
        group_names.insert(id.clone(), name_of(id, group.name.as_deref()));
    }

    // Direct memberships: user → groups, group → parent groups.
    let user_ids: BTreeSet<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut direct: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut outsiders: BTreeMap<String, Option<String>> = BTreeMap::new();
    for user in &users {
        for (group, display) in &user.groups {
            direct.entry(user.id.clone()).or_default().insert(group.clone());
            if !group_names.contains_key(group) {
                group_names.insert(group.clone(), name_of(group, display.as_deref()));
            }
        }
    }
    for (id, group) in &groups {
        for (member, kind, display) in &group.members {
            let is_group = kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("group")) || groups.contains_key(member);
            if is_group {
                parents.entry(member.clone()).or_default().insert(id.clone());
                if !group_names.contains_key(member) {
                    group_names.insert(member.clone(), name_of(member, display.as_deref()));
                }
            } else {
                direct.entry(member.clone()).or_default().insert(id.clone());
                if !user_ids.contains(member) {
                    outsiders.entry(member.clone()).or_insert(display.clone());
                }
            }
        }
    }

    for user in users {
        let index = b.identity(user.record);
        for role in &user.roles {
            let entitlement = b.entitlement(app, &format!("role:{role}"), None);
            b.grant(index, entitlement, None, None, None);
        }
        for value in &user.entitlements {
            let entitlement = b.entitlement(app, &format!("entitlement:{value}"), None);
            b.grant(index, entitlement, None, None, None);
        }
    }
    if !outsiders.is_empty() {
        b.warn(format!(
            "{} group members are not among the users read; they are imported with the name their group gives",
            outsiders.len()
        ));
    }
    for (id, display) in outsiders {
        let name = display.unwrap_or_else(|| id.clone());
        b.identity(identity(&id, IdentityKind::Human, &name));
    }

    // Every user gets its direct groups and, through nesting, their parents: breadth first,
    // each group once, so a cycle ends where it began.
    for (member, direct_groups) in &direct {
        let Some(index) = b.identity_index(member) else { continue };
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<(&str, Option<&str>)> = direct_groups.iter().map(|g| (g.as_str(), None)).collect();
        while let Some((group, via)) = queue.pop_front() {
            if !seen.insert(group) {
                continue;
            }
            let name = group_names.get(group).cloned().unwrap_or_else(|| group.to_string());
            let entitlement = b.entitlement(app, &name, None);
            let granted_by = via.map(|v| format!("nested group {}", group_names.get(v).map(String::as_str).unwrap_or(v)));
            b.grant(index, entitlement, None, None, granted_by.as_deref());
            for parent in parents.get(group).into_iter().flatten() {
                queue.push_back((parent.as_str(), Some(via.unwrap_or(group))));
            }
        }
    }
    // Groups nobody is in are still entitlements that exist.
    for id in groups.keys() {
        if let Some(name) = group_names.get(id).cloned() {
            b.entitlement(app, &name, None);
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{sample, temp_file};
    use super::*;
    use crate::identities::Privilege;

    fn read_samples(names: &[&str]) -> Result<Snapshot, BadInput> {
        let paths: Vec<PathBuf> = names.iter().map(|n| sample(&format!("scim/{n}"))).collect();
        read(&paths, "okta-scim")
    }

    fn grants_of(snapshot: &Snapshot, external_id: &str) -> Vec<String> {
        let i = snapshot.identities.iter().position(|x| x.external_id == external_id).expect("identity") as u32;
        let mut names: Vec<String> = snapshot
            .grants
            .iter()
            .filter(|g| g.identity == i)
            .map(|g| snapshot.entitlements[g.entitlement as usize].name.clone())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_user_list_with_roles_and_groups_becomes_identities_and_grants() {
        let s = read_samples(&["scim-v2-rust_github_enterprise_user_list_test.json"]).unwrap();
        assert_eq!(s.identities.len(), 2);
        let john = &s.identities[0];
        assert_eq!((john.display_name.as_str(), john.email.as_deref()), ("john smith", Some("john.smith@website.com")));
        assert_eq!(john.created_at, crate::imports::server::dates::parse_timestamp("2026-01-13T18:33:16Z").ok());
        let grants = grants_of(&s, "deadbeef-f0ae-11f0-8592-deadbeef1234");
        assert_eq!(grants.len(), 10, "{grants:?}");
        assert!(grants.contains(&"role:enterprise_owner".to_string()));
        let owner = s.entitlements.iter().find(|e| e.name == "role:enterprise_owner").unwrap();
        assert_eq!(owner.privilege().0, Privilege::Admin);
        assert_eq!(s.applications.len(), 1);
        assert_eq!(s.applications[0].name, "okta-scim");
    }

    #[test]
    fn the_enterprise_extension_gives_manager_and_department() {
        let s = read_samples(&["scim2-models_rfc7643-8.3-enterprise_user.json"]).unwrap();
        let babs = &s.identities[0];
        assert_eq!(babs.manager.as_deref(), Some("26118915-6090-4610-87e4-49d8ca9f808d"));
        assert_eq!(babs.department.as_deref(), Some("Tour Operations"));
        assert_eq!(babs.display_name, "Babs Jensen");
        assert_eq!(grants_of(&s, "2819c223-7f76-453a-919d-413861904646"), ["Employees", "Tour Guides", "US Employees"]);
    }

    #[test]
    fn a_user_and_a_group_from_separate_files_meet() {
        let s = read_samples(&["scim2-models_rfc7643-8.2-user-full.json", "scim2-models_rfc7643-8.4-group.json"]).unwrap();
        assert_eq!(s.identities.len(), 2, "Mandy is only named by the group");
        assert_eq!(s.identities[1].display_name, "Mandy Pepperidge");
        assert_eq!(grants_of(&s, "2819c223-7f76-453a-919d-413861904646").len(), 3, "Tour Guides counted once");
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn circular_groups_end_and_every_member_gets_both() {
        let (_dir, users) = temp_file(
            "users.json",
            br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": [
                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "ann", "active": false,
                 "groups": [{"value": "c3a26dd3-27a0-4dec-a2ac-ce211e105f97", "display": "Group A"}]}
            ]}"#,
        );
        let paths = [sample("scim/scim2-models_rfc7644-3.7.1-list_response-circular_reference.json"), users];
        let s = read(&paths, "idp").unwrap();
        assert_eq!(s.identities.len(), 1);
        assert_eq!(s.identities[0].status, IdentityStatus::Disabled);
        // u1 → Group A → Group B → Group A … stops.
        assert_eq!(grants_of(&s, "u1"), ["Group A", "Group B"]);
        let by = s.grants.iter().filter_map(|g| g.granted_by).map(|i| s.names[i as usize].as_str()).collect::<BTreeSet<_>>();
        assert_eq!(by, BTreeSet::from(["nested group Group A"]));
    }

    #[test]
    fn partial_attributes_and_paginated_lists_are_read() {
        for name in [
            "scim2-models_rfc7644-3.4.2-list_response-partial_attributes.json",
            "scim-v2-rust_rfc7644_s3.4.2_list_response.json",
            "scim-v2-rust_rfc7644_s3.4.2.4_fig3_pagination_response.json",
            "scim-v2-rust_rfc7644_s3.4.3_fig5_post_query_response.json",
            "scim-v2-rust_entra_user_creation_test.json",
            "scim-v2-rust_jumpcloud_create_user.json",
            "scim-v2-rust_jumpcloud_put_user_full.json",
            "scim-v2-rust_jumpcloud_put_user_minimal.json",
            "scim-v2-rust_rfc7644_s3.3_user_create_response.json",
            "scim-v2-rust_rfc7644_s3.4.1_user_retrieval_response.json",
            "scim2-models_rfc7643-8.1-user-minimal.json",
        ] {
            let s = read_samples(&[name]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!s.identities.is_empty(), "{name}");
        }
    }

    #[test]
    fn documents_that_are_not_users_or_groups_are_refused_saying_what_they_are() {
        for (name, says) in [
            ("scim-v2-rust_rfc7644_s3.6_error_response.json", "a SCIM error response (status 404: Resource 2819c223"),
            ("scim-v2-rust_operations_03_patchop.json", "a SCIM PatchOp request"),
            ("scim2-models_rfc7643-8.5-service_provider_configuration.json", "a SCIM ServiceProviderConfig"),
            ("scim2-models_rfc7643-8.6-resource_type-user.json", "a SCIM ResourceType definition"),
            ("scim2-models_rfc7644-4-list_response-resource_types.json", "field `Resources[0]`: a SCIM ResourceType"),
        ] {
            let err = read_samples(&[name]).expect_err(name).to_string();
            assert!(err.contains(says), "{name}: {err}");
            assert!(err.contains("expected SCIM Users, Groups or a ListResponse"), "{name}: {err}");
        }
    }

    #[test]
    fn a_wrong_type_is_named_by_line_and_field() {
        let (_dir, path) = temp_file(
            "u.json",
            b"{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],\n \"userName\": \"a\",\n \"active\": \"maybe\"}",
        );
        let err = read(&[path], "s").unwrap_err().to_string();
        assert!(err.contains("u.json line 3, field `active`: `maybe` is not true or false"), "{err}");
    }
}
