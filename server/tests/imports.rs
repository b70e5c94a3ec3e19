use std::fs;

use crate::helpers::{TestApp, bundle_copy, fixture};
use crate::on_both_databases;

async fn estate_counts(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        app.count("select count(*) from identity").await,
        app.count("select count(*) from access_grant").await,
        app.count("select count(*) from access_grant where ended_at is null").await,
        app.count("select count(*) from application").await,
    )
}

/// Replaces `from` with `to` in one file of a bundle.
fn edit(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} contains {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

on_both_databases! {
    async fn importing_a_bundle_stores_identities_grants_and_applications(app: TestApp) {
        let summary = app.import(&fixture("estate"), "hr").await.expect("imports");
        assert_eq!((summary.identities_added, summary.grants_added, summary.applications_added), (6, 7, 2), "{}", app.backend);
        assert_eq!(estate_counts(&app).await, (6, 7, 7, 2));
        assert_eq!(app.count("select count(*) from entitlement where privilege = 'admin' and privilege_inferred = 1").await, 2, "AdministratorAccess and s3:* read as admin");
    }

    async fn after_an_import_the_database_still_refuses_a_grant_for_an_identity_that_does_not_exist(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        // Four connections at once: on SQLite that is every one the pool keeps, the import's among them.
        let mut connections = Vec::new();
        for _ in 0..4 {
            connections.push(app.db.pool.acquire().await.expect("a connection"));
        }
        for connection in &mut connections {
            let inserted = sqlx::query(
                "insert into access_grant (source_id, identity_id, entitlement_id, created_at, updated_at) \
                 values ((select min(source_id) from source), 999999, (select min(entitlement_id) from entitlement), 0, 0)",
            )
            .execute(&mut **connection)
            .await;
            assert!(inserted.is_err(), "{}: a grant for a missing identity is refused", app.backend);
        }
    }

    async fn a_first_import_of_many_identities_leaves_every_index_in_place(app: TestApp) {
        // Large enough that SQLite builds the identity indexes after the rows instead of with them.
        let indexes = "select count(*) from sqlite_master where type = 'index' and tbl_name = 'identity'";
        let indexes = if app.db.backend == app::db::Backend::Sqlite { indexes } else { "select count(*) from pg_indexes where tablename = 'identity'" };
        let before = app.count(indexes).await;
        let dir = tempfile::tempdir().expect("dir");
        let mut identities = String::from("id,kind,display_name,email,owner,department\n");
        for n in 0..25_000 {
            identities.push_str(&format!("u{n:05},human,Person {n},p{n}@example.com,,Dept {}\n", n % 7));
        }
        identities.push_str("svc-payments,service_account,Payments batch,,p7@example.com,\n");
        fs::write(dir.path().join("identities.csv"), identities).expect("write");
        fs::write(dir.path().join("grants.csv"), "identity,application,entitlement\nsvc-payments,billing,admin\nu00001,billing,read\n").expect("write");

        let summary = app.import(dir.path(), "hr").await.expect("imports");
        assert_eq!(summary.identities_added, 25_001);
        assert_eq!(app.count(indexes).await, before, "{}: every index is back", app.backend);
        assert_eq!(app.count("select count(*) from identity i join identity o on o.identity_id = i.owner_identity_id where o.external_id = 'u00007'").await, 1);
        assert_eq!(app.count("select count(*) from identity where department = 'Dept 3'").await, 3_571);
        let page = app.get("/identities?q=payments").await;
        assert!(page.body.contains("Payments batch"), "the name search finds it");
        let page = app.get("/identities?q=person%2024998").await;
        assert!(page.body.contains("Person 24998"), "the name search finds the last of the many");

        // Identities imported one by one afterwards are found too.
        let later = tempfile::tempdir().expect("dir");
        fs::write(later.path().join("identities.csv"), "id,kind,display_name
svc-ledger,service_account,Ledger sync
").expect("write");
        fs::write(later.path().join("grants.csv"), "identity,application,entitlement
svc-ledger,billing,read
").expect("write");
        app.import(later.path(), "ledger").await.expect("imports");
        let page = app.get("/identities?q=ledger").await;
        assert!(page.body.contains("Ledger sync"), "{}: the name search finds an identity added later", app.backend);
    }

    async fn reimporting_the_same_bundle_changes_nothing(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("first import");
        let before = estate_counts(&app).await;
        let updated: i64 = app.count("select coalesce(max(updated_at), 0) from access_grant").await;
        let again = app.import(&fixture("estate"), "hr").await.expect("second import");
        assert_eq!(
            (again.identities_added, again.identities_changed, again.identities_ended, again.grants_added, again.grants_changed, again.grants_ended),
            (0, 0, 0, 0, 0, 0)
        );
        assert_eq!(estate_counts(&app).await, before);
        assert_eq!(app.count("select coalesce(max(updated_at), 0) from access_grant").await, updated);
        assert_eq!(app.count("select count(*) from import_run").await, 2, "both runs are recorded");
    }

    async fn a_grant_missing_from_the_next_snapshot_is_ended_and_kept(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("first import");
        let dir = bundle_copy("estate");
        edit(dir.path(), "grants.csv", "svc-orphan,aws-prod,s3:*,,2019-06-01,,\n", "");
        let summary = app.import(dir.path(), "hr").await.expect("second import");
        assert_eq!(summary.grants_ended, 1);
        assert_eq!(estate_counts(&app).await, (6, 7, 6, 2), "the ended grant is still stored");
        let ended: i64 = app
            .count("select count(*) from access_grant g join entitlement e on e.entitlement_id = g.entitlement_id where e.name = 's3:*' and g.ended_at is not null")
            .await;
        assert_eq!(ended, 1);

        // It comes back when a later snapshot has it again.
        let summary = app.import(&fixture("estate"), "hr").await.expect("third import");
        assert_eq!((summary.grants_added, summary.grants_changed), (0, 1));
        assert_eq!(estate_counts(&app).await, (6, 7, 7, 2));
    }

    async fn a_changed_usage_date_counts_as_a_change(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("first import");
        let dir = bundle_copy("estate");
        edit(dir.path(), "grants.csv", "u1,github,repo:push,write,2021-03-02,2026-11-18,", "u1,github,repo:push,write,2021-03-02,2026-11-21,");
        edit(dir.path(), "identities.csv", "Ada Okafor", "Ada Okafor-Hopper");
        let summary = app.import(dir.path(), "hr").await.expect("second import");
        assert_eq!((summary.grants_changed, summary.identities_changed), (1, 1));
    }

    async fn sources_are_separate_snapshots(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("hr");
        app.import(&fixture("estate"), "aws").await.expect("aws");
        assert_eq!(estate_counts(&app).await, (12, 14, 14, 4));
    }

    async fn owners_and_managers_resolve_to_identities_by_email_or_id(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let resolved = |external: &'static str, column: &'static str, target: &'static str| {
            let db = app.db.clone();
            async move {
                let sql = format!(
                    "select count(*) from identity i join identity o on o.identity_id = i.{column}_identity_id \
                     where i.external_id = '{external}' and o.external_id = '{target}'"
                );
                sqlx::query_scalar::<_, i64>(&sql).fetch_one(&db.pool).await.expect("query")
            }
        };
        assert_eq!(resolved("svc-billing", "owner", "u1").await, 1, "by email");
        assert_eq!(resolved("key-1", "owner", "svc-billing").await, 1, "by id: a key owned by its service account");
        assert_eq!(resolved("u2", "manager", "u1").await, 1);
        assert_eq!(app.count("select count(*) from identity where external_id = 'svc-orphan' and owner_identity_id is null").await, 1);
    }

    async fn a_bad_row_refuses_the_whole_import_naming_file_line_and_field(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("first import");
        let before = estate_counts(&app).await;
        let dir = bundle_copy("estate");
        edit(dir.path(), "identities.csv", "svc-orphan,service_account", "svc-orphan,robot");
        edit(dir.path(), "grants.csv", "u2,aws-prod,ReadOnlyAccess,read,2020-01-16", "u2,aws-prod,ReadOnlyAccess,read,2020-02-30");
        fs::write(dir.path().join("grants.csv"), fs::read_to_string(dir.path().join("grants.csv")).unwrap() + "ghost,github,repo:read,,,,\n").unwrap();
        let err = app.import(dir.path(), "hr").await.expect_err("refused");
        assert!(err.contains("nothing was changed (3 rejected)"), "{err}");
        assert!(err.contains("identities.csv line 5, field `kind`: unknown kind `robot`"), "{err}");
        assert!(err.contains("grants.csv line 4, field `granted_at`: `2020-02-30` is not a date"), "{err}");
        assert!(err.contains("grants.csv line 9, field `identity`: unknown identity `ghost`"), "{err}");
        assert_eq!(estate_counts(&app).await, before, "nothing stored was lost or half-written");
    }

    async fn a_file_that_is_not_utf8_is_refused_naming_the_field(app: TestApp) {
        let dir = bundle_copy("estate");
        let path = dir.path().join("identities.csv");
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.windows(3).position(|w| w == b"Ben").unwrap();
        bytes[at + 1] = 0xE9; // Latin-1 é
        fs::write(&path, bytes).unwrap();
        let err = app.import(dir.path(), "hr").await.expect_err("refused");
        assert!(err.contains("identities.csv line 3, field `display_name`: not UTF-8 text"), "{err}");
        assert_eq!(estate_counts(&app).await, (0, 0, 0, 0));
    }

    async fn a_missing_required_column_is_refused(app: TestApp) {
        let dir = bundle_copy("estate");
        edit(dir.path(), "grants.csv", "identity,application,entitlement,", "identity,app,entitlement,");
        let err = app.import(dir.path(), "hr").await.expect_err("refused");
        assert!(err.contains("grants.csv line 1, field `application`: required column missing"), "{err}");
        assert_eq!(estate_counts(&app).await, (0, 0, 0, 0));
    }

    async fn a_row_with_too_many_fields_is_refused(app: TestApp) {
        let dir = bundle_copy("estate");
        edit(dir.path(), "grants.csv", "bot-x,github,repo:read,,2024-01-01,2026-01-01,", "bot-x,github,repo:read,,2024-01-01,2026-01-01,,extra");
        let err = app.import(dir.path(), "hr").await.expect_err("refused");
        assert!(err.contains("grants.csv line 8: the row has 8 fields, the header has 7"), "{err}");
    }

    async fn unknown_columns_are_a_warning_not_an_error(app: TestApp) {
        let dir = bundle_copy("estate");
        let path = dir.path().join("applications.csv");
        let text = fs::read_to_string(&path).unwrap().replace("criticality\n", "criticality,cost_center\n").replace("high\n", "high,CC-1\n").replace("medium\n", "medium,\n");
        fs::write(&path, text).unwrap();
        let summary = app.import(dir.path(), "hr").await.expect("imports");
        assert_eq!(summary.warnings, vec!["applications.csv: unknown column `cost_center` ignored".to_string()]);
    }

    async fn strings_are_stored_exactly_as_given(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let name: String = sqlx::query_scalar("select display_name from identity where external_id = 'bot-x'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(name, "<script>alert('x')</script>");
        let purpose: String = sqlx::query_scalar("select purpose from identity where external_id = 'bot-x'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(purpose, "posts \"deploy\" notices");
    }

    async fn every_value_of_an_import_larger_than_one_write_is_stored_as_given(app: TestApp) {
        // More rows than one bulk statement takes, so the values cross several of them.
        let name = |n: usize| format!("Zoë \"Q\" O'Brien; drop table identity; -- 🚀 {n}");
        let dir = tempfile::tempdir().expect("dir");
        let mut identities = String::from("id,kind,display_name,email,department,last_active_at,purpose\n");
        let mut grants = String::from("identity,application,entitlement,privilege,granted_at,last_used_at,granted_by\n");
        for n in 0..23_456 {
            let email = if n % 3 == 0 { String::new() } else { format!("p{n}@example.com") };
            let used = if n % 5 == 0 { String::new() } else { format!("2026-{:02}-{:02}", n % 12 + 1, n % 28 + 1) };
            identities.push_str(&format!("u{n},api_key,\"{}\",{email},Dept {},{used},\"line one\nline two\"\n", name(n).replace('"', "\"\""), n % 7));
            grants.push_str(&format!("u{n},billing,role-{},write,2025-01-{:02},{used},\"{}\"\n", n % 40, n % 28 + 1, name(n).replace('"', "\"\"")));
        }
        fs::write(dir.path().join("identities.csv"), identities).expect("write");
        fs::write(dir.path().join("grants.csv"), grants).expect("write");

        let summary = app.import(dir.path(), "hr").await.expect("imports");
        assert_eq!((summary.identities_added, summary.grants_added), (23_456, 23_456));
        for n in [0, 9_999, 10_000, 12_345, 23_455] {
            let (display, email, purpose, used): (String, Option<String>, String, Option<i64>) =
                sqlx::query_as("select display_name, email, purpose, last_active_at from identity where external_id = $1")
                    .bind(format!("u{n}"))
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("identity");
            assert_eq!(display, name(n), "{}: identity {n}", app.backend);
            assert_eq!(email.is_none(), n % 3 == 0, "{}: identity {n}'s email", app.backend);
            assert_eq!(purpose, "line one\nline two");
            assert_eq!(used.is_none(), n % 5 == 0, "{}: identity {n}'s last activity", app.backend);
            let (by, privilege): (String, String) = sqlx::query_as(
                "select g.granted_by, e.privilege from access_grant g join identity i on i.identity_id = g.identity_id \
                 join entitlement e on e.entitlement_id = g.entitlement_id where i.external_id = $1",
            )
            .bind(format!("u{n}"))
            .fetch_one(&app.db.pool)
            .await
            .expect("grant");
            assert_eq!((by, privilege), (name(n), "write".to_string()), "{}: grant {n}", app.backend);
        }
        assert_eq!(app.count("select count(*) from identity where email is null").await, 7_819);
        assert_eq!(app.count("select count(*) from access_grant where last_used_at is null").await, 4_692);
        assert_eq!(app.count("select count(*) from grant_score").await, 23_456, "every new grant has its score");
    }

    async fn the_demo_estate_has_every_kind_and_thousands_of_grants(app: TestApp) {
        let summary = server::generate::seed_demo(&app.db, 42, 400).await.expect("seeds");
        assert_eq!(summary.identities_added, 400);
        assert_eq!(summary.grants_added, 3200);
        let kinds = app.count("select count(distinct kind) from identity").await;
        assert_eq!(kinds, 8);
        assert!(app.count("select count(*) from identity where kind <> 'human' and owner is null").await > 20, "orphaned machine identities");
        assert!(app.count("select count(*) from identity where status = 'terminated'").await > 0);
        assert_eq!(app.count("select count(*) from reviewer_group_member").await, 1, "a reviewer group with the demo reviewer in it");
        // Seeding again refreshes, it does not duplicate.
        let again = server::generate::seed_demo(&app.db, 42, 400).await.expect("seeds again");
        assert_eq!(again.identities_added, 0);
        assert_eq!(app.count("select count(*) from identity").await, 400);
    }
}

#[tokio::test]
async fn a_view_or_trigger_in_a_database_file_cannot_read_the_rows_an_import_lends_to_sqlite() {
    let app = TestApp::sqlite().await;
    let created = sqlx::query("create view lent as select c0 from attest_rows(1)").execute(&app.db.pool).await;
    let read = match created {
        Ok(_) => sqlx::query("select * from lent").fetch_all(&app.db.pool).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let refused = read.expect_err("refused").to_string();
    assert!(refused.contains("unsafe use of virtual table"), "{refused}");
}
