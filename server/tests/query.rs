use crate::helpers::{TestApp, fixture};
use crate::on_both_databases;

async fn matching(app: &TestApp, query: &str) -> Vec<(String, String)> {
    let rows = app::identities::server::repo::query_grants(&app.db, query, true, 100, 0)
        .await
        .expect("database")
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let total = app::identities::server::repo::count_grants(&app.db, query, 100).await.expect("database").expect("parses");
    assert_eq!(total as usize, rows.len());
    let db_rows: Vec<(String, String)> = rows.into_iter().map(|g| (g.identity, g.entitlement)).collect();
    db_rows
}

on_both_databases! {
    async fn the_documented_queries_find_what_they_say(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        assert_eq!(matching(&app, "kind:service_account owner:none").await, vec![("svc-legacy-etl".into(), "s3:*".into())]);
        let admin_idle = matching(&app, "privilege:admin idle>30d").await;
        assert!(admin_idle.contains(&("svc-legacy-etl".into(), "s3:*".into())), "{admin_idle:?}");
        assert!(admin_idle.iter().all(|(_, e)| e == "s3:*" || e == "AdministratorAccess"), "{admin_idle:?}");
        assert_eq!(matching(&app, r#"app:"AWS prod" kind:api_key rotated>90d"#).await, vec![("AKIAEXAMPLE0001".into(), "billing-export-writer".into())]);
        assert_eq!(matching(&app, "status:terminated active-grants>0").await, vec![("Ben Lindqvist".into(), "ReadOnlyAccess".into())]);
        let risky_machines = matching(&app, "risk>=70 -kind:human").await;
        assert!(risky_machines.contains(&("svc-legacy-etl".into(), "s3:*".into())), "{risky_machines:?}");
        assert!(!risky_machines.iter().any(|(i, _)| i == "Ben Lindqvist"));
        assert_eq!(matching(&app, "(kind:bot OR kind:api_key) -factor:no_owner").await.len(), 2);
        assert_eq!(matching(&app, "factor:inactive_identity").await, vec![("Ben Lindqvist".into(), "ReadOnlyAccess".into())]);
        assert_eq!(matching(&app, "").await.len(), 7);
    }

    async fn a_broad_query_is_counted_only_up_to_its_cap(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let count = |query: &'static str, cap: i64| {
            let db = app.db.clone();
            async move { app::identities::server::repo::count_grants(&db, query, cap).await.expect("database").expect("parses") }
        };
        assert_eq!(count("", 3).await, 4, "one past the cap says there are more");
        assert_eq!(count("", 100).await, 7);
        assert_eq!(count("kind:service_account owner:none", 3).await, 1);
    }

    async fn pages_of_the_riskiest_grants_follow_on_from_each_other(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        for query in ["", "-kind:human", "privilege:admin"] {
            let page = |limit: i64, offset: i64| {
                let db = app.db.clone();
                async move {
                    let rows = app::identities::server::repo::query_grants(&db, query, true, limit, offset).await.expect("database").expect("parses");
                    rows.into_iter().map(|g| (g.risk_score, g.access_grant_id)).collect::<Vec<_>>()
                }
            };
            let all = page(100, 0).await;
            assert!(all.windows(2).all(|w| w[0] >= w[1]), "riskiest first, newest first among equals: {all:?}");
            let mut paged = Vec::new();
            for offset in (0..all.len() as i64).step_by(2) {
                paged.extend(page(2, offset).await);
            }
            assert_eq!(paged, all, "{query}");
        }
    }

    async fn injection_attempts_are_just_values_that_match_nothing(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        for query in [r#"app:"x' or '1'='1""#, r#"name:"'; drop table access_grant; --""#, r#"entitlement:"%""#, "name:_"] {
            assert!(matching(&app, query).await.is_empty(), "{query}");
        }
        assert_eq!(app.count("select count(*) from access_grant").await, 7);
    }

    async fn a_wrong_query_on_the_grants_page_says_where_and_what(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/grants?query=owmer%3Anone").await;
        assert_eq!(page.status, axum::http::StatusCode::OK);
        assert!(page.body.contains("unknown field `owmer`, did you mean `owner`? at 1"), "{}", page.body);
        let page = app.get("/grants?query=kind%3Aservice_account%20owner%3Anone").await;
        assert!(page.body.contains("svc-legacy-etl"));
        assert!(!page.body.contains("svc-billing-export"));
        assert!(page.body.contains("1–1 of 1"));
    }
}

#[tokio::test]
async fn the_cli_prints_ranked_grants_for_a_query_and_points_at_mistakes() {
    let app = TestApp::sqlite().await;
    app.import(&fixture("estate"), "hr").await.expect("imports");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_attest")).args(args).env("DATABASE_URL", &app.url).output().expect("runs")
    };
    let out = run(&["grants", "--query", "privilege:admin", "--sort", "risk", "--format", "csv"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("svc-legacy-etl,"), "the orphaned admin key ranks first: {text}");
    let out = run(&["grants", "--query", "kind:human (risk>50"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("           ^\nerror: unbalanced parenthesis: this `(` is never closed at 12"), "{err}");
}
