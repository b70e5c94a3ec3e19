//! ConductorOne baton sync snapshots (`.c1z`, written by `baton-<connector> -f sync.c1z`).
//! Resources with a user trait are identities (humans, or service accounts when the trait says
//! the account is a service or system one), agents are AI agents and secrets API keys; every
//! other resource (group, role, project, repository, app) is what entitlements are on. Each
//! grant to an identity is a grant; a grant to a group or role that baton marks expandable is
//! given to the group's members as well (through the group, transitively), as baton's own
//! grant expansion would. The application is the nearest resource with an app trait above the
//! entitlement's resource, else one application named after the source.
//!
//! The most recent finished full sync is read. A full sync that did not finish is read only if
//! nothing but grant expansion was left to do (every grant is listed then), with a warning;
//! otherwise it is refused, since importing it would end the grants it had not listed yet.

mod c1z;
mod proto;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use super::{Builder, Format, identity, read_file};
use crate::identities::{Criticality, IdentityKind, IdentityStatus};
use crate::imports::server::model::Snapshot;
use crate::imports::server::{BadInput, Problem};
use proto::{Entitlement, Grant, GrantExpandable, Malformed, Resource, ResourceId, ResourceType, UserTrait};

/// The largest database a `.c1z` may decompress to, so a small file cannot fill the disk.
pub const MAX_DECOMPRESSED_BYTES: u64 = 2 << 30;

fn refuse(file: &str, field: Option<String>, message: impl Into<String>) -> BadInput {
    BadInput::one(Problem { file: file.into(), line: None, field, message: message.into() })
}

fn malformed(file: &str, table: &str, row: usize, what: &str, e: Malformed) -> BadInput {
    refuse(file, Some(format!("{table} row {}", row + 1)), format!("not a valid {what} message: {}", e.0))
}

/// Reads `.c1z` files into one snapshot for `source`.
pub fn read(paths: &[PathBuf], source: &str) -> Result<Snapshot, BadInput> {
    read_capped(paths, source, MAX_DECOMPRESSED_BYTES)
}

fn read_capped(paths: &[PathBuf], source: &str, cap: u64) -> Result<Snapshot, BadInput> {
    let mut b = Builder::new(source, Format::Baton);
    for path in paths {
        let (file, bytes) = read_file(path)?;
        let db = c1z::decompress(&file, &bytes, cap)?;
        drop(bytes);
        let (warning, tables) = c1z::load(db.path(), &file, |runs| choose(&file, runs))?;
        drop(db);
        if let Some(warning) = warning {
            b.warn(format!("{file}: {warning}"));
        }
        add(&mut b, &file, &tables)?;
    }
    Ok(b.finish())
}

/// The sync to read: the latest finished full one, else an unfinished full one that listed
/// every grant (with a warning).
fn choose(file: &str, runs: &[c1z::SyncRun]) -> Result<(String, Option<String>), BadInput> {
    let field = Some("v1_sync_runs".to_string());
    if runs.is_empty() {
        return Err(refuse(file, field, "the file holds no sync"));
    }
    let full: Vec<&c1z::SyncRun> = runs.iter().filter(|r| r.sync_type.is_empty() || r.sync_type == "full").collect();
    if full.is_empty() {
        let kinds: BTreeSet<&str> = runs.iter().map(|r| r.sync_type.as_str()).collect();
        return Err(refuse(
            file,
            field,
            format!(
                "only partial syncs ({}); a snapshot replaces what the source said before, so it needs a full sync",
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if let Some(run) = full.iter().filter(|r| r.ended_at.is_some()).max_by(|a, b| a.ended_at.cmp(&b.ended_at)) {
        return Ok((run.sync_id.clone(), None));
    }
    let Some(run) = full.iter().max_by(|a, b| a.started_at.cmp(&b.started_at)) else {
        return Err(refuse(file, field, "the file holds no full sync"));
    };
    let left = remaining(&run.sync_token);
    let listed_everything = left.as_ref().is_some_and(|ops| ops.iter().all(|op| op == "grant-expansion"));
    if !listed_everything {
        let left = left.map(|ops| ops.join(", ")).unwrap_or_else(|| "an unreadable sync token".into());
        return Err(refuse(
            file,
            field,
            format!(
                "the sync {} (started {}) did not finish and had still to do: {left}; it does not list every grant, and importing it \
                 would end the grants it missed. Run the connector again until it finishes",
                run.sync_id, run.started_at
            ),
        ));
    }
    Ok((
        run.sync_id.clone(),
        Some(format!(
            "the sync {} (started {}) did not finish; every grant was listed and only grant expansion was left, which this import does",
            run.sync_id, run.started_at
        )),
    ))
}

/// The operations an unfinished sync had left, from its token (`current_action` and `actions`).
fn remaining(token: &str) -> Option<Vec<String>> {
    let token: serde_json::Value = serde_json::from_str(token).ok()?;
    let op = |v: &serde_json::Value| v.get("operation").and_then(|o| o.as_str()).map(str::to_string);
    let mut ops: Vec<String> = token.get("current_action").and_then(op).into_iter().collect();
    if let Some(actions) = token.get("actions").and_then(|a| a.as_array()) {
        ops.extend(actions.iter().filter_map(op));
    }
    Some(ops)
}

/// Whether and how a resource is an identity.
fn kind_of(resource: &Resource, types: &HashMap<String, ResourceType>) -> Result<Option<(IdentityKind, Option<UserTrait>)>, Malformed> {
    let traits = types.get(&resource.id.resource_type).map(|t| t.traits.as_slice()).unwrap_or_default();
    if let Some(user) = resource.annotation("UserTrait") {
        let user = UserTrait::decode(&user.value)?;
        let kind = match user.account_type {
            proto::ACCOUNT_SERVICE | proto::ACCOUNT_SYSTEM => IdentityKind::ServiceAccount,
            _ => IdentityKind::Human,
        };
        return Ok(Some((kind, Some(user))));
    }
    Ok(if traits.contains(&proto::TRAIT_USER) {
        Some((IdentityKind::Human, None))
    } else if traits.contains(&proto::TRAIT_AGENT) {
        Some((IdentityKind::AiAgent, None))
    } else if traits.contains(&proto::TRAIT_SECRET) || resource.annotation("SecretTrait").is_some() {
        Some((IdentityKind::ApiKey, None))
    } else {
        None
    })
}

fn status_of(status: u64) -> Option<IdentityStatus> {
    match status {
        1 => Some(IdentityStatus::Active),
        2 => Some(IdentityStatus::Disabled),
        3 => Some(IdentityStatus::Terminated),
        _ => None,
    }
}

fn key(id: &ResourceId) -> String {
    format!("{}:{}", id.resource_type, id.resource)
}

/// What one sync says, as it is put into the builder.
struct Sync<'a> {
    b: &'a mut Builder,
    types: HashMap<String, ResourceType>,
    resources: HashMap<ResourceId, Resource>,
    labels: HashMap<ResourceId, String>,
    entitlements: HashMap<String, Entitlement>,
    /// Entitlement ids already in the builder.
    interned: HashMap<String, u32>,
    /// Resource type of each identity, for expansion limited to some types.
    identity_types: HashMap<u32, String>,
}

impl Sync<'_> {
    fn label(&self, id: &ResourceId, fallback: &str) -> String {
        match self.labels.get(id) {
            Some(label) => label.clone(),
            None if !fallback.is_empty() => fallback.to_string(),
            None => id.resource.clone(),
        }
    }

    /// The identity a principal is, added on first sight; `None` for groups, roles and the rest.
    fn identity(&mut self, principal: &Resource) -> Result<Option<u32>, Malformed> {
        let resource = self.resources.get(&principal.id).unwrap_or(principal).clone();
        let Some((kind, user)) = kind_of(&resource, &self.types)? else { return Ok(None) };
        let login = user.as_ref().map(|u| u.login.as_str()).unwrap_or_default();
        let name = [resource.display_name.as_str(), login, resource.id.resource.as_str()]
            .into_iter()
            .find(|n| !n.trim().is_empty())
            .unwrap_or_default();
        let mut record = identity(&key(&resource.id), kind, name.trim());
        record.status = user.as_ref().and_then(|u| status_of(u.status)).or(status_of(resource.status)).unwrap_or(IdentityStatus::Active);
        record.email = user.as_ref().and_then(|u| u.emails.iter().find(|e| !e.trim().is_empty())).map(|e| e.trim().to_string());
        record.created_at = user.as_ref().and_then(|u| u.created_at).or(resource.created_at);
        record.last_active_at = user.as_ref().and_then(|u| u.last_login);
        let index = self.b.identity(record);
        self.identity_types.insert(index, resource.id.resource_type.clone());
        Ok(Some(index))
    }

    /// The nearest resource with an app trait at or above `id`, else the source.
    fn application(&mut self, id: &ResourceId) -> u32 {
        let mut at = Some(id.clone());
        for _ in 0..32 {
            let Some(resource) = at.as_ref().and_then(|id| self.resources.get(id)) else { break };
            let traits = self.types.get(&resource.id.resource_type).map(|t| t.traits.as_slice()).unwrap_or_default();
            if traits.contains(&proto::TRAIT_APP) || resource.annotation("AppTrait").is_some() {
                let name = self.label(&resource.id, &resource.display_name);
                let external = format!("{}:{}", self.b.source(), key(&resource.id));
                return self.b.application(&external, &name, Criticality::Medium);
            }
            at = resource.parent.clone();
        }
        let source = self.b.source().to_string();
        self.b.application(&source, &source, Criticality::Medium)
    }

    fn entitlement(&mut self, id: &str, given: &Entitlement) -> u32 {
        if let Some(&i) = self.interned.get(id) {
            return i;
        }
        let entitlement = self.entitlements.get(id).unwrap_or(given).clone();
        let on = self.label(&entitlement.resource.id, &entitlement.resource.display_name);
        let what = [entitlement.slug.as_str(), entitlement.display_name.as_str(), id.rsplit(':').next().unwrap_or(id)]
            .into_iter()
            .find(|n| !n.trim().is_empty())
            .unwrap_or(id)
            .trim()
            .to_string();
        let app = self.application(&entitlement.resource.id);
        // The privilege is read from the name, which carries both the resource and the slug.
        let i = self.b.entitlement(app, &format!("{on}: {what}"), None);
        self.interned.insert(id.to_string(), i);
        i
    }
}

/// A grant to a group or role whose holders hold it too.
struct Edge {
    entitlement: String,
    given: Entitlement,
    expandable: GrantExpandable,
    via: String,
}

fn add(b: &mut Builder, file: &str, tables: &c1z::Tables) -> Result<(), BadInput> {
    let mut types = HashMap::new();
    for (row, data) in tables.resource_types.iter().enumerate() {
        let t = ResourceType::decode(data).map_err(|e| malformed(file, "v1_resource_types", row, "ResourceType", e))?;
        types.insert(t.id.clone(), t);
    }
    let mut order = Vec::new();
    let mut resources = HashMap::new();
    for (row, data) in tables.resources.iter().enumerate() {
        let r = Resource::decode(data).map_err(|e| malformed(file, "v1_resources", row, "Resource", e))?;
        order.push(r.id.clone());
        resources.insert(r.id.clone(), r);
    }
    // A display name shared by two resources is told apart by type and id.
    let mut by_label: HashMap<String, HashSet<&ResourceId>> = HashMap::new();
    for r in resources.values() {
        let label = if r.display_name.trim().is_empty() { r.id.resource.clone() } else { r.display_name.trim().to_string() };
        by_label.entry(label).or_default().insert(&r.id);
    }
    let mut labels = HashMap::new();
    for (label, ids) in &by_label {
        for id in ids {
            let text = if ids.len() > 1 { format!("{label} ({} {})", id.resource_type, id.resource) } else { label.clone() };
            labels.insert((*id).clone(), text);
        }
    }
    let mut entitlements = HashMap::new();
    for (row, data) in tables.entitlements.iter().enumerate() {
        let e = Entitlement::decode(data).map_err(|e| malformed(file, "v1_entitlements", row, "Entitlement", e))?;
        entitlements.insert(e.id.clone(), e);
    }
    let mut sync = Sync { b, types, resources, labels, entitlements, interned: HashMap::new(), identity_types: HashMap::new() };
    // Every identity counts, with grants or without (a dormant account is what a review is for).
    for (row, id) in order.iter().enumerate() {
        let resource = sync.resources[id].clone();
        sync.identity(&resource).map_err(|e| malformed(file, "v1_resources", row, "UserTrait", e))?;
    }

    let mut direct: HashMap<String, BTreeSet<u32>> = HashMap::new();
    let mut edges = Vec::new();
    let mut not_expandable = 0usize;
    for (row, data) in tables.grants.iter().enumerate() {
        let grant = Grant::decode(data).map_err(|e| malformed(file, "v1_grants", row, "Grant", e))?;
        let id = grant.entitlement.id.clone();
        if let Some(identity) = sync.identity(&grant.principal).map_err(|e| malformed(file, "v1_grants", row, "UserTrait", e))? {
            let entitlement = sync.entitlement(&id, &grant.entitlement);
            sync.b.grant(identity, entitlement, None, None, None);
            direct.entry(id).or_default().insert(identity);
            continue;
        }
        let expandable = match grant.annotations.iter().find(|a| a.is("GrantExpandable")) {
            Some(a) => GrantExpandable::decode(&a.value).map_err(|e| malformed(file, "v1_grants", row, "GrantExpandable", e))?,
            None => {
                not_expandable += 1;
                continue;
            }
        };
        let principal = &grant.principal;
        let via = format!("{} {}", principal.id.resource_type, sync.label(&principal.id, &principal.display_name));
        edges.push(Edge { entitlement: id, given: grant.entitlement, expandable, via });
    }

    // Holders through groups, to a fixed point: a group in a group passes its members on.
    let mut derived: HashMap<String, BTreeMap<u32, String>> = HashMap::new();
    for _round in 0..=edges.len() {
        let mut changed = false;
        for edge in &edges {
            let mut holders = BTreeSet::new();
            for source in &edge.expandable.entitlement_ids {
                holders.extend(direct.get(source).into_iter().flatten().copied());
                if !edge.expandable.shallow {
                    holders.extend(derived.get(source).into_iter().flat_map(|d| d.keys().copied()));
                }
            }
            let types = &edge.expandable.resource_type_ids;
            let target = derived.entry(edge.entitlement.clone()).or_default();
            for holder in holders {
                if !types.is_empty() && !sync.identity_types.get(&holder).is_some_and(|t| types.contains(t)) {
                    continue;
                }
                if let std::collections::btree_map::Entry::Vacant(slot) = target.entry(holder) {
                    slot.insert(edge.via.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut done = HashSet::new();
    for edge in &edges {
        if !done.insert(edge.entitlement.clone()) {
            continue;
        }
        let Some(holders) = derived.get(&edge.entitlement) else { continue };
        if holders.is_empty() {
            continue;
        }
        let entitlement = sync.entitlement(&edge.entitlement, &edge.given);
        for (&holder, via) in holders {
            sync.b.grant(holder, entitlement, None, None, Some(via));
        }
    }
    if not_expandable > 0 {
        sync.b.warn(format!(
            "{file}: {not_expandable} grants to groups, roles or other non-identities name no members to pass them to and were not imported"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
