use crate::helpers::fixture;
use crate::on_both_databases;

async fn risk_of(app: &crate::helpers::TestApp, identity: &str, entitlement: &str) -> (i64, String) {
    let row: (i64, String) = sqlx::query_as(
        "select g.risk_score, g.risk_words from access_grant g join identity i on i.identity_id = g.identity_id \
         join entitlement e on e.entitlement_id = g.entitlement_id where i.external_id = $1 and e.name = $2",
    )
    .bind(identity)
    .bind(entitlement)
    .fetch_one(&app.db.pool)
    .await
    .expect("grant");
    row
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
        let dir = crate::helpers::bundle_copy("estate");
        let path = dir.path().join("grants.csv");
        let text = std::fs::read_to_string(&path).unwrap().replace("u2,aws-prod,ReadOnlyAccess,read,2020-01-16,2025-01-30,\n", "");
        std::fs::write(&path, text).unwrap();
        app.import(dir.path(), "hr").await.expect("imports");
        assert_eq!(risk_of(&app, "u2", "ReadOnlyAccess").await, (0, String::new()));
        let identity_score: i64 = sqlx::query_scalar("select risk_score from identity where external_id = 'u2'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(identity_score, 0);
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
}
