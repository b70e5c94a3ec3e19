use crate::helpers::fixture;
use crate::on_both_databases;

async fn risk_of(app: &crate::helpers::TestApp, identity: &str, entitlement: &str) -> (i64, String) {
    let row: (i64, String) = sqlx::query_as(
        "select s.risk_score, g.risk_words from access_grant g join grant_score s on s.access_grant_id = g.access_grant_id \
         join identity i on i.identity_id = g.identity_id \
         join entitlement e on e.entitlement_id = g.entitlement_id where i.external_id = $1 and e.name = $2",
    )
    .bind(identity)
    .bind(entitlement)
    .fetch_one(&app.db.pool)
    .await
    .expect("grant");
    row
}

/// The estate fixture without u2's ReadOnlyAccess on AWS prod, as a next snapshot that ends it.
fn estate_without_a_grant_of_u2() -> tempfile::TempDir {
    let dir = crate::helpers::bundle_copy("estate");
    let path = dir.path().join("grants.csv");
    let text = std::fs::read_to_string(&path).unwrap().replace("u2,aws-prod,ReadOnlyAccess,read,2020-01-16,2025-01-30,\n", "");
    std::fs::write(&path, text).unwrap();
    dir
}

on_both_databases! {
    async fn every_grant_is_scored_after_an_import_with_its_factors_in_words(app: TestApp) {
        let summary = app.import(&fixture("estate"), "hr").await.expect("imports");
        assert_eq!(summary.grants_scored, 7);
        let (terminated, words) = risk_of(&app, "u2", "ReadOnlyAccess").await;
        assert_eq!(terminated, 100, "terminated but still granted, on a high-criticality application");
        assert!(words.starts_with("identity terminated but still granted"), "{words}");
        let (orphan, words) = risk_of(&app, "svc-orphan", "s3:*").await;
        assert!(words.contains("no owner") && words.contains("admin (inferred)"), "{words}");
        let (owned_reader, _) = risk_of(&app, "bot-x", "repo:read").await;
        assert!(orphan > owned_reader, "{orphan} > {owned_reader}");
        let identity_score: i64 = sqlx::query_scalar("select risk_score from identity where external_id = 'u2'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(identity_score, 100, "an identity carries its riskiest grant's score");
    }

    async fn an_ended_grant_carries_no_risk(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let dir = estate_without_a_grant_of_u2();
        app.import(dir.path(), "hr").await.expect("imports");
        assert_eq!(risk_of(&app, "u2", "ReadOnlyAccess").await, (0, String::new()));
        let identity_score: i64 = sqlx::query_scalar("select risk_score from identity where external_id = 'u2'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(identity_score, 0);
    }

    async fn a_grant_that_comes_back_in_a_later_snapshot_is_scored_again(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let scored = risk_of(&app, "u2", "ReadOnlyAccess").await;
        let dir = estate_without_a_grant_of_u2();
        app.import(dir.path(), "hr").await.expect("imports");
        app.import(&fixture("estate"), "hr").await.expect("imports");
        assert_eq!(risk_of(&app, "u2", "ReadOnlyAccess").await, scored);
        let identity_score: i64 = sqlx::query_scalar("select risk_score from identity where external_id = 'u2'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(identity_score, scored.0);
    }

    async fn the_identities_page_can_list_the_riskiest_first(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/identities?sort=risk").await;
        let ben = page.body.find("Ben Lindqvist").expect("listed");
        let ada = page.body.find("Ada Okafor").expect("listed");
        assert!(ben < ada, "the terminated identity comes first");
        let page = app.get("/identities?sort=loudest").await;
        assert!(page.body.contains("unknown sort `loudest`"));
    }

    async fn an_identity_page_explains_each_grants_score(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let id: i64 = sqlx::query_scalar("select identity_id from identity where external_id = 'svc-orphan'").fetch_one(&app.db.pool).await.unwrap();
        let page = app.get(&format!("/identities/{id}")).await;
        assert!(page.body.contains("no owner"), "{}", page.body);
        assert!(page.body.contains("admin (inferred)"));
        assert!(page.body.contains("risk "), "the score is labelled, not only coloured");
    }

    async fn the_risk_page_shows_the_distribution_factors_and_riskiest_grants(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/risk").await;
        assert!(page.body.contains("Distribution of scores"));
        assert!(page.body.contains("<svg"));
        assert!(page.body.contains("disabled or terminated, still granted"));
        assert!(page.body.contains("identity terminated but still granted"));
    }

    async fn the_server_scores_the_estate_again_on_its_own_and_brings_back_explanations_that_went_stale(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let as_imported = app.grant_scores().await;
        // As a day later, when the words no longer say how long a grant has gone unused.
        sqlx::query("update access_grant set risk_words = 'stale', risk_hash = 0").execute(&app.db.pool).await.expect("stale");
        sqlx::query("update grant_score set risk_score = 0").execute(&app.db.pool).await.expect("stale");

        let schedule = server::rescore::spawn(app.db.clone(), std::time::Duration::from_millis(100));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while app.grant_scores().await != as_imported {
            assert!(std::time::Instant::now() < deadline, "the scores were not brought back: {:?}", app.grant_scores().await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        schedule.abort();
    }
}

/// The estate bundle with a `sod_rules.csv` of `rules` (lines after the header).
fn estate_with_rules(rules: &str) -> tempfile::TempDir {
    let dir = crate::helpers::bundle_copy("estate");
    std::fs::write(dir.path().join("sod_rules.csv"), format!("application_a,entitlement_a,application_b,entitlement_b,reason\n{rules}"))
        .expect("writes");
    dir
}

on_both_databases! {
    async fn holding_both_sides_of_a_separation_of_duties_rule_raises_both_grants_with_the_reason(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let (before, _) = risk_of(&app, "u1", "repo:push").await;
        let dir = estate_with_rules("aws-prod,AdministratorAccess,GitHub,repo:push,changes code and deploys it unreviewed\n");
        app.import(dir.path(), "hr").await.expect("imports");
        let (after, words) = risk_of(&app, "u1", "repo:push").await;
        assert!(words.contains("toxic combination with AWS prod: AdministratorAccess (changes code and deploys it unreviewed)"), "{words}");
        assert!(after > before, "{after} > {before}");
        let (_, words) = risk_of(&app, "u1", "AdministratorAccess").await;
        assert!(words.contains("toxic combination with GitHub: repo:push"), "{words}");
        let page = app.get("/risk").await;
        assert!(page.body.contains("toxic combination (separation of duties)"));
        let page = app.get("/admin/risk").await;
        assert!(page.body.contains("changes code and deploys it unreviewed"), "the rule is listed");
        assert!(page.body.contains("from the hr bundle"));

        // A bundle without sod_rules.csv keeps the rules; an empty one removes them.
        app.import(&fixture("estate"), "hr").await.expect("imports");
        assert!(risk_of(&app, "u1", "repo:push").await.1.contains("toxic combination"));
        app.import(estate_with_rules("").path(), "hr").await.expect("imports");
        assert_eq!(risk_of(&app, "u1", "repo:push").await.0, before);
        assert_eq!(app.count("select count(*) from sod_rule where removed_by = 'import by test'").await, 1, "kept, marked removed");
    }

    async fn a_grant_scores_the_same_whether_it_arrived_in_this_import_or_an_earlier_one(app: TestApp) {
        // New grants are scored as they are written; scoring the whole estate again afterwards
        // must find nothing to change, across sources and with a rule both sides of which
        // arrive in the same import.
        let rules = estate_with_rules("aws-prod,AdministratorAccess,GitHub,repo:push,changes code and deploys it unreviewed\n");
        app.import(rules.path(), "hr").await.expect("imports");
        app.import(&fixture("estate"), "contractors").await.expect("imports");
        let stored = || async {
            let grants: Vec<(i64, i64, String, String)> = sqlx::query_as(
                "select g.access_grant_id, s.risk_score, g.risk_words, g.risk_rules from access_grant g \
                 join grant_score s on s.access_grant_id = g.access_grant_id order by g.access_grant_id",
            )
            .fetch_all(&app.db.pool)
            .await
            .expect("grants");
            let identities: Vec<(i64, i64)> =
                sqlx::query_as("select identity_id, risk_score from identity order by identity_id").fetch_all(&app.db.pool).await.expect("identities");
            (grants, identities)
        };
        let as_imported = stored().await;
        assert!(as_imported.0.iter().any(|g| g.2.contains("toxic combination")), "the rule is among the words");
        app::scoring::server::repo::rescore(&app.db).await.expect("scores");
        assert_eq!(stored().await, as_imported);
    }

    async fn a_bad_rule_in_sod_rules_csv_is_refused_naming_line_and_field_and_nothing_is_stored(app: TestApp) {
        let dir = estate_with_rules("aws-prod,AdministratorAccess,GitHub,repo:push,fine\naws-prod,s3:*,GitHub,repo:read,\n");
        let error = app.import(dir.path(), "hr").await.expect_err("refused");
        assert!(error.contains("sod_rules.csv") && error.contains('3') && error.contains("reason"), "{error}");
        assert_eq!(app.count("select count(*) from identity").await, 0);
        assert_eq!(app.count("select count(*) from sod_rule").await, 0);
    }

    async fn an_admin_changes_a_weight_and_every_grant_is_scored_again_with_the_change_recorded(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let (before, _) = risk_of(&app, "svc-orphan", "s3:*").await;
        let token = app.session_as("iris", &[app::session::Role::Admin]).await;
        let page = app.get("/admin/risk").await;
        assert!(page.body.contains("Points: machine identity without owner"), "the settings are listed with their labels");
        let mut form: Vec<String> = app::scoring::Settings::default()
            .fields()
            .into_iter()
            .map(|f| format!("settings[{}]={}", f.key, if f.key == "no_owner_points" { 0 } else { f.value }))
            .collect();
        let reply = app.post_form(&token, "/api/admin_save_risk_settings", &form.join("&")).await;
        assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.body);
        assert!(reply.body.contains("Points: machine identity without owner 30 → 0"), "{}", reply.body);
        let (after, words) = risk_of(&app, "svc-orphan", "s3:*").await;
        assert!(after < before && !words.contains("no owner"), "{after} < {before}: {words}");
        let page = app.get("/admin/risk").await;
        assert!(page.body.contains("Test iris"), "the change names who made it");

        // Out of range: refused, naming the setting; nothing changes.
        form[0] = "settings[cadence_human_days]=0".into();
        let reply = app.post_form(&token, "/api/admin_save_risk_settings", &form.join("&")).await;
        assert!(reply.body.contains("Inactive after (people), days: must be between 1 and 3650, not 0"), "{}", reply.body);
        assert_eq!(app.count("select count(*) from risk_settings_change").await, 1);
    }

    async fn an_admin_adds_and_removes_a_rule_on_the_settings_page_and_scores_follow(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let token = app.session_as("iris", &[app::session::Role::Admin]).await;
        let body = "rule[application_a]=AWS+prod&rule[entitlement_a]=AdministratorAccess&rule[application_b]=github&rule[entitlement_b]=repo%3Apush&rule[reason]=deploys+own+code";
        let reply = app.post_form(&token, "/api/admin_add_sod_rule", body).await;
        assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.body);
        assert!(risk_of(&app, "u1", "repo:push").await.1.contains("toxic combination with AWS prod: AdministratorAccess (deploys own code)"));
        let id: i64 = sqlx::query_scalar("select sod_rule_id from sod_rule").fetch_one(&app.db.pool).await.expect("stored");
        let page = app.get("/admin/risk").await;
        assert!(page.body.contains("by Test iris"), "{}", page.body);
        let reply = app.post_form(&token, "/api/admin_remove_sod_rule", &format!("sod_rule_id={id}")).await;
        assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.body);
        assert!(!risk_of(&app, "u1", "repo:push").await.1.contains("toxic"));
        let removed_by: String = sqlx::query_scalar("select removed_by from sod_rule").fetch_one(&app.db.pool).await.expect("kept");
        assert_eq!(removed_by, "Test iris");
        let reply = app.post_form(&token, "/api/admin_add_sod_rule", "rule[application_a]=x&rule[entitlement_a]=y&rule[application_b]=x&rule[entitlement_b]=y&rule[reason]=same").await;
        assert!(reply.body.contains("both sides name the same entitlement"), "{}", reply.body);
    }
}
