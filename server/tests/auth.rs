//! Sign-in through a real OpenID Connect provider (the npm `oidc-provider`, started per test).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{AtCallback, Idp, fixture, set_cookie, sign_in_at_provider};
use crate::on_both_databases;

const ATTEST: (&str, &str) = ("attest", "attest-secret");

fn callback(at: &AtCallback) -> Request<Body> {
    Request::get(&at.path_and_query)
        .header(header::COOKIE, format!("{}={}", server::auth::LOGIN_COOKIE, at.login_cookie))
        .body(Body::empty())
        .expect("request")
}

fn with_session(path: &str, token: &str) -> Request<Body> {
    Request::get(path).header(header::COOKIE, format!("{}={token}", app::session::COOKIE)).body(Body::empty()).expect("request")
}

on_both_databases! {
    async fn signing_in_at_the_provider_opens_a_session_with_roles_from_the_groups_claim(app: TestApp) {
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let at = sign_in_at_provider(&app, router.clone(), "alice").await;
        let reply = app.request_to(router.clone(), callback(&at)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.headers[header::LOCATION], "/");
        let cookies: Vec<&str> = reply.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        let session = cookies.iter().find(|c| c.starts_with("attest_session=")).expect("a session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
        let token = set_cookie(&reply, app::session::COOKIE).expect("session token");

        let page = app.request_to(router.clone(), with_session("/admin/people", &token)).await;
        assert_eq!(page.status, StatusCode::OK, "alice is in attest-admins");
        assert!(page.body.contains("Alice Admin") && page.body.contains("alice@example.com"));
        assert_eq!(
            app.count("select count(*) from role_change where role = 'admin' and action = 'granted' and actor = 'identity provider (groups claim)'").await,
            1,
            "the role change is recorded with where it came from"
        );
        let subject: String = sqlx::query_scalar("select subject from app_user where email = 'alice@example.com'").fetch_one(&app.db.pool).await.unwrap();
        assert_eq!(subject, format!("oidc:{}#alice", idp.issuer));
    }

    async fn a_sign_in_whose_state_was_tampered_with_is_refused(app: TestApp) {
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let mut at = sign_in_at_provider(&app, router.clone(), "alice").await;
        at.path_and_query = at.path_and_query.replace("state=", "state=0");
        let reply = app.request_to(router.clone(), callback(&at)).await;
        assert_eq!(reply.headers[header::LOCATION], "/sign-in?error=state");
        assert!(set_cookie(&reply, app::session::COOKIE).is_none());
        assert_eq!(app.count("select count(*) from session").await, 0, "nobody is signed in");
    }

    async fn a_callback_from_a_sign_in_started_in_another_browser_is_refused(app: TestApp) {
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let mut at = sign_in_at_provider(&app, router.clone(), "alice").await;
        at.login_cookie = "someone-elses".into();
        let reply = app.request_to(router, callback(&at)).await;
        assert_eq!(reply.headers[header::LOCATION], "/sign-in?error=state");
        assert_eq!(app.count("select count(*) from session").await, 0);
    }

    async fn a_replayed_callback_is_refused(app: TestApp) {
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let at = sign_in_at_provider(&app, router.clone(), "alice").await;
        let first = app.request_to(router.clone(), callback(&at)).await;
        assert_eq!(first.headers[header::LOCATION], "/");
        let again = app.request_to(router, callback(&at)).await;
        assert_eq!(again.headers[header::LOCATION], "/sign-in?error=state", "the same code and state work once");
        assert_eq!(app.count("select count(*) from session").await, 1);
    }

    async fn an_expired_id_token_is_refused(app: TestApp) {
        let idp = Idp::start();
        // The provider's ID tokens last an hour; attest's clock is two hours ahead.
        let router = app.oidc_router(&idp, ATTEST, 2 * 3600).await;
        let at = sign_in_at_provider(&app, router.clone(), "alice").await;
        let reply = app.request_to(router, callback(&at)).await;
        assert_eq!(reply.headers[header::LOCATION], "/sign-in?error=token");
        assert_eq!(app.count("select count(*) from session").await, 0);
    }

    async fn an_id_token_issued_to_another_application_is_refused(app: TestApp) {
        let idp = Idp::start();
        // A real token, for the provider's other client.
        let other = server::auth::Oidc::discover(idp.settings(("other-app", "other-secret"))).await.expect("discovery");
        let other_router = app.oidc_router(&idp, ("other-app", "other-secret"), 0).await;
        let at = sign_in_at_provider(&app, other_router, "alice").await;
        let query = at.path_and_query.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let param = |name: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_string).unwrap_or_default();
        let exchanged = other.exchange(&app.db, &param("code"), &param("state")).await.expect("the other client gets its token");
        let attest = server::auth::Oidc::discover(idp.settings(ATTEST)).await.expect("discovery");
        let err = attest.verify(&exchanged).await.expect_err("attest refuses a token meant for another client");
        assert_eq!(err.code(), "token");
        assert!(err.to_string().to_lowercase().contains("audience"), "{err}");
        assert!(other.verify(&exchanged).await.is_ok(), "the same token is fine for its own client");
    }

    async fn a_person_is_matched_to_their_inventory_identity_and_roles_follow_the_provider(app: TestApp) {
        app.import(&fixture("estate"), "hr").await.expect("imports");
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let at = sign_in_at_provider(&app, router.clone(), "ada").await;
        let reply = app.request_to(router.clone(), callback(&at)).await;
        let token = set_cookie(&reply, app::session::COOKIE).expect("signed in");
        let matched: String = sqlx::query_scalar(
            "select i.external_id from app_user u join identity i on i.identity_id = u.identity_id where u.email = 'ada@example.com'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        assert_eq!(matched, "u1", "matched by email");
        let page = app.request_to(router.clone(), with_session("/identities", &token)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "a reviewer does not browse the estate");
        assert!(page.body.contains("your roles do not allow this page"));

        // An admin grants the auditor role in attest; it counts from the next request.
        let ada: i64 = sqlx::query_scalar("select app_user_id from app_user where email = 'ada@example.com'").fetch_one(&app.db.pool).await.unwrap();
        app::session::server::repo::set_admin_role(&app.db, ada, app::session::Role::Auditor, true, "Test admin (#1)").await.unwrap();
        let page = app.request_to(router, with_session("/identities", &token)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(app.count("select count(*) from role_change where actor = 'Test admin (#1)' and role = 'auditor'").await, 1);
    }

    async fn the_provider_refusing_sends_the_person_back_with_a_reason(app: TestApp) {
        let idp = Idp::start();
        let router = app.oidc_router(&idp, ATTEST, 0).await;
        let reply = app.request_to(router, Request::get("/auth/callback?error=access_denied&state=x").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.headers[header::LOCATION], "/sign-in?error=provider");
    }

    async fn without_a_provider_the_provider_routes_do_not_exist(app: TestApp) {
        let reply = app.request(Request::get("/auth/sign-in").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}
