//! Generated estates: the demo (a few hundred identities) and benchmark estates (a million
//! grants), deterministic for a seed and a clock, shaped like the real thing: orphaned
//! service accounts, stale keys, terminated owners, dormant admin grants.

use std::collections::HashSet;
use std::path::Path;

use app::db::Db;
use app::identities::{Criticality, IdentityKind, IdentityStatus, Privilege};
use app::imports::ImportSummary;
use app::imports::server::model::{ApplicationRecord, EntitlementRecord, GrantRecord, IdentityRecord, Snapshot};
use app::imports::server::{Quiet, apply};
use app::scoring::NewSodRule;
use app::time_fmt::DAY;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dmitri", "Esther", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kamala", "Lars", "Mei", "Nadia", "Omar",
    "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Bruno", "Carmen", "Diego",
    "Elif", "Felix", "Giulia", "Hannah", "Ivan", "Julia", "Kofi", "Leila", "Mateo", "Noor",
];
const LAST: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Petrov",
    "Cohen",
    "Haddad",
    "Hopper",
    "Tanaka",
    "García",
    "Becker",
    "Rao",
    "Nilsen",
    "Zhang",
    "Karimi",
    "Farouk",
    "Sharma",
    "Dubois",
    "Silva",
    "Olsen",
    "Aziz",
    "Iyer",
    "Novak",
    "Li",
    "Ortiz",
    "Demir",
    "Fischer",
    "Mensah",
    "Costa",
    "Ruiz",
    "Herrera",
    "Yilmaz",
    "Weber",
    "Romano",
    "Schmidt",
    "Ivanova",
    "Keller",
    "Boateng",
    "Nasser",
    "Alvarez",
    "Khan",
];
const DEPARTMENTS: &[&str] =
    &["Engineering", "Platform", "Data", "Security", "Finance", "Sales", "Support", "People", "Marketing", "Legal"];
const WORDS: &[&str] = &[
    "billing",
    "payments",
    "reporting",
    "deploy",
    "backup",
    "etl",
    "monitoring",
    "search",
    "checkout",
    "ledger",
    "invoices",
    "analytics",
    "notifications",
    "sync",
    "export",
    "ingest",
    "fraud",
    "catalog",
    "identity",
    "support",
];

/// (name, criticality, for machines, entitlements with the privilege the source gives, if any)
const APPS: &[(&str, Criticality, bool, &[(&str, Option<Privilege>)])] = &[
    (
        "AWS prod",
        Criticality::High,
        true,
        &[
            ("AdministratorAccess", None),
            ("PowerUserAccess", Some(Privilege::Admin)),
            ("s3:*", None),
            ("ReadOnlyAccess", None),
            ("billing-export-writer", Some(Privilege::Write)),
            ("lambda-deployer", Some(Privilege::Write)),
        ],
    ),
    (
        "AWS staging",
        Criticality::Medium,
        true,
        &[("AdministratorAccess", None), ("DeveloperAccess", Some(Privilege::Write)), ("ReadOnlyAccess", None)],
    ),
    (
        "GitHub",
        Criticality::High,
        true,
        &[("org:owner", None), ("repo:admin", None), ("repo:push", None), ("repo:read", None), ("actions:write", None)],
    ),
    ("Kubernetes prod", Criticality::High, true, &[("cluster-admin", None), ("namespace-editor", None), ("view", None)]),
    (
        "Snowflake",
        Criticality::High,
        true,
        &[
            ("ACCOUNTADMIN", Some(Privilege::Admin)),
            ("SYSADMIN", None),
            ("ANALYST", Some(Privilege::Read)),
            ("LOADER", Some(Privilege::Write)),
        ],
    ),
    (
        "Datadog",
        Criticality::Low,
        true,
        &[("Datadog Admin Role", None), ("Datadog Standard Role", Some(Privilege::Write)), ("Datadog Read Only Role", None)],
    ),
    (
        "Stripe",
        Criticality::High,
        true,
        &[
            ("Administrator", None),
            ("Developer", Some(Privilege::Write)),
            ("Analyst", Some(Privilege::Read)),
            ("restricted key: charges", Some(Privilege::Write)),
        ],
    ),
    (
        "Salesforce",
        Criticality::Medium,
        false,
        &[("System Administrator", None), ("Sales User", Some(Privilege::Write)), ("Read Only", None)],
    ),
    (
        "Jira",
        Criticality::Low,
        false,
        &[("jira-administrators", None), ("jira-software-users", Some(Privilege::Write)), ("Tour Guides", None)],
    ),
    (
        "Workday",
        Criticality::High,
        false,
        &[("HR Administrator", None), ("Payroll Partner", Some(Privilege::Write)), ("Employee Self-Service", Some(Privilege::Read))],
    ),
    (
        "Okta",
        Criticality::High,
        true,
        &[("Super Administrator", None), ("App Administrator", None), ("Read-only Administrator", Some(Privilege::Read))],
    ),
    (
        "PagerDuty",
        Criticality::Low,
        true,
        &[("Account Owner", None), ("Responder", Some(Privilege::Write)), ("Observer", Some(Privilege::Read))],
    ),
];

const MACHINE_KINDS: &[(IdentityKind, u32)] = &[
    (IdentityKind::ServiceAccount, 30),
    (IdentityKind::ApiKey, 25),
    (IdentityKind::Token, 15),
    (IdentityKind::Workload, 12),
    (IdentityKind::Certificate, 7),
    (IdentityKind::Bot, 6),
    (IdentityKind::AiAgent, 5),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn days_ago(rng: &mut StdRng, now: i64, min: i64, max: i64) -> i64 {
    now - rng.gen_range(min * DAY..=max * DAY)
}

/// An estate of `identities` identities (about a third humans) and exactly `grants` grants,
/// or as many as distinct identity × entitlement pairs allow.
pub fn estate(seed: u64, identities: usize, grants: usize, now: i64) -> Snapshot {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut snapshot = Snapshot { source: "demo".into(), format: "generated".into(), ..Default::default() };
    let humans = (identities * 35 / 100).max(1.min(identities));
    let mut emails = HashSet::new();
    let managers = (humans / 8).max(1);
    for i in 0..humans {
        let first = pick(&mut rng, FIRST);
        let last = pick(&mut rng, LAST);
        let base = format!("{}.{}", ascii(first), ascii(last));
        let mut email = format!("{base}@example.com");
        let mut n = 2;
        while !emails.insert(email.clone()) {
            email = format!("{base}{n}@example.com");
            n += 1;
        }
        let roll = rng.gen_range(0..100);
        let status = if i < managers || roll < 88 {
            IdentityStatus::Active
        } else if roll < 94 {
            IdentityStatus::Disabled
        } else {
            IdentityStatus::Terminated
        };
        let last_active_at = match status {
            IdentityStatus::Active if rng.gen_bool(0.85) => Some(days_ago(&mut rng, now, 0, 25)),
            IdentityStatus::Active => Some(days_ago(&mut rng, now, 31, 240)),
            _ => Some(days_ago(&mut rng, now, 45, 420)),
        };
        let manager = (i >= managers).then(|| format!("u{:06}", rng.gen_range(0..managers)));
        snapshot.identities.push(IdentityRecord {
            external_id: format!("u{i:06}"),
            kind: IdentityKind::Human,
            display_name: format!("{first} {last}"),
            email: Some(email),
            owner: None,
            manager,
            department: Some(pick(&mut rng, DEPARTMENTS).to_string()),
            status,
            purpose: None,
            created_at: Some(days_ago(&mut rng, now, 120, 2_500)),
            last_active_at,
            credential_rotated_at: None,
            expires_at: None,
        });
    }
    let human_emails: Vec<String> = snapshot.identities.iter().filter_map(|i| i.email.clone()).collect();
    let total_weight: u32 = MACHINE_KINDS.iter().map(|(_, w)| w).sum();
    let mut service_accounts: Vec<String> = Vec::new();
    for i in humans..identities {
        let mut roll = rng.gen_range(0..total_weight);
        let mut kind = IdentityKind::ServiceAccount;
        for (k, w) in MACHINE_KINDS {
            if roll < *w {
                kind = *k;
                break;
            }
            roll -= w;
        }
        let word = pick(&mut rng, WORDS);
        let word2 = pick(&mut rng, WORDS);
        let display_name = match kind {
            IdentityKind::ServiceAccount | IdentityKind::Human => format!("svc-{word}-{word2}"),
            IdentityKind::ApiKey => format!("AKIA{:016X}", rng.r#gen::<u64>()),
            IdentityKind::Token => format!("pat-{word}-release"),
            IdentityKind::Workload => format!("k8s:prod/{word}-api"),
            IdentityKind::Certificate => format!("CN={word}.internal.example.com"),
            IdentityKind::Bot => format!("{word}-bot"),
            IdentityKind::AiAgent => format!("{word}-triage-agent"),
        };
        let owner = if rng.gen_range(0..100) < 74 {
            if kind == IdentityKind::ApiKey && !service_accounts.is_empty() && rng.gen_bool(0.5) {
                Some(pick(&mut rng, &service_accounts).clone())
            } else {
                Some(pick(&mut rng, &human_emails).clone())
            }
        } else {
            None
        };
        let created_at = days_ago(&mut rng, now, 60, 1_800);
        let last_active_at = if rng.gen_bool(0.1) { None } else { Some(days_ago(&mut rng, now, 0, 400).max(created_at)) };
        let expires_at = match rng.gen_range(0..100) {
            _ if kind == IdentityKind::Certificate => Some(now + rng.gen_range(-60 * DAY..400 * DAY)),
            0..35 => None,
            35..45 => Some(now + rng.gen_range(DAY..14 * DAY)),
            45..55 => Some(now - rng.gen_range(DAY..120 * DAY)),
            _ => Some(now + rng.gen_range(15 * DAY..700 * DAY)),
        };
        let external_id = format!("m{i:06}");
        if kind == IdentityKind::ServiceAccount {
            service_accounts.push(external_id.clone());
        }
        snapshot.identities.push(IdentityRecord {
            external_id,
            kind,
            display_name,
            email: None,
            owner,
            manager: None,
            department: None,
            status: if rng.gen_bool(0.95) { IdentityStatus::Active } else { IdentityStatus::Disabled },
            purpose: Some(format!("{} {word} for {word2}", purpose_verb(kind))),
            created_at: Some(created_at),
            last_active_at,
            credential_rotated_at: Some(days_ago(&mut rng, now, 0, 800).max(created_at)),
            expires_at,
        });
    }

    let mut machine_entitlements = Vec::new();
    let mut all_entitlements = Vec::new();
    for (a, (name, criticality, for_machines, entitlements)) in APPS.iter().enumerate() {
        snapshot.applications.push(ApplicationRecord {
            external_id: name.to_lowercase().replace(' ', "-"),
            name: name.to_string(),
            owner: if a % 5 == 4 { None } else { Some(pick(&mut rng, &human_emails).clone()) },
            criticality: *criticality,
        });
        for (ent, privilege) in *entitlements {
            let index = snapshot.entitlements.len() as u32;
            snapshot.entitlements.push(EntitlementRecord { application: a as u32, name: ent.to_string(), privilege: *privilege });
            all_entitlements.push(index);
            if *for_machines {
                machine_entitlements.push(index);
            }
        }
    }
    snapshot.names = vec!["terraform".into(), "okta-workflows".into(), "access-request".into(), "bootstrap script".into()];

    let capacity = snapshot.identities.len() * all_entitlements.len();
    let wanted = grants.min(capacity * 9 / 10);
    let mut seen: HashSet<(u32, u32)> = HashSet::with_capacity(wanted);
    // Lower privilege is commoner; admin grants are the rarer ones reviewers must find.
    let weight = |e: u32, snapshot: &Snapshot| match snapshot.entitlements[e as usize].privilege() {
        (Privilege::Admin, _) => 1,
        (Privilege::Write, _) => 3,
        _ => 4,
    };
    let weighted = |list: &[u32], snapshot: &Snapshot| -> Vec<u32> {
        list.iter().flat_map(|&e| std::iter::repeat_n(e, weight(e, snapshot))).collect()
    };
    let machine_pool = weighted(&machine_entitlements, &snapshot);
    let human_pool = weighted(&all_entitlements, &snapshot);
    while snapshot.grants.len() < wanted {
        let identity = rng.gen_range(0..snapshot.identities.len()) as u32;
        let record = &snapshot.identities[identity as usize];
        let pool = if record.kind.is_machine() { &machine_pool } else { &human_pool };
        let entitlement = *pick(&mut rng, pool);
        if !seen.insert((identity, entitlement)) {
            continue;
        }
        let created = record.created_at.unwrap_or(now - 365 * DAY);
        let granted_at = rng.gen_range(created..=now - DAY);
        let last_used_at = match rng.gen_range(0..100) {
            0..15 => None,
            15..55 => Some(rng.gen_range(granted_at.max(now - 20 * DAY)..=now)),
            _ => Some(rng.gen_range(granted_at..=now)),
        };
        let granted_by = rng.gen_bool(0.7).then(|| rng.gen_range(0..snapshot.names.len() as u32));
        snapshot.grants.push(GrantRecord { identity, entitlement, granted_at: Some(granted_at), last_used_at, granted_by });
    }
    snapshot.identities.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5eed));
    remap_after_shuffle(&mut snapshot);
    snapshot.sod_rules = Some(
        SOD_RULES
            .iter()
            .map(|(application_a, entitlement_a, application_b, entitlement_b, reason)| NewSodRule {
                application_a: application_a.to_string(),
                entitlement_a: entitlement_a.to_string(),
                application_b: application_b.to_string(),
                entitlement_b: entitlement_b.to_string(),
                reason: reason.to_string(),
            })
            .collect(),
    );
    snapshot
}

/// Separation-of-duties rules of the generated estate.
const SOD_RULES: &[(&str, &str, &str, &str, &str)] = &[
    ("GitHub", "repo:push", "Kubernetes prod", "cluster-admin", "changes code and deploys it to production unreviewed"),
    ("Workday", "HR Administrator", "Workday", "Payroll Partner", "creates workers and pays them"),
    ("AWS prod", "billing-export-writer", "Snowflake", "LOADER", "writes billing exports and loads them into the warehouse"),
];

/// Shuffling identities keeps humans and machines interleaved in files; grants follow.
fn remap_after_shuffle(snapshot: &mut Snapshot) {
    let position: std::collections::HashMap<&str, u32> =
        snapshot.identities.iter().enumerate().map(|(i, r)| (r.external_id.as_str(), i as u32)).collect();
    let by_old_index: Vec<u32> = {
        let mut ids: Vec<(usize, &str)> = snapshot.identities.iter().map(|r| (old_index(&r.external_id), r.external_id.as_str())).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| position[id]).collect()
    };
    for grant in &mut snapshot.grants {
        grant.identity = by_old_index[grant.identity as usize];
    }
}

/// Identities are numbered in creation order: `u000012` is the 13th, `m000400` the 401st.
fn old_index(external_id: &str) -> usize {
    external_id[1..].parse().unwrap_or(usize::MAX)
}

fn purpose_verb(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::ApiKey | IdentityKind::Token => "calls",
        IdentityKind::Certificate => "serves TLS for",
        IdentityKind::Bot => "posts",
        IdentityKind::AiAgent => "triages",
        _ => "runs",
    }
}

fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'é' => 'e',
            'ë' => 'e',
            'í' => 'i',
            'ï' => 'i',
            'ó' => 'o',
            'ö' => 'o',
            'ü' => 'u',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

fn rfc3339(ts: Option<i64>) -> String {
    use time::format_description::well_known::Rfc3339;
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()).and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// Writes the snapshot as a CSV bundle that `attest import csv` reads back.
pub fn write_bundle(snapshot: &Snapshot, dir: &Path) -> Result<(), crate::cli::AnyError> {
    std::fs::create_dir_all(dir)?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut w = csv::Writer::from_path(dir.join("identities.csv"))?;
    w.write_record([
        "id",
        "kind",
        "display_name",
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
    ])?;
    for i in &snapshot.identities {
        w.write_record([
            i.external_id.clone(),
            i.kind.as_str().into(),
            i.display_name.clone(),
            opt(&i.email),
            opt(&i.owner),
            opt(&i.manager),
            opt(&i.department),
            i.status.as_str().into(),
            rfc3339(i.created_at),
            rfc3339(i.last_active_at),
            rfc3339(i.credential_rotated_at),
            rfc3339(i.expires_at),
            opt(&i.purpose),
        ])?;
    }
    w.flush()?;
    let mut w = csv::Writer::from_path(dir.join("applications.csv"))?;
    w.write_record(["id", "name", "owner", "criticality"])?;
    for a in &snapshot.applications {
        w.write_record([a.external_id.clone(), a.name.clone(), opt(&a.owner), a.criticality.as_str().into()])?;
    }
    w.flush()?;
    let mut w = csv::Writer::from_path(dir.join("grants.csv"))?;
    w.write_record(["identity", "application", "entitlement", "privilege", "granted_at", "last_used_at", "granted_by"])?;
    for g in &snapshot.grants {
        let ent = &snapshot.entitlements[g.entitlement as usize];
        w.write_record([
            snapshot.identities[g.identity as usize].external_id.as_str(),
            snapshot.applications[ent.application as usize].external_id.as_str(),
            ent.name.as_str(),
            ent.privilege.map(Privilege::as_str).unwrap_or_default(),
            &rfc3339(g.granted_at),
            &rfc3339(g.last_used_at),
            g.granted_by.map(|n| snapshot.names[n as usize].as_str()).unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    if let Some(rules) = &snapshot.sod_rules {
        let mut w = csv::Writer::from_path(dir.join("sod_rules.csv"))?;
        w.write_record(app::imports::server::csv_bundle::SOD_REQUIRED)?;
        for r in rules {
            w.write_record([&r.application_a, &r.entitlement_a, &r.application_b, &r.entitlement_b, &r.reason])?;
        }
        w.flush()?;
    }
    Ok(())
}

pub async fn estate_is_empty(db: &Db) -> Result<bool, crate::cli::AnyError> {
    let n: i64 = sqlx::query_scalar("select count(*) from identity").fetch_one(&db.pool).await?;
    Ok(n == 0)
}

/// Seeds (or refreshes) the demo estate as the source `demo`: about eight grants an identity.
/// The demo sign-in's people, by role: (persona, name, email). The demo sign-in matches them
/// to these identities by email, so a demo reviewer has reviews waiting.
const DEMO_PEOPLE: [(&str, &str); 4] = [
    ("Demo Reviewer", "demo.reviewer@example.com"),
    ("Demo Campaign Owner", "demo.campaign.owner@example.com"),
    ("Demo Admin", "demo.admin@example.com"),
    ("Demo Auditor", "demo.auditor@example.com"),
];

pub async fn seed_demo(db: &Db, seed: u64, identities: usize) -> Result<ImportSummary, crate::cli::AnyError> {
    let mut snapshot = estate(seed, identities, identities * 8, now());
    // The first active people become the demo personas; the demo reviewer owns the first
    // three applications.
    let mut renamed = std::collections::HashMap::new();
    let people = snapshot.identities.iter_mut().filter(|i| i.kind == IdentityKind::Human && i.status == IdentityStatus::Active);
    for (identity, (name, email)) in people.zip(DEMO_PEOPLE) {
        if let Some(old) = identity.email.replace(email.to_string()) {
            renamed.insert(old, email.to_string());
        }
        identity.display_name = name.to_string();
    }
    for identity in &mut snapshot.identities {
        if let Some(new) = identity.owner.as_ref().and_then(|o| renamed.get(o)) {
            identity.owner = Some(new.clone());
        }
    }
    for (a, application) in snapshot.applications.iter_mut().enumerate() {
        if a < 3 {
            application.owner = Some(DEMO_PEOPLE[0].1.to_string());
        } else if let Some(new) = application.owner.as_ref().and_then(|o| renamed.get(o)) {
            application.owner = Some(new.clone());
        }
    }
    let summary = apply::apply(db, snapshot.clone(), "demo seed", &Quiet).await?;
    if app::campaigns::server::repo::list(db).await?.is_empty() {
        seed_demo_closed_campaign(db, &mut snapshot).await?;
        seed_demo_campaign(db).await?;
        seed_demo_group(db).await?;
    }
    Ok(summary)
}

/// A demo persona, signed in once to exist as a person of attest.
async fn demo_person(db: &Db, role: app::session::Role) -> Result<app::session::CurrentUser, crate::cli::AnyError> {
    use app::session::server::repo as sessions;
    let subject = format!("demo:{}", role.as_str());
    let email = format!("demo.{}@example.com", role.as_str().replace('_', "."));
    let name = format!("Demo {}", role.label());
    let who = sessions::SignIn { subject: &subject, email: Some(&email), display_name: &name, idp_roles: vec![role], via: "demo sign-in" };
    let token = sessions::sign_in(db, &who, sessions::Timeouts::default()).await?;
    let person = sessions::lookup(db, &token, sessions::Timeouts::default()).await?.ok_or("a demo persona could not sign in")?;
    sessions::sign_out(db, &token).await?;
    Ok(person)
}

/// A closed campaign over GitHub with its evidence: revocations of which one an import
/// verified and one failed, one open, and an exception that expires soon.
async fn seed_demo_closed_campaign(db: &Db, snapshot: &mut app::imports::server::model::Snapshot) -> Result<(), crate::cli::AnyError> {
    use app::campaigns::server::repo;
    use app::campaigns::{Action, Decision};
    use app::session::Role;
    let owner = demo_person(db, Role::CampaignOwner).await?;
    let reviewer = demo_person(db, Role::Reviewer).await?;
    let draft = app::campaigns::CampaignDraft {
        name: "GitHub access review (demo, closed)".into(),
        description: "Risky GitHub access, reviewed by the demo reviewer and closed; its revocations are tracked to the end.".into(),
        scope_query: "app:\"GitHub\" risk>=30".into(),
        reviewer_rule: "named".into(),
        named_reviewer: DEMO_PEOPLE[0].1.into(),
        reviewer_group: String::new(),
        fallback_reviewer: DEMO_PEOPLE[1].1.into(),
        stage2_reviewer: String::new(),
        deadline: app::time_fmt::date(now() + 7 * DAY),
        deadline_action: "keep".into(),
        justification: "always".into(),
        high_risk: 70,
        max_exception_days: 90,
    };
    let id = repo::create(db, &draft, &owner).await?.map_err(|e| format!("the closed demo campaign: {e:?}"))?;
    repo::launch(db, id, &owner).await?.map_err(|e| format!("the closed demo campaign: {e:?}"))?;
    let queue = repo::queue(db, &reviewer, &repo::QueueFilter::default(), 12).await?;
    let until = app::time_fmt::date(now() + 5 * DAY);
    let mut revoked = Vec::new();
    for (n, item) in queue.items.iter().filter(|i| i.campaign_id == id).enumerate() {
        let (decision, justification, until) = match n {
            0..=2 => (Decision::Revoke, "Not used in months; the team moved to deploy keys.", ""),
            3 => (Decision::Exception, "Release signing until the new pipeline ships next week.", until.as_str()),
            _ => (Decision::Approve, "Used daily by the release team.", ""),
        };
        let request = repo::Request {
            item_id: item.item_id,
            version: item.version,
            action: Action::Decide(decision),
            justification,
            until,
            bulk: false,
        };
        repo::decide(db, &reviewer, &request).await?.map_err(|e| format!("the closed demo campaign: {e:?}"))?;
        if decision == Decision::Revoke {
            revoked.push(item.item_id);
        }
    }
    repo::close_stage(db, id, &owner).await?.map_err(|e| format!("the closed demo campaign: {e:?}"))?;
    // The first revocation is carried out and the next import shows it gone; the second was
    // marked done ten days ago but the access is still there; the third is open.
    let tasks = app::evidence::server::remediation::list(
        db,
        &app::evidence::server::remediation::Filter { campaign_id: Some(id), ..Default::default() },
        10,
    )
    .await?;
    let task_of = |item: i64| tasks.iter().find(|t| t.item_id == item).map(|t| t.task_id);
    if let (Some(first), Some(second)) = (revoked.first().and_then(|g| task_of(*g)), revoked.get(1).and_then(|g| task_of(*g))) {
        use app::evidence::server::remediation::mark_done;
        mark_done(db, first, "Removed from the GitHub organisation (CHG-2231).", &owner, now())
            .await?
            .map_err(|e| format!("demo remediation: {e}"))?;
        mark_done(db, second, "Asked the team to delete the token (CHG-2232).", &owner, now() - 10 * DAY)
            .await?
            .map_err(|e| format!("demo remediation: {e}"))?;
        let gone: (String, String, String) = sqlx::query_as(
            "select i.external_id, a.external_id, e.name from review_item r join access_grant g on g.access_grant_id = r.access_grant_id \
             join identity i on i.identity_id = g.identity_id join entitlement e on e.entitlement_id = g.entitlement_id \
             join application a on a.application_id = e.application_id where r.item_id = $1",
        )
        .bind(revoked[0])
        .fetch_one(&db.pool)
        .await?;
        let identity = snapshot.identities.iter().position(|i| i.external_id == gone.0);
        let entitlement = snapshot
            .entitlements
            .iter()
            .position(|e| e.name == gone.2 && snapshot.applications.get(e.application as usize).is_some_and(|a| a.external_id == gone.1));
        if let (Some(identity), Some(entitlement)) = (identity, entitlement) {
            snapshot.grants.retain(|g| !(g.identity as usize == identity && g.entitlement as usize == entitlement));
        }
        apply::apply(db, snapshot.clone(), "demo seed", &Quiet).await?;
    }
    Ok(())
}

/// A reviewer group with the demo reviewer in it, ready for a campaign with the group rule.
async fn seed_demo_group(db: &Db) -> Result<(), crate::cli::AnyError> {
    use app::groups::server::repo as groups;
    let owner = demo_person(db, app::session::Role::CampaignOwner).await?;
    let id = groups::create(
        db,
        "Platform team (demo)",
        "They run the Kubernetes and AWS platforms and know which service accounts still run.",
        &owner,
    )
    .await?
    .map_err(|e| format!("the demo group: {e}"))?;
    groups::add_member(db, id, DEMO_PEOPLE[0].1, &owner).await?.map_err(|e| format!("the demo group: {e}"))?;
    Ok(())
}

/// A launched campaign over AWS prod, so the demo reviewer has a queue at once.
async fn seed_demo_campaign(db: &Db) -> Result<(), crate::cli::AnyError> {
    use app::session::server::repo as sessions;
    let (name, email) = DEMO_PEOPLE[1];
    let sign_in = sessions::SignIn {
        subject: "demo:campaign_owner",
        email: Some(email),
        display_name: name,
        idp_roles: vec![app::session::Role::CampaignOwner],
        via: "demo sign-in",
    };
    let token = sessions::sign_in(db, &sign_in, sessions::Timeouts::default()).await?;
    let owner = sessions::lookup(db, &token, sessions::Timeouts::default()).await?.ok_or("the demo campaign owner could not sign in")?;
    sessions::sign_out(db, &token).await?;
    let draft = app::campaigns::CampaignDraft {
        name: "AWS prod quarterly review (demo)".into(),
        description: "Every grant in AWS prod, reviewed by the application owner; riskiest first.".into(),
        scope_query: "app:\"AWS prod\"".into(),
        reviewer_rule: "application_owner".into(),
        fallback_reviewer: email.into(),
        stage2_reviewer: String::new(),
        named_reviewer: String::new(),
        reviewer_group: String::new(),
        deadline: app::time_fmt::date(now() + 21 * DAY),
        deadline_action: "recommendation".into(),
        justification: "high_risk_approve".into(),
        high_risk: 70,
        max_exception_days: 90,
    };
    let id = app::campaigns::server::repo::create(db, &draft, &owner).await?.map_err(|e| format!("the demo campaign: {e:?}"))?;
    app::campaigns::server::repo::launch(db, id, &owner).await?.map_err(|e| format!("the demo campaign: {e:?}"))?;
    // The owner nudges the reviewers at once, so the demo's Outbox shows a reminder beside the
    // launch notices.
    app::notifications::server::scheduler::remind_now(db, id, now()).await?;
    Ok(())
}
