use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::fixture;
use crate::on_both_databases;

on_both_databases! {
    async fn the_identities_page_lists_imported_identities_with_hostile_names_escaped(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/identities").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for name in ["Ada Okafor", "svc-billing-export", "svc-legacy-etl", "AKIAEXAMPLE0001"] {
            assert!(page.body.contains(name), "{name} is listed");
        }
        assert!(page.body.contains("&lt;script&gt;alert("), "the bot's name is shown, escaped");
        assert!(!page.body.contains("<script>alert("), "and never as markup");
        assert!(page.body.contains("1–6 of 6"), "the pager counts");
    }

    async fn filtering_to_service_accounts_without_an_owner_lists_only_those(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/identities?kind=service_account&owner=absent").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("svc-legacy-etl"));
        assert!(page.body.contains("no owner"));
        assert!(!page.body.contains("svc-billing-export"), "it has an owner");
        assert!(!page.body.contains("Ada Okafor"), "humans are filtered out");
    }

    async fn searching_matches_names_emails_and_ids_and_treats_wildcards_literally(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/identities?q=BEN%40EXAMPLE").await;
        assert!(page.body.contains("Ben Lindqvist"));
        assert!(page.body.contains("1–1 of 1"));
        let page = app.get("/identities?q=%25").await;
        assert!(page.body.contains("Nothing matches"), "% is not a wildcard");
        let page = app.get("/identities?q=lindq").await;
        assert!(page.body.contains("Ben Lindqvist"), "a part of a name, in any case");
        let page = app.get("/identities?q=ORPH").await;
        assert!(page.body.contains("svc-legacy-etl"), "a part of an id");
        let page = app.get("/identities?q=%22%3Cscript").await;
        assert!(page.body.contains("Nothing matches"), "quotes and markup are searched for as text");
        let page = app.get("/identities?q=%3Cscript").await;
        assert!(page.body.contains("&lt;script&gt;"), "found, and shown escaped");
    }

    async fn an_identity_renamed_by_a_later_import_is_found_by_its_new_name_only(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let dir = crate::helpers::bundle_copy("estate");
        let path = dir.path().join("identities.csv");
        let text = std::fs::read_to_string(&path).expect("reads").replace("Ben Lindqvist", "Benedikt Lindgren");
        std::fs::write(&path, text).expect("writes");
        app.import(dir.path(), "hr").await.expect("imports");
        assert!(app.get("/identities?q=lindgren").await.body.contains("Benedikt Lindgren"));
        assert!(app.get("/identities?q=lindqvist").await.body.contains("Nothing matches"));
    }

    async fn a_filter_with_an_unknown_kind_explains_itself(app: TestApp) {
        let page = app.get("/identities?kind=robot").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("unknown kind `robot`"), "{}", page.body);
    }

    async fn an_identity_page_shows_its_grants_owner_and_credential(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let id: i64 = sqlx::query_scalar("select identity_id from identity where external_id = 'svc-billing'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        let page = app.get(&format!("/identities/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("billing-export-writer"));
        assert!(page.body.contains("Ada Okafor"), "the owner, resolved by email");
        assert!(page.body.contains("nightly billing export"));
        assert!(page.body.contains("Grants (1 active)"));
        assert!(page.body.contains("AKIAEXAMPLE0001"), "the key it owns");
    }

    async fn an_unknown_identity_is_not_found(app: TestApp) {
        let page = app.get("/identities/999999").await;
        assert!(page.body.contains("not found: identity 999999"), "{}", page.body);
    }

    async fn the_applications_page_lists_owners_and_admin_grants(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/applications").await;
        assert!(page.body.contains("AWS prod"));
        assert!(page.body.contains("GitHub"));
        assert!(page.body.contains("no owner"), "GitHub has none");
    }

    async fn the_overview_counts_what_needs_attention(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let page = app.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("machine identities without an owner"));
        assert!(page.body.contains("disabled or terminated identities still holding grants"));
    }

    async fn pages_send_anonymous_visitors_to_sign_in(app: TestApp) {
        for path in ["/", "/identities", "/identities/1", "/applications"] {
            let reply = app.request(Request::get(path).body(Body::empty()).unwrap()).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(reply.headers[header::LOCATION], "/sign-in", "{path}");
        }
        let reply = app.request(Request::get("/sign-in").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    async fn a_forged_session_cookie_is_treated_as_anonymous(app: TestApp) {
        let request = Request::get("/identities").header(header::COOKIE, "attest_session=0000").body(Body::empty()).unwrap();
        assert_eq!(app.request(request).await.status, StatusCode::SEE_OTHER);
    }

    async fn the_demo_sign_in_exists_only_in_demo_mode(app: TestApp) {
        let post = || Request::post("/demo/sign-in").header(header::ORIGIN, "http://localhost").header(header::HOST, "localhost").body(Body::empty()).unwrap();
        assert_eq!(app.request(post()).await.status, StatusCode::NOT_FOUND);
        let mut app = app;
        app.demo = true;
        let reply = app.request(post()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(cookie.starts_with("attest_session="));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let token = cookie.split(';').next().unwrap().to_string();
        let page = app.request(Request::get("/identities").header(header::COOKIE, &token).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Demo mode"), "every page says so");
        assert!(page.body.contains("Demo Admin"));
    }

    async fn signing_out_ends_the_session(app: TestApp) {
        let token = app.session().await;
        let cookie = format!("attest_session={token}");
        let reply = app.request(Request::post("/sign-out").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let page = app.request(Request::get("/identities").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "the old cookie no longer works");
    }

    async fn cross_site_posts_are_refused(app: TestApp) {
        let token = app.session().await;
        let request = Request::post("/sign-out")
            .header(header::COOKIE, format!("attest_session={token}"))
            .header(header::ORIGIN, "https://evil.example")
            .header(header::HOST, "attest.example.com")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.request(request).await.status, StatusCode::FORBIDDEN);
        let request = Request::post("/sign-out").header("sec-fetch-site", "cross-site").body(Body::empty()).unwrap();
        assert_eq!(app.request(request).await.status, StatusCode::FORBIDDEN);
    }

    async fn health_checks_the_database(app: TestApp) {
        let reply = app.request(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "ok"));
        app.db.pool.close().await;
        let reply = app.request(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    async fn responses_carry_security_headers(app: TestApp) {
        let reply = app.request(Request::get("/sign-in").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.headers["x-frame-options"], "DENY");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    }
}
