//! Campaigns: scope, reviewer assignment, decisions, stages, the deadline rule and the
//! tamper-evident decision log.

use app::campaigns::server::{chain, repo};
use app::campaigns::{Action, CampaignDraft, CampaignStatus, ChainCheck, Decision};
use app::groups::server::repo as groups;
use app::session::{CurrentUser, Role};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::helpers::{TestApp, fixture};
use crate::on_both_databases;

/// A signed-in person; `who@example.com` is matched to the inventory identity with that email.
async fn person(app: &TestApp, who: &str, roles: &[Role]) -> CurrentUser {
    let token = app.session_as(who, roles).await;
    app::session::server::repo::lookup(&app.db, &token, Default::default()).await.expect("lookup").expect("signed in")
}

fn draft(scope: &str) -> CampaignDraft {
    CampaignDraft {
        name: "Q4 AWS production access".into(),
        description: "Quarterly certification".into(),
        scope_query: scope.into(),
        reviewer_rule: "application_owner".into(),
        fallback_reviewer: "fay@example.com".into(),
        deadline: app::time_fmt::date(app::db::now() + 30 * 86_400),
        deadline_action: "recommendation".into(),
        justification: "high_risk_approve".into(),
        high_risk: 70,
        max_exception_days: 90,
        ..Default::default()
    }
}

async fn launched(app: &TestApp, draft: CampaignDraft) -> i64 {
    app.import(&fixture("campaign"), "hr").await.expect("imports");
    let owner = person(app, "olga", &[Role::CampaignOwner]).await;
    let id = repo::create(&app.db, &draft, &owner).await.expect("db").expect("a valid draft");
    repo::launch(&app.db, id, &owner).await.expect("db").expect("launches");
    id
}

/// (identity, entitlement) → (reviewer, assigned by), for the items of a campaign.
async fn assignments(app: &TestApp, campaign: i64) -> Vec<(String, String, Option<String>, String)> {
    sqlx::query_as(
        "select r.identity_name, r.entitlement, v.email, r.assigned_by from review_item r left join identity v on v.identity_id = r.reviewer_id \
         where r.campaign_id = $1 order by r.identity_name, r.entitlement",
    )
    .bind(campaign)
    .fetch_all(&app.db.pool)
    .await
    .expect("items")
}

async fn item_of(app: &TestApp, campaign: i64, entitlement: &str, identity: &str) -> app::campaigns::ReviewItem {
    let id: i64 = sqlx::query_scalar("select item_id from review_item where campaign_id = $1 and entitlement = $2 and identity_name = $3")
        .bind(campaign)
        .bind(entitlement)
        .bind(identity)
        .fetch_one(&app.db.pool)
        .await
        .expect("item");
    repo::item(&app.db, id).await.expect("db").expect("item")
}

fn decide(item: &app::campaigns::ReviewItem, decision: Decision, justification: &'static str) -> repo::Request<'static> {
    repo::Request { item_id: item.item_id, version: item.version, action: Action::Decide(decision), justification, until: "", bulk: false }
}

fn refusal_text(refusal: repo::Refusal) -> String {
    match refusal {
        repo::Refusal::Invalid(m) | repo::Refusal::NotYours(m) => m,
        repo::Refusal::Conflict(item) => format!("conflict: now {:?}", item.decision),
    }
}

on_both_databases! {
    async fn application_owners_review_their_applications_and_nobody_reviews_their_own_access(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let got = assignments(&app, id).await;
        let expected: Vec<(String, String, Option<String>, String)> = vec![
            ("AKIAEXAMPLE0001", "billing-export-writer", Some("ada@example.com"), "application owner"),
            ("Ada Okafor", "AdministratorAccess", Some("fay@example.com"), "fallback: the application owner holds this access"),
            ("Ben Lindqvist", "ReadOnlyAccess", Some("ada@example.com"), "application owner"),
            ("svc-billing-export", "billing-export-writer", Some("ada@example.com"), "application owner"),
            ("svc-legacy-etl", "s3:*", Some("ada@example.com"), "application owner"),
        ]
        .into_iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.map(str::to_string), d.to_string()))
        .collect();
        assert_eq!(got, expected);

        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let queue = repo::queue(&app.db, &ada, &Default::default(), 50).await.expect("queue");
        assert_eq!(queue.open, 4);
        let risks: Vec<i64> = queue.items.iter().map(|i| i.risk_score).collect();
        assert!(risks.windows(2).all(|w| w[0] >= w[1]), "riskiest first: {risks:?}");
        assert!(queue.items.iter().all(|i| i.identity_name != "Ada Okafor"), "her own access is not in her queue");
    }

    async fn owners_review_machines_managers_review_people_and_the_rest_goes_to_the_fallback(app: TestApp) {
        let mut d = draft("");
        d.reviewer_rule = "identity_owner".into();
        let id = launched(&app, d).await;
        let got = assignments(&app, id).await;
        let find = |name: &str, ent: &str| got.iter().find(|(n, e, _, _)| n == name && e == ent).cloned().expect("item");
        assert_eq!(find("svc-billing-export", "billing-export-writer").2.as_deref(), Some("ada@example.com"), "its owner");
        assert_eq!(find("Ben Lindqvist", "ReadOnlyAccess").2.as_deref(), Some("ada@example.com"), "his manager");
        let key = find("AKIAEXAMPLE0001", "billing-export-writer");
        assert_eq!((key.2.as_deref(), key.3.as_str()), (Some("fay@example.com"), "fallback: the owner or manager is not an active person"), "owned by a machine");
        let bot = find("<script>alert('x')</script>", "repo:read");
        assert_eq!((bot.2.as_deref(), bot.3.as_str()), (Some("fay@example.com"), "fallback: the owner or manager is not an active person"), "owner terminated");
        let orphan = find("svc-legacy-etl", "s3:*");
        assert_eq!(orphan.3, "fallback: no owner or manager found");
    }

    async fn a_launched_campaign_is_frozen_against_later_imports(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let dir = crate::helpers::bundle_copy("campaign");
        let grants = std::fs::read_to_string(dir.path().join("grants.csv")).expect("read");
        std::fs::write(dir.path().join("grants.csv"), grants.replace("svc-orphan,aws-prod,s3:*,,2019-06-01,,\n", "")).expect("write");
        app.import(dir.path(), "hr").await.expect("re-import");
        assert_eq!(app.count(&format!("select count(*) from review_item where campaign_id = {id}")).await, 5);
    }

    async fn a_draft_with_a_bad_scope_or_an_unknown_reviewer_is_refused_naming_the_field(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        let owner = person(&app, "olga", &[Role::CampaignOwner]).await;
        let refused = |r: app::db::Result<Result<i64, repo::Refusal>>| refusal_text(r.expect("db").expect_err("refused"));
        assert_eq!(refused(repo::create(&app.db, &draft("risk>>3"), &owner).await).split(':').next(), Some("scope, column 6"));
        let mut d = draft("");
        d.fallback_reviewer = "nobody@example.com".into();
        assert_eq!(refused(repo::create(&app.db, &d, &owner).await), "fallback reviewer: nobody active in the inventory has the email `nobody@example.com`");
        let mut d = draft("");
        d.deadline = "2020-01-01".into();
        assert_eq!(refused(repo::create(&app.db, &d, &owner).await), "deadline: the deadline must be in the future");
        assert_eq!(app.count("select count(*) from campaign").await, 0);
    }

    async fn a_reviewer_decides_with_justification_where_the_rule_requires_it(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let orphan = item_of(&app, id, "s3:*", "svc-legacy-etl").await;
        assert!(orphan.high_risk, "risk {}", orphan.risk_score);

        let refused = repo::decide(&app.db, &ada, &decide(&orphan, Decision::Approve, "")).await.expect("db").expect_err("needs a reason");
        assert_eq!(refusal_text(refused), "a justification is required to approve this item");
        let long: &'static str = Box::leak("x".repeat(2001).into_boxed_str());
        let refused = repo::decide(&app.db, &ada, &decide(&orphan, Decision::Revoke, long)).await.expect("db").expect_err("too long");
        assert_eq!(refusal_text(refused), "the justification is 2001 characters; at most 2000");

        let decided = repo::decide(&app.db, &ada, &decide(&orphan, Decision::Revoke, "no owner, unused since 2019")).await.expect("db").expect("decided");
        assert_eq!((decided.decision, decided.decided_by.as_deref()), (Some(Decision::Revoke), Some("Test ada")));
        let logged: (String, String, Option<String>) = sqlx::query_as("select action, approver, justification from decision_log where item_id = $1")
            .bind(orphan.item_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("logged");
        assert_eq!(logged, ("revoke".into(), "Test ada".into(), Some("no owner, unused since 2019".into())));

        // An exception needs a date in the future, within the campaign's maximum.
        let key = item_of(&app, id, "billing-export-writer", "AKIAEXAMPLE0001").await;
        let mut request = decide(&key, Decision::Exception, "migration to workload identity in Q1");
        request.until = "2020-01-01";
        assert_eq!(refusal_text(repo::decide(&app.db, &ada, &request).await.expect("db").expect_err("past")), "exception until: the date must be in the future");
        let far: &'static str = Box::leak(app::time_fmt::date(app::db::now() + 200 * 86_400).into_boxed_str());
        request.until = far;
        assert_eq!(refusal_text(repo::decide(&app.db, &ada, &request).await.expect("db").expect_err("far")), "exception until: at most 90 days from today");
        let soon: &'static str = Box::leak(app::time_fmt::date(app::db::now() + 60 * 86_400).into_boxed_str());
        request.until = soon;
        let excepted = repo::decide(&app.db, &ada, &request).await.expect("db").expect("exception");
        assert_eq!(excepted.decision, Some(Decision::Exception));
        assert!(excepted.exception_until.is_some());
    }

    async fn nobody_may_decide_their_own_access_or_items_assigned_to_someone_else(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer, Role::Admin]).await;
        let fay = person(&app, "fay", &[Role::Reviewer]).await;
        let own = item_of(&app, id, "AdministratorAccess", "Ada Okafor").await;
        // Even when the item is handed to her, the server refuses.
        sqlx::query("update review_item set reviewer_id = $1 where item_id = $2")
            .bind(ada.identity_id.expect("ada is matched"))
            .bind(own.item_id)
            .execute(&app.db.pool)
            .await
            .expect("update");
        let refused = repo::decide(&app.db, &ada, &decide(&own, Decision::Approve, "fine")).await.expect("db").expect_err("own access");
        assert_eq!(refusal_text(refused), "this is your own access; someone else must review it");

        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let refused = repo::decide(&app.db, &fay, &decide(&bens, Decision::Approve, "")).await.expect("db").expect_err("not hers");
        assert_eq!(refusal_text(refused), "this item is not assigned to you");
        assert_eq!(app.count("select count(*) from decision_log where item_id is not null").await, 0);
    }

    async fn of_two_reviewers_deciding_the_same_item_exactly_one_wins(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let (revoke, approve) = (decide(&bens, Decision::Revoke, "terminated in 2025"), decide(&bens, Decision::Approve, "still needed"));
        let (first, second) = tokio::join!(repo::decide(&app.db, &ada, &revoke), repo::decide(&app.db, &ada, &approve));
        let outcomes = [first.expect("db"), second.expect("db")];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
        let loser = outcomes.into_iter().find_map(|o| o.err()).expect("one conflict");
        assert!(matches!(loser, repo::Refusal::Conflict(_)), "{loser:?}");
        assert_eq!(app.count(&format!("select count(*) from decision_log where item_id = {}", bens.item_id)).await, 1);

        // A decision can be changed until the stage closes; each change is a new entry.
        let now = repo::item(&app.db, bens.item_id).await.expect("db").expect("item");
        repo::decide(&app.db, &ada, &decide(&now, Decision::Revoke, "changed my mind")).await.expect("db").expect("changed");
        assert_eq!(app.count(&format!("select count(*) from decision_log where item_id = {}", bens.item_id)).await, 2);
    }

    async fn a_reviewer_can_hand_an_item_on_or_abstain_to_the_fallback(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let mut request = decide(&bens, Decision::Approve, "Sid runs finance access");
        request.action = Action::Reassign("sid@example.com".into());
        let moved = repo::decide(&app.db, &ada, &request).await.expect("db").expect("reassigned");
        assert_eq!(moved.reviewer.as_deref(), Some("Sid Second"));
        assert!(moved.assigned_by.starts_with("reassigned by Test ada"), "{}", moved.assigned_by);

        let key = item_of(&app, id, "billing-export-writer", "AKIAEXAMPLE0001").await;
        let mut request = decide(&key, Decision::Approve, "");
        request.action = Action::Abstain;
        let abstained = repo::decide(&app.db, &ada, &request).await.expect("db").expect("abstained");
        assert_eq!(abstained.reviewer.as_deref(), Some("Fay Fallback"));
        let actions: Vec<String> = sqlx::query_scalar("select action from decision_log where item_id is not null order by seq").fetch_all(&app.db.pool).await.expect("log");
        assert_eq!(actions, ["reassign", "abstain"]);
    }

    async fn bulk_decisions_refuse_high_risk_items(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let orphan = item_of(&app, id, "s3:*", "svc-legacy-etl").await;
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let mut both = vec![decide(&bens, Decision::Approve, ""), decide(&orphan, Decision::Approve, "")];
        both.iter_mut().for_each(|r| r.bulk = true);
        let refused = repo::decide_many(&app.db, &ada, &both).await.expect("db").expect_err("high risk inside");
        assert!(refusal_text(refused).contains("high-risk items need one decision each"));
        assert_eq!(app.count("select count(*) from review_item where decision is not null").await, 0, "all or nothing");
    }

    async fn approved_items_go_to_the_second_stage_and_the_deadline_rule_settles_the_undecided(app: TestApp) {
        let mut d = draft("app:\"AWS prod\"");
        d.stage2_reviewer = "sid@example.com".into();
        let id = launched(&app, d).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let olga = person(&app, "olga", &[Role::CampaignOwner]).await;
        let sid = person(&app, "sid", &[Role::Reviewer]).await;
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let orphan = item_of(&app, id, "s3:*", "svc-legacy-etl").await;
        repo::decide(&app.db, &ada, &decide(&bens, Decision::Approve, "kept for the audit of 2025")).await.expect("db").expect("approved");
        repo::decide(&app.db, &ada, &decide(&orphan, Decision::Revoke, "unused")).await.expect("db").expect("revoked");

        let campaign = repo::close_stage(&app.db, id, &olga).await.expect("db").expect("closed stage 1");
        assert_eq!((campaign.status, campaign.stage), (CampaignStatus::Active, 2));
        let bens = repo::item(&app.db, bens.item_id).await.expect("db").expect("item");
        assert_eq!((bens.stage, bens.reviewer.as_deref(), bens.decision), (2, Some("Sid Second"), None));
        let orphan = repo::item(&app.db, orphan.item_id).await.expect("db").expect("item");
        assert_eq!(orphan.outcome.as_deref(), Some("revoked"));
        let refused = repo::decide(&app.db, &ada, &decide(&orphan, Decision::Approve, "wait")).await.expect("db").expect_err("stage closed");
        assert_eq!(refusal_text(refused), "this campaign stage is closed; its decisions are final");
        // Undecided in stage 1: the recommendation revokes high risk (70 and up) and keeps the rest.
        let settled: Vec<(i64, Option<String>)> = sqlx::query_as(
            "select risk_score, outcome from review_item where campaign_id = $1 and stage = 1 and outcome like '% at the deadline'",
        )
        .bind(id)
        .fetch_all(&app.db.pool)
        .await
        .expect("outcomes");
        assert_eq!(settled.len(), 3, "{settled:?}");
        for (risk, outcome) in &settled {
            let expected = if *risk >= 70 { "revoked at the deadline" } else { "kept at the deadline" };
            assert_eq!(outcome.as_deref(), Some(expected), "risk {risk}");
        }

        repo::decide(&app.db, &sid, &decide(&bens, Decision::Approve, "audit access until year end")).await.expect("db").expect("stage 2 approval");
        let campaign = repo::close_stage(&app.db, id, &olga).await.expect("db").expect("closed");
        assert_eq!(campaign.status, CampaignStatus::Closed);
        let bens = repo::item(&app.db, bens.item_id).await.expect("db").expect("item");
        assert_eq!(bens.outcome.as_deref(), Some("approved"));
        assert!(matches!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Verified { .. }));
    }

    async fn the_chain_check_finds_an_edited_a_deleted_and_a_swapped_entry(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        for (entitlement, identity) in [("ReadOnlyAccess", "Ben Lindqvist"), ("billing-export-writer", "AKIAEXAMPLE0001"), ("billing-export-writer", "svc-billing-export")] {
            let item = item_of(&app, id, entitlement, identity).await;
            repo::decide(&app.db, &ada, &decide(&item, Decision::Revoke, "not needed")).await.expect("db").expect("decided");
        }
        let ChainCheck::Verified { entries, .. } = chain::verify(&app.db).await.expect("verify") else { panic!("the chain verifies") };
        assert_eq!(entries, 5, "create, launch and three decisions");

        sqlx::query("update decision_log set justification = 'needed' where seq = 3").execute(&app.db.pool).await.expect("edit");
        assert_eq!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Broken { seq: 3, reason: "its content does not match its hash (edited)".into() });
        sqlx::query("update decision_log set justification = 'not needed' where seq = 3").execute(&app.db.pool).await.expect("undo");
        assert!(matches!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Verified { .. }));

        // Swapping two entries' contents (keeping their sequence numbers) breaks the links.
        let swap = "update decision_log set item_id = case seq when 4 then (select item_id from decision_log where seq = 5) else (select item_id from decision_log where seq = 4) end where seq in (4, 5)";
        sqlx::query(swap).execute(&app.db.pool).await.expect("swap");
        assert!(matches!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Broken { seq: 4, .. }));
        sqlx::query(swap).execute(&app.db.pool).await.expect("swap back");

        sqlx::query("delete from decision_log where seq = 4").execute(&app.db.pool).await.expect("delete");
        assert_eq!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Broken { seq: 4, reason: "entry 4 is missing".into() });
        let (ok, _, err) = crate::cli::attest(&app.url, &["verify"]);
        assert!(!ok, "attest verify fails");
        assert!(err.contains("decision log BROKEN at entry 4: entry 4 is missing"), "{err}");
    }

    async fn the_approver_is_the_signed_in_person_whatever_the_request_says(app: TestApp) {
        let id = launched(&app, draft("app:\"AWS prod\"")).await;
        let token = app.session_as("ada", &[Role::Reviewer]).await;
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let body = format!("item_id={}&version={}&action=revoke&justification=left+in+2025&decided_by=Mallory&approver=Mallory", bens.item_id, bens.version);
        let request = Request::post("/api/decide_item")
            .header(header::COOKIE, format!("{}={token}", app::session::COOKIE))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        let reply = app.request(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let approver: String = sqlx::query_scalar("select approver from decision_log where item_id = $1").bind(bens.item_id).fetch_one(&app.db.pool).await.expect("logged");
        assert_eq!(approver, "Test ada");
    }
}

/// A reviewer group of the campaign fixture's people, made by Olga: `members` by their first name.
async fn group(app: &TestApp, name: &str, members: &[&str]) -> i64 {
    let olga = person(app, "olga", &[Role::CampaignOwner]).await;
    let id = groups::create(&app.db, name, "", &olga).await.expect("db").expect("a new group");
    for member in members {
        groups::add_member(&app.db, id, &format!("{member}@example.com"), &olga).await.expect("db").expect("a person of the inventory");
    }
    id
}

/// A campaign over AWS prod for the group `name`.
fn group_draft(name: &str) -> CampaignDraft {
    CampaignDraft { reviewer_rule: "group".into(), reviewer_group: name.into(), ..draft("app:\"AWS prod\"") }
}

/// (identity, entitlement) → (person, group, assigned by), for the items of a campaign.
async fn group_assignments(app: &TestApp, campaign: i64) -> Vec<(String, String, Option<String>, Option<String>, String)> {
    sqlx::query_as(
        "select r.identity_name, r.entitlement, v.email, g.name, r.assigned_by from review_item r \
         left join identity v on v.identity_id = r.reviewer_id left join reviewer_group g on g.reviewer_group_id = r.reviewer_group_id \
         where r.campaign_id = $1 order by r.identity_name, r.entitlement",
    )
    .bind(campaign)
    .fetch_all(&app.db.pool)
    .await
    .expect("items")
}

async fn text(app: &TestApp, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(&app.db.pool).await.expect("text")
}

fn names(queue: &app::campaigns::ReviewQueue) -> Vec<String> {
    let mut names: Vec<String> = queue.items.iter().map(|i| format!("{} · {}", i.identity_name, i.entitlement)).collect();
    names.sort();
    names
}

on_both_databases! {
    async fn any_member_of_a_reviewer_group_may_decide_and_the_first_decision_wins(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        group(&app, "AWS reviewers", &["ada", "sid"]).await;
        let id = launched(&app, group_draft("aws REVIEWERS")).await;
        let campaign = repo::get(&app.db, id).await.expect("db").expect("campaign");
        assert_eq!(campaign.reviewer_group.as_deref(), Some("AWS reviewers"), "found whatever the case");
        let got = group_assignments(&app, id).await;
        assert_eq!(got.len(), 5);
        for (identity, _, person, group, why) in &got {
            assert_eq!((person.as_deref(), group.as_deref(), why.as_str()), (None, Some("AWS reviewers"), "reviewer group"), "{identity}");
        }

        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let sid = person(&app, "sid", &[Role::Reviewer]).await;
        let (ada_queue, sid_queue) = (repo::queue(&app.db, &ada, &Default::default(), 50).await.expect("queue"), repo::queue(&app.db, &sid, &Default::default(), 50).await.expect("queue"));
        assert_eq!((ada_queue.open, ada_queue.items.len()), (4, 4), "all but her own access");
        assert_eq!((sid_queue.open, sid_queue.items.len()), (5, 5));
        let risks: Vec<i64> = sid_queue.items.iter().map(|i| i.risk_score).collect();
        assert!(risks.windows(2).all(|w| w[0] >= w[1]), "riskiest first: {risks:?}");
        assert!(sid_queue.items.iter().all(|i| i.reviewer_group.as_deref() == Some("AWS reviewers") && i.reviewer.is_none()));

        // Both open Ben's item at the same version; one decision is stored, the other is told.
        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        let (revoke, approve) = (decide(&bens, Decision::Revoke, "left in 2025"), decide(&bens, Decision::Approve, "still needed"));
        let (first, second) = tokio::join!(repo::decide(&app.db, &ada, &revoke), repo::decide(&app.db, &sid, &approve));
        let outcomes = [first.expect("db"), second.expect("db")];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
        assert!(outcomes.iter().any(|o| matches!(o, Err(repo::Refusal::Conflict(_)))), "{outcomes:?}");
        let approvers: Vec<String> = sqlx::query_scalar("select approver from decision_log where item_id = $1")
            .bind(bens.item_id)
            .fetch_all(&app.db.pool)
            .await
            .expect("log");
        let decided = repo::item(&app.db, bens.item_id).await.expect("db").expect("item");
        assert_eq!(approvers, [decided.decided_by.clone().expect("decided")], "one entry, by the one who won");

        // A member deciding from a stale page, through the server function, reads who was first.
        let key = item_of(&app, id, "billing-export-writer", "AKIAEXAMPLE0001").await;
        repo::decide(&app.db, &sid, &decide(&key, Decision::Approve, "")).await.expect("db").expect("sid was first");
        let token = app.session_as("ada", &[Role::Reviewer]).await;
        let reply = app
            .request(
                Request::post("/api/decide_item")
                    .header(header::COOKIE, format!("{}={token}", app::session::COOKIE))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json")
                    .body(Body::from(format!("item_id={}&version={}&action=revoke&justification=unused", key.item_id, key.version)))
                    .expect("request"),
            )
            .await;
        assert!(reply.body.contains("Test sid changed this item first: it is now `approve`"), "{} {}", reply.status, reply.body);
        assert_eq!(repo::item(&app.db, key.item_id).await.expect("db").expect("item").decision, Some(Decision::Approve));

        // Decided items stay in every member's list of the stage, as decided.
        let ada_queue = repo::queue(&app.db, &ada, &repo::QueueFilter { include_decided: true, ..Default::default() }, 50).await.expect("queue");
        assert_eq!((ada_queue.open, ada_queue.decided), (2, 2));
        // Someone outside the group may not decide its items.
        let fay = person(&app, "fay", &[Role::Reviewer]).await;
        let orphan = item_of(&app, id, "s3:*", "svc-legacy-etl").await;
        let refused = repo::decide(&app.db, &fay, &decide(&orphan, Decision::Revoke, "unused")).await.expect("db").expect_err("not in the group");
        assert_eq!(refusal_text(refused), "this item is not assigned to you");
        // The campaign page counts the group as one reviewer; analytics name who decided.
        let detail = repo::detail(&app.db, id, true).await.expect("db").expect("detail");
        assert_eq!(detail.by_reviewer.iter().map(|r| (r.name.as_str(), r.total, r.decided)).collect::<Vec<_>>(), [("AWS reviewers (group)", 5, 2)]);
        let mut deciders: Vec<&str> = detail.analytics.iter().map(|a| a.reviewer.as_str()).collect();
        deciders.sort_unstable();
        assert!(deciders.contains(&"Test sid"), "{deciders:?}");
        assert!(matches!(chain::verify(&app.db).await.expect("verify"), ChainCheck::Verified { .. }));
    }

    async fn a_group_member_never_sees_or_decides_their_own_access(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        // Ada again, in another source under the same email, holding Okta admin.
        let okta = tempfile::tempdir().expect("temp dir");
        std::fs::write(okta.path().join("identities.csv"), "id,kind,display_name,email,status\nada-okta,human,ada.okafor,ADA@example.com,active\n").expect("write");
        std::fs::write(okta.path().join("grants.csv"), "identity,application,entitlement,privilege\nada-okta,Okta,Super Admin,admin\n").expect("write");
        app.import(okta.path(), "okta").await.expect("imports okta");
        group(&app, "Admins", &["ada", "sid"]).await;
        let mut d = group_draft("Admins");
        d.scope_query = "app:\"AWS prod\" OR app:Okta".into();
        let id = launched(&app, d).await;
        assert!(group_assignments(&app, id).await.iter().all(|(_, _, _, g, _)| g.as_deref() == Some("Admins")), "Sid may review all of them");

        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let sid = person(&app, "sid", &[Role::Reviewer]).await;
        let all = repo::QueueFilter { include_decided: true, ..Default::default() };
        let queue = repo::queue(&app.db, &ada, &all, 50).await.expect("queue");
        assert_eq!(
            names(&queue),
            ["AKIAEXAMPLE0001 · billing-export-writer", "Ben Lindqvist · ReadOnlyAccess", "svc-billing-export · billing-export-writer", "svc-legacy-etl · s3:*"],
            "neither her HR identity's access nor her Okta account's"
        );
        assert_eq!((queue.open, queue.decided), (4, 0));
        let searched = repo::queue(&app.db, &ada, &repo::QueueFilter { q: Some("billing".into()), ..all.clone() }, 50).await.expect("queue");
        assert_eq!(names(&searched), ["AKIAEXAMPLE0001 · billing-export-writer", "svc-billing-export · billing-export-writer"]);

        // Asked directly, the server refuses both, and nothing is logged.
        for (entitlement, identity) in [("AdministratorAccess", "Ada Okafor"), ("Super Admin", "ada.okafor")] {
            let own = item_of(&app, id, entitlement, identity).await;
            let refused = repo::decide(&app.db, &ada, &decide(&own, Decision::Approve, "I need it")).await.expect("db").expect_err("own access");
            assert_eq!(refusal_text(refused), "this is your own access; someone else must review it");
        }
        assert_eq!(app.count("select count(*) from decision_log where item_id is not null").await, 0);

        // The other member sees them, and decides.
        assert_eq!(repo::queue(&app.db, &sid, &all, 50).await.expect("queue").open, 6);
        let okta_admin = item_of(&app, id, "Super Admin", "ada.okafor").await;
        let revoked = repo::decide(&app.db, &sid, &decide(&okta_admin, Decision::Revoke, "a second admin account")).await.expect("db").expect("sid decides");
        assert_eq!(revoked.decided_by.as_deref(), Some("Test sid"));
    }

    async fn a_group_with_no_other_member_hands_the_item_to_the_fallback(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        let ada_only = group(&app, "Ada alone", &["ada"]).await;
        let id = launched(&app, group_draft("Ada alone")).await;
        let got = group_assignments(&app, id).await;
        let own = got.iter().find(|(n, e, _, _, _)| n == "Ada Okafor" && e == "AdministratorAccess").expect("her item");
        assert_eq!(
            (own.2.as_deref(), own.3.as_deref(), own.4.as_str()),
            (Some("fay@example.com"), None, "fallback: nobody in the reviewer group but the holder of this access")
        );
        assert_eq!(got.iter().filter(|(_, _, p, g, _)| p.is_none() && g.as_deref() == Some("Ada alone")).count(), 4, "the rest go to the group");

        let fay = person(&app, "fay", &[Role::Reviewer]).await;
        assert_eq!(names(&repo::queue(&app.db, &fay, &Default::default(), 50).await.expect("queue")), ["Ada Okafor · AdministratorAccess"]);
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        assert_eq!(repo::queue(&app.db, &ada, &Default::default(), 50).await.expect("queue").open, 4);

        // She cannot leave while the group's items would have nobody to decide them.
        let olga = person(&app, "olga", &[Role::CampaignOwner]).await;
        let ada_id = ada.identity_id.expect("matched");
        let refused = groups::remove_member(&app.db, ada_only, ada_id, &olga).await.expect("db").expect_err("stranded items");
        assert_eq!(refused, "Ada Okafor cannot leave Ada alone: 4 open items of running campaigns would have nobody in the group who may decide them. Add someone first.");

        // A group of nobody active sends everything to the fallback reviewer.
        let nobody = group(&app, "Leavers", &["sid"]).await;
        sqlx::query("update identity set status = 'terminated' where email = 'sid@example.com'").execute(&app.db.pool).await.expect("update");
        let mut d = group_draft("Leavers");
        d.name = "after the leavers".into();
        let refused = repo::create(&app.db, &d, &olga).await.expect("db").expect_err("no active member");
        assert_eq!(refusal_text(refused), "reviewer group: Leavers has no active members; add people to it under Groups first");
        sqlx::query("update identity set status = 'active' where email = 'sid@example.com'").execute(&app.db.pool).await.expect("update");
        let late = repo::create(&app.db, &d, &olga).await.expect("db").expect("a valid draft");
        sqlx::query("update identity set status = 'terminated' where email = 'sid@example.com'").execute(&app.db.pool).await.expect("update");
        repo::launch(&app.db, late, &olga).await.expect("db").expect("launches");
        let whys: Vec<(Option<String>, Option<String>, String)> = group_assignments(&app, late).await.into_iter().map(|(_, _, p, g, w)| (p, g, w)).collect();
        assert!(whys.iter().all(|w| *w == (Some("fay@example.com".into()), None, "fallback: the reviewer group has no active member".into())), "{whys:?}");
        assert_eq!(app.count(&format!("select count(*) from campaign where reviewer_group_id = {nobody}")).await, 1);
    }

    async fn group_items_can_be_handed_on_abstained_and_go_on_to_the_second_stage(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        group(&app, "AWS reviewers", &["ada", "sid"]).await;
        let mut d = group_draft("AWS reviewers");
        d.stage2_reviewer = "fay@example.com".into();
        let id = launched(&app, d).await;
        let ada = person(&app, "ada", &[Role::Reviewer]).await;
        let sid = person(&app, "sid", &[Role::Reviewer]).await;

        let key = item_of(&app, id, "billing-export-writer", "AKIAEXAMPLE0001").await;
        let mut request = decide(&key, Decision::Approve, "Fay owns the billing keys");
        request.action = Action::Reassign("fay@example.com".into());
        let moved = repo::decide(&app.db, &ada, &request).await.expect("db").expect("reassigned");
        assert_eq!((moved.reviewer.as_deref(), moved.reviewer_group.as_deref()), (Some("Fay Fallback"), None));

        let svc = item_of(&app, id, "billing-export-writer", "svc-billing-export").await;
        let mut request = decide(&svc, Decision::Approve, "");
        request.action = Action::Abstain;
        let abstained = repo::decide(&app.db, &sid, &request).await.expect("db").expect("abstained");
        assert_eq!((abstained.reviewer.as_deref(), abstained.reviewer_group.as_deref()), (Some("Fay Fallback"), None));
        let sid_queue = repo::queue(&app.db, &sid, &Default::default(), 50).await.expect("queue");
        assert_eq!(sid_queue.open, 3, "handed on: out of the group's list");
        // Nobody in the group decides an item once it is handed on.
        let refused = repo::decide(&app.db, &sid, &decide(&abstained, Decision::Revoke, "x")).await.expect("db").expect_err("not the group's");
        assert_eq!(refusal_text(refused), "this item is not assigned to you");

        let bens = item_of(&app, id, "ReadOnlyAccess", "Ben Lindqvist").await;
        repo::decide(&app.db, &sid, &decide(&bens, Decision::Approve, "audit access")).await.expect("db").expect("approved");
        let olga = person(&app, "olga", &[Role::CampaignOwner]).await;
        repo::close_stage(&app.db, id, &olga).await.expect("db").expect("stage 1 closed");
        let bens = repo::item(&app.db, bens.item_id).await.expect("db").expect("item");
        assert_eq!((bens.stage, bens.reviewer.as_deref(), bens.reviewer_group.as_deref()), (2, Some("Fay Fallback"), None));
        assert_eq!(repo::queue(&app.db, &sid, &Default::default(), 50).await.expect("queue").open, 0, "stage 1 is over for the group");
    }

    async fn reviewer_group_members_are_told_of_the_launch_and_reminded_of_the_groups_items(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        group(&app, "Ada alone", &["ada"]).await;
        let id = launched(&app, group_draft("Ada alone")).await;
        let launch: Vec<(String, String)> = sqlx::query_as("select recipient, subject from outbox where kind = 'launch' and campaign_id = $1 order by recipient")
            .bind(id)
            .fetch_all(&app.db.pool)
            .await
            .expect("outbox");
        let due = app::time_fmt::date(app::db::now() + 30 * 86_400);
        assert_eq!(
            launch,
            [
                ("ada@example.com".to_string(), format!("Access review: 4 items for you in “Q4 AWS production access”, due {due}")),
                ("fay@example.com".to_string(), format!("Access review: 1 item for you in “Q4 AWS production access”, due {due}")),
            ]
        );
        let payload: String = text(&app, "select payload from outbox where kind = 'launch' and recipient = 'ada@example.com'").await;
        assert!(payload.contains("4 of them are for a reviewer group you are in"), "{payload}");

        assert_eq!(app::notifications::server::scheduler::remind_now(&app.db, id, app::db::now()).await.expect("remind"), 2);
        let reminded: Vec<String> = sqlx::query_scalar("select recipient from outbox where kind = 'reminder' order by recipient").fetch_all(&app.db.pool).await.expect("outbox");
        assert_eq!(reminded, ["ada@example.com", "fay@example.com"]);
        let payload: String = text(&app, "select payload from outbox where kind = 'reminder' and recipient = 'ada@example.com'").await;
        assert!(payload.contains("4 access review items wait for your decision"), "{payload}");
    }

    async fn groups_are_kept_by_campaign_owners_and_every_change_names_who_made_it(app: TestApp) {
        app.import(&fixture("campaign"), "hr").await.expect("imports");
        let olga = person(&app, "olga", &[Role::CampaignOwner]).await;
        let id = groups::create(&app.db, "Finance", "the finance team", &olga).await.expect("db").expect("created");
        assert_eq!(groups::create(&app.db, " finance ", "", &olga).await.expect("db"), Err("name: there is a group named `finance` already".into()));
        assert_eq!(groups::create(&app.db, "", "", &olga).await.expect("db"), Err("name: give the group a name of 1 to 100 characters".into()));
        assert_eq!(
            groups::add_member(&app.db, id, "nobody@example.com", &olga).await.expect("db"),
            Err("member: nobody active in the inventory has the email `nobody@example.com`".into())
        );
        assert_eq!(
            groups::add_member(&app.db, id, "ben@example.com", &olga).await.expect("db"),
            Err("member: nobody active in the inventory has the email `ben@example.com`".into()),
            "Ben left"
        );
        assert_eq!(groups::add_member(&app.db, id, " Fay@Example.com ", &olga).await.expect("db"), Ok("Fay Fallback".into()));
        assert_eq!(groups::add_member(&app.db, id, "fay@example.com", &olga).await.expect("db"), Err("member: Fay Fallback is in Finance already".into()));
        groups::add_member(&app.db, id, "sid@example.com", &olga).await.expect("db").expect("added");
        let fay: i64 = app.count("select identity_id from identity where email = 'fay@example.com'").await;
        assert_eq!(groups::remove_member(&app.db, id, fay, &olga).await.expect("db"), Ok("Fay Fallback".into()));

        // A group a campaign names stays; an unused one can go.
        let d = CampaignDraft { name: "finance".into(), ..group_draft("Finance") };
        repo::create(&app.db, &d, &olga).await.expect("db").expect("draft");
        assert_eq!(groups::delete(&app.db, id, &olga).await.expect("db"), Err("Finance is the reviewer group of 1 campaigns; it stays for their record".into()));
        let spare = groups::create(&app.db, "Spare", "", &olga).await.expect("db").expect("created");
        assert_eq!(groups::delete(&app.db, spare, &olga).await.expect("db"), Ok("Spare".into()));

        let listed = groups::list(&app.db).await.expect("list");
        assert_eq!(listed.iter().map(|g| (g.name.as_str(), g.members.len(), g.campaigns)).collect::<Vec<_>>(), [("Finance", 1, 1)]);
        let history: Vec<(String, String, Option<String>, String)> = groups::history(&app.db, 50)
            .await
            .expect("history")
            .into_iter()
            .rev()
            .map(|c| (c.group, c.action, c.member, c.actor))
            .collect();
        let by = "Test olga".to_string();
        assert_eq!(
            history,
            [
                ("Finance".into(), "created".into(), None, by.clone()),
                ("Finance".into(), "added".into(), Some("Fay Fallback <fay@example.com>".into()), by.clone()),
                ("Finance".into(), "added".into(), Some("Sid Second <sid@example.com>".into()), by.clone()),
                ("Finance".into(), "removed".into(), Some("Fay Fallback <fay@example.com>".into()), by.clone()),
                ("Spare".into(), "created".into(), None, by.clone()),
                ("Spare".into(), "deleted".into(), None, by.clone()),
            ]
        );

        // A draft for the group rule names an existing group.
        for (name, expected) in [("", "reviewer group: choose the group that reviews"), ("Payroll", "reviewer group: there is no group named `Payroll`")] {
            let refused = repo::create(&app.db, &group_draft(name), &olga).await.expect("db").expect_err("refused");
            assert_eq!(refusal_text(refused), expected);
        }
        // The page lists the groups for everyone who reads the estate.
        let page = app.get("/admin/groups").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Sid Second") && page.body.contains("the finance team"), "{}", page.body);
    }
}
