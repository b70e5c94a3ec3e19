//! Who may do what: every page, every server function and every REST endpoint, for anonymous
//! visitors and for people with each role, with the exact outcome each one gets.

use app::session::Role;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{Reply, fixture};
use crate::on_both_databases;

/// What a person gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The page or the answer.
    Ok,
    /// A page sends anonymous visitors to the sign-in page.
    SignIn,
    /// A page saying the person's roles do not allow it (HTTP 403).
    NotAllowedPage,
    /// A server function answering "please sign in".
    Unauthorized,
    /// A server function answering "you are not allowed to do that".
    Forbidden,
    /// Allowed by the role, refused by a rule (here: the item is not assigned to this person).
    Refused,
    /// An API endpoint answering 401: it takes API tokens, not browser sessions.
    NeedsToken,
    /// Allowed, but there is no such thing (HTTP 404).
    Missing,
    /// Allowed by the role, with nothing to do (here: no failed mail to send again).
    NothingToDo,
    /// A public page answering that its link is unknown.
    UnknownLink,
}
use Outcome::*;

/// The people in the matrix, in column order.
const PEOPLE: [(&str, &[Role]); 6] = [
    ("anonymous", &[]),
    ("admin", &[Role::Admin]),
    ("owner", &[Role::CampaignOwner]),
    ("reviewer", &[Role::Reviewer]),
    ("auditor", &[Role::Auditor]),
    ("nobody", &[]),
];

/// (method, path, form body) and the outcome for anonymous, admin, campaign owner, reviewer,
/// auditor, and a signed-in person with no role. `{identity}`, `{user}`, `{token}`, `{item}` and
/// `{campaign}` are filled in with real ids; `{draft}` and `{active}` with a fresh draft and a fresh
/// active campaign for each request; `{who}` with the column's person, `{group}` with a reviewer
/// group of the column's own, and `{member}` with a person in each of those groups.
const MATRIX: &[(&str, &str, &str, [Outcome; 6])] = &[
    // Pages.
    ("GET", "/", "", [SignIn, Ok, Ok, Ok, Ok, Ok]),
    ("GET", "/identities", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/identities/{identity}", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/applications", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/grants", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/risk", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/admin/people", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/tokens", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/outbox", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/mail", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/webhooks", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/risk", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/imports", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/admin/groups", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("POST", "/admin/imports/upload", "", [SignIn, Ok, NotAllowedPage, NotAllowedPage, NotAllowedPage, NotAllowedPage]),
    ("GET", "/unsubscribe/not-a-token", "", [UnknownLink, UnknownLink, UnknownLink, UnknownLink, UnknownLink, UnknownLink]),
    ("GET", "/campaigns", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/campaigns/new", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/campaigns/{campaign}", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/reviews", "", [SignIn, Ok, Ok, Ok, NotAllowedPage, NotAllowedPage]),
    ("GET", "/remediation", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/evidence", "", [SignIn, Ok, Ok, NotAllowedPage, Ok, NotAllowedPage]),
    ("GET", "/evidence/1/manifest.json", "", [SignIn, Missing, Missing, NotAllowedPage, Missing, NotAllowedPage]),
    ("GET", "/sign-in", "", [Ok, Ok, Ok, Ok, Ok, Ok]),
    // Server functions, called as the pages call them.
    ("POST", "/api/auth_status", "", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("POST", "/api/estate_overview", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/list_identities", "filter[page]=1", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/get_identity", "identity_id={identity}", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/list_applications", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/search_grants", "query=privilege%3Aadmin&page=1", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/get_risk_overview", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/admin_people", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/admin_set_role",
        "app_user_id={user}&role=reviewer&grant=true",
        [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/admin_tokens", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_create_token", "name=ci&valid_days=30&read=on", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_revoke_token", "api_token_id={token}", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/outbox", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/retry_mail", "outbox_id=0", [Unauthorized, NothingToDo, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/mail_settings", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/send_test_mail", "to=it%40example.com", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_webhooks", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_risk_settings", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_save_risk_settings", "settings[admin_points]=31", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/admin_add_sod_rule",
        "rule[application_a]=a&rule[entitlement_a]=b&rule[application_b]=c&rule[entitlement_b]=d&rule[reason]=e",
        [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/admin_remove_sod_rule", "sod_rule_id=0", [Unauthorized, NothingToDo, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/recent_imports", "", [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/admin_create_webhook",
        "url=https%3A%2F%2Ftickets.example.com%2Fhooks&description=tickets",
        [Unauthorized, Ok, Forbidden, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/admin_disable_webhook", "webhook_id=0", [Unauthorized, NothingToDo, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/admin_ping_webhook", "webhook_id=0", [Unauthorized, NothingToDo, Forbidden, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/get_campaign_mail", "campaign_id={campaign}", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/remind_reviewers", "campaign_id={campaign}", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/set_mail_schedule",
        "campaign_id={campaign}&reminder_days=7%2C3%2C1&escalate_after_days=3&close_after_days=7",
        [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/list_campaigns", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/get_campaign", "campaign_id={campaign}", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/preview_scope", "query=kind%3Ahuman&high_risk=70", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/create_campaign",
        "draft[name]=Q4&draft[description]=&draft[scope_query]=&draft[reviewer_rule]=application_owner&draft[named_reviewer]=\
         &draft[fallback_reviewer]=ada%40example.com&draft[stage2_reviewer]=&draft[deadline]=2999-01-01&draft[deadline_action]=keep\
         &draft[justification]=revoke&draft[high_risk]=70&draft[max_exception_days]=90",
        [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/launch_campaign", "campaign_id={draft}", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/close_campaign_stage", "campaign_id={active}", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/my_reviews", "", [Unauthorized, Ok, Ok, Ok, Forbidden, Forbidden]),
    (
        "POST",
        "/api/decide_item",
        "item_id={item}&version=0&action=approve&justification=ok",
        [Unauthorized, Refused, Refused, Refused, Forbidden, Forbidden],
    ),
    ("POST", "/api/decide_items", "items={item}%3A0&action=approve", [Unauthorized, Refused, Refused, Refused, Forbidden, Forbidden]),
    ("POST", "/api/reviewer_groups", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/create_reviewer_group", "name=made+by+{who}&description=", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    (
        "POST",
        "/api/add_reviewer_group_member",
        "reviewer_group_id={group}&email=ada%40example.com",
        [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden],
    ),
    (
        "POST",
        "/api/remove_reviewer_group_member",
        "reviewer_group_id={group}&identity_id={member}",
        [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden],
    ),
    ("POST", "/api/delete_reviewer_group", "reviewer_group_id={group}", [Unauthorized, Ok, Ok, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/list_remediation", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/mark_remediation_done", "task_id=999999&note=done", [Unauthorized, Refused, Refused, Forbidden, Forbidden, Forbidden]),
    ("POST", "/api/get_evidence", "", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    ("POST", "/api/create_export", "campaign={campaign}&from=&to=", [Unauthorized, Ok, Ok, Forbidden, Ok, Forbidden]),
    // The REST API takes API tokens only; a browser session is not enough.
    ("GET", "/api/v1/grants", "", [NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken]),
    ("GET", "/api/v1/export/grants.csv", "", [NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken]),
    ("GET", "/api/v1/remediation", "", [NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken]),
    ("POST", "/api/v1/sources/hr/snapshot", "", [NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken, NeedsToken]),
];

fn outcome_of(reply: &Reply) -> Option<Outcome> {
    let location = reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
    match reply.status {
        StatusCode::OK => Some(Ok),
        // A server function that sends the browser on (a new campaign opens its page).
        s if s.is_redirection() && location.is_some_and(|l| l.starts_with("/campaigns/")) => Some(Ok),
        // The Imports page's upload sends the browser back to the page with the outcome.
        s if s.is_redirection() && location.is_some_and(|l| l.starts_with("/admin/imports?")) => Some(Ok),
        StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT | StatusCode::FOUND if location == Some("/sign-in") => Some(SignIn),
        StatusCode::FORBIDDEN if reply.body.contains("<h1>Not allowed</h1>") => Some(NotAllowedPage),
        StatusCode::UNAUTHORIZED if reply.body.contains("API token") => Some(NeedsToken),
        _ if reply.body.trim() == "\"Unauthorized\"" => Some(Unauthorized),
        _ if reply.body.trim() == "\"Forbidden\"" => Some(Forbidden),
        _ if reply.body.trim() == "{\"Validation\":\"this item is not assigned to you\"}" => Some(Refused),
        _ if reply.body.trim() == "{\"Validation\":\"task 999999: only an open or failed task can be marked done\"}" => Some(Refused),
        StatusCode::NOT_FOUND if reply.body == "there is no export 1" => Some(Missing),
        _ if reply.body.trim() == "{\"Validation\":\"only a failed mail with an address can be sent again\"}" => Some(NothingToDo),
        _ if reply.body.trim() == "{\"Validation\":\"webhook 0 is disabled already or does not exist\"}" => Some(NothingToDo),
        _ if reply.body.trim() == "{\"Validation\":\"webhook 0 is disabled or does not exist\"}" => Some(NothingToDo),
        _ if reply.body.trim() == "{\"Validation\":\"rule 0 is removed already or does not exist\"}" => Some(NothingToDo),
        StatusCode::NOT_FOUND if reply.body.contains("<h1>Unknown link</h1>") => Some(UnknownLink),
        _ => None,
    }
}

on_both_databases! {
    async fn every_route_and_server_function_answers_each_role_exactly_as_the_matrix_says(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        let olga = app.session_as("olga", &[Role::CampaignOwner]).await;
        let olga = app::session::server::repo::lookup(&app.db, &olga, Default::default()).await.expect("db").expect("olga");
        let draft = app::campaigns::CampaignDraft {
            name: "matrix".into(),
            reviewer_rule: "application_owner".into(),
            fallback_reviewer: "fay@example.com".into(),
            deadline: "2999-01-01".into(),
            deadline_action: "keep".into(),
            justification: "revoke".into(),
            high_risk: 70,
            max_exception_days: 90,
            ..Default::default()
        };
        let mut drafts = Vec::new();
        let mut actives = Vec::new();
        for _ in 0..PEOPLE.len() * 2 {
            drafts.push(app::campaigns::server::repo::create(&app.db, &draft, &olga).await.expect("db").expect("draft"));
        }
        for id in drafts.split_off(PEOPLE.len()) {
            app::campaigns::server::repo::launch(&app.db, id, &olga).await.expect("db").expect("launched");
            actives.push(id);
        }
        let campaign = actives[0];
        let item: i64 = app.count(&format!("select min(item_id) from review_item where campaign_id = {campaign}")).await;
        let identity: i64 = app.count("select min(identity_id) from identity").await;
        let mut sessions = Vec::new();
        for (who, roles) in PEOPLE {
            sessions.push(if who == "anonymous" { None } else { Some(app.session_as(who, roles).await) });
        }
        // Someone for admins to grant a role to: not one of the people in the matrix.
        app.session_as("target", &[]).await;
        let user: i64 = app.count("select app_user_id from app_user where email = 'target@example.com'").await;
        let (token, _) = app::session::server::tokens::create(&app.db, "to revoke", &[app::session::TokenScope::Read], 30, "test")
            .await
            .expect("token");
        let mut groups = Vec::new();
        for (who, _) in PEOPLE {
            let group = app::groups::server::repo::create(&app.db, &format!("group of {who}"), "", &olga).await.expect("db").expect("group");
            app::groups::server::repo::add_member(&app.db, group, "sid@example.com", &olga).await.expect("db").expect("member");
            groups.push(group);
        }
        let member: i64 = app.count("select identity_id from identity where email = 'sid@example.com'").await;

        let mut wrong = Vec::new();
        for (method, path, body, expected) in MATRIX {
            for (column, ((who, _), session)) in PEOPLE.iter().zip(&sessions).enumerate() {
                let fill = |text: &str| {
                    text.replace("{identity}", &identity.to_string())
                        .replace("{user}", &user.to_string())
                        .replace("{token}", &token.api_token_id.to_string())
                        .replace("{campaign}", &campaign.to_string())
                        .replace("{item}", &item.to_string())
                        .replace("{draft}", &drafts[column].to_string())
                        .replace("{active}", &actives[column].to_string())
                        .replace("{who}", who)
                        .replace("{group}", &groups[column].to_string())
                        .replace("{member}", &member.to_string())
                };
                let mut request = Request::builder().method(*method).uri(fill(path));
                if let Some(session) = session {
                    request = request.header(header::COOKIE, format!("{}={session}", app::session::COOKIE));
                }
                if *method == "POST" && path.starts_with("/api/v1/") {
                    request = request.header(header::CONTENT_TYPE, "multipart/form-data; boundary=x");
                } else if *method == "POST" {
                    request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").header(header::ACCEPT, "application/json");
                }
                let reply = app.request(request.body(Body::from(fill(body))).expect("request")).await;
                let got = outcome_of(&reply);
                if got != Some(expected[column]) {
                    let shown: String = reply.body.chars().take(160).collect();
                    wrong.push(format!("{method} {path} as {who}: expected {:?}, got {got:?} ({} {shown})", expected[column], reply.status));
                }
            }
        }
        assert!(wrong.is_empty(), "{} on {}:\n{}", wrong.len(), app.backend, wrong.join("\n"));
    }

    async fn a_cross_site_form_cannot_change_anything_even_for_a_signed_in_admin(app: TestApp) {
        let session = app.session().await;
        let request = Request::post("/api/admin_create_token")
            .header(header::COOKIE, format!("{}={session}", app::session::COOKIE))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::HOST, "attest.test")
            .body(Body::from("name=stolen&valid_days=30&export=on"))
            .expect("request");
        let reply = app.request(request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(app.count("select count(*) from api_token").await, 0, "no token was made");

        let request = Request::post("/sign-out")
            .header(header::COOKIE, format!("{}={session}", app::session::COOKIE))
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.request(request).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.count("select count(*) from session").await, 1, "still signed in");
    }
}
