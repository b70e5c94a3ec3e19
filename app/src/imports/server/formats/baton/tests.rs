use super::super::test_support::{sample, temp_file};
use super::*;

const UNEXPANDED: &str = "baton-c1z/sync.36zfOAoWMxQdISbixanQCRBiX7E.unexpanded";
const IN_PROGRESS: &str = "baton-c1z/sync-in-progress.c1z";

fn grants_of<'a>(s: &'a Snapshot, who: &str) -> Vec<(&'a str, Option<&'a str>)> {
    s.grants
        .iter()
        .filter(|g| s.identities[g.identity as usize].external_id == who)
        .map(|g| (s.entitlements[g.entitlement as usize].name.as_str(), g.granted_by.map(|n| s.names[n as usize].as_str())))
        .collect()
}

#[test]
fn a_sync_whose_grants_are_listed_imports_users_and_their_grants() {
    let s = read(&[sample(UNEXPANDED)], "baton").unwrap();
    assert_eq!(s.format, "baton");
    assert_eq!(s.identities.len(), 1000, "every user, and nothing else");
    assert!(s.identities.iter().all(|i| i.kind == IdentityKind::Human && i.status == IdentityStatus::Active));
    let first = &s.identities[0];
    assert_eq!((first.external_id.as_str(), first.display_name.as_str()), ("user:user-0000000", "User 0000000"));
    assert_eq!(first.email.as_deref(), Some("user-0@example.com"));
    assert_eq!(s.applications.len(), 1, "no app trait: one application named after the source");
    assert_eq!(s.applications[0].external_id, "baton");
    assert!(s.warnings.iter().any(|w| w.contains("did not finish") && w.contains("grant expansion")), "{:?}", s.warnings);
    // 2,500 direct user grants, then what the 409 group grants pass on to the groups' members.
    let direct = s.grants.iter().filter(|g| g.granted_by.is_none()).count();
    assert_eq!(direct, 2500);
    assert!(s.grants.len() > direct, "group grants reach members");
    assert!(s.entitlements.iter().any(|e| e.name == "Project 0000099: owner" && e.privilege().0 == crate::identities::Privilege::Admin));
}

#[test]
fn a_grant_to_a_group_reaches_its_members_and_says_through_which() {
    let s = read(&[sample(UNEXPANDED)], "baton").unwrap();
    let through_groups: Vec<(&str, Option<&str>)> = s
        .identities
        .iter()
        .flat_map(|i| grants_of(&s, &i.external_id))
        .filter(|(_, by)| by.is_some_and(|by| by.starts_with("group ")))
        .collect();
    assert!(!through_groups.is_empty());
    assert!(through_groups.iter().all(|(name, _)| !name.is_empty()));
}

#[test]
fn a_sync_stopped_before_listing_grants_is_refused() {
    let err = read(&[sample(IN_PROGRESS)], "baton").unwrap_err().to_string();
    assert!(err.contains("sync-in-progress.c1z, field `v1_sync_runs`: the sync 3ARefY5G8eOytquwYgm41Nq07IZ"), "{err}");
    assert!(err.contains("did not finish and had still to do: list-entitlements, grant-expansion, list-grants"), "{err}");
}

#[test]
fn a_finished_sync_is_chosen_over_an_unfinished_one() {
    let run = |id: &str, started: &str, ended: Option<&str>, kind: &str| c1z::SyncRun {
        sync_id: id.into(),
        started_at: started.into(),
        ended_at: ended.map(str::to_string),
        sync_token: "{}".into(),
        sync_type: kind.into(),
    };
    let runs = [
        run("old", "2024-01-01", Some("2024-01-01 01:00"), "full"),
        run("new", "2024-02-01", Some("2024-02-01 01:00"), "full"),
        run("partial", "2024-03-01", Some("2024-03-01 01:00"), "partial"),
        run("running", "2024-04-01", None, "full"),
    ];
    assert_eq!(choose("x.c1z", &runs).unwrap(), ("new".to_string(), None));
    let err = choose("x.c1z", &runs[2..3]).unwrap_err().to_string();
    assert!(err.contains("only partial syncs (partial)"), "{err}");
    assert!(choose("x.c1z", &[]).unwrap_err().to_string().contains("holds no sync"));
}

#[test]
fn a_file_without_the_magic_is_refused() {
    let (_dir, path) = temp_file("sync.c1z", b"PK\x03\x04 a zip file");
    let err = read(&[path], "baton").unwrap_err().to_string();
    assert!(err.contains("sync.c1z: not a baton .c1z file (it does not start with C1ZF)"), "{err}");
    let (_dir, path) = temp_file("sync.c1z", b"SQLite format 3\0....");
    let err = read(&[path], "baton").unwrap_err().to_string();
    assert!(err.contains("an uncompressed SQLite database"), "{err}");
}

#[test]
fn a_v3_file_is_not_supported_yet() {
    let (_dir, path) = temp_file("sync.c1z", b"C1Z3\0\x0a\x02manifest");
    let err = read(&[path], "baton").unwrap_err().to_string();
    assert!(err.contains("a v3 .c1z (magic C1Z3, a Pebble store) is not supported yet"), "{err}");
}

#[test]
fn a_truncated_file_is_refused_as_damaged() {
    let bytes = std::fs::read(sample(UNEXPANDED)).unwrap();
    for cut in [5, 6, 100, bytes.len() / 2, bytes.len() - 1] {
        let (_dir, path) = temp_file("cut.c1z", &bytes[..cut]);
        let err = read(&[path], "baton").unwrap_err().to_string();
        assert!(err.contains("cut.c1z: ") && (err.contains("truncated") || err.contains("damaged")), "cut at {cut}: {err}");
    }
}

#[test]
fn a_payload_that_is_not_sqlite_is_refused() {
    // A zstd frame of raw (uncompressed) blocks holding "hello".
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend_from_slice(&[0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x05, 0x29, 0x00, 0x00]);
    bytes.extend_from_slice(b"hello");
    let (_dir, path) = temp_file("hello.c1z", &bytes);
    let err = read(&[path], "baton").unwrap_err().to_string();
    assert!(err.contains("hello.c1z: the decompressed data is not a SQLite database"), "{err}");
}

#[test]
fn a_file_decompressing_past_the_cap_is_refused() {
    let err = read_capped(&[sample(UNEXPANDED)], "baton", 1 << 20).unwrap_err().to_string();
    assert!(err.contains("decompresses to more than 1 MiB; refused as too large"), "{err}");
}

#[test]
fn the_decompressed_database_is_removed_once_read() {
    let bytes = std::fs::read(sample(IN_PROGRESS)).unwrap();
    let db = c1z::decompress("sync-in-progress.c1z", &bytes, MAX_DECOMPRESSED_BYTES).unwrap();
    let path = db.path().to_path_buf();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 139_264);
    drop(db);
    assert!(!path.exists());
}
