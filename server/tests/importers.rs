//! Vendor exports imported as they come, on the public samples in `fixtures/samples/`.

use std::path::PathBuf;

use app::imports::server::formats::Format;

use crate::helpers::{TestApp, samples};
use crate::on_both_databases;

/// Identities of the estate by kind, as `kind:count` sorted by kind.
async fn kinds(app: &TestApp) -> Vec<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as("select kind, count(*) from identity where ended_at is null group by kind order by kind")
        .fetch_all(&app.db.pool)
        .await
        .expect("kinds");
    rows.into_iter().map(|(kind, n)| format!("{kind}:{n}")).collect()
}

async fn totals(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("select count(*) from identity").await,
        app.count("select count(*) from access_grant").await,
        app.count("select count(*) from access_grant where ended_at is null").await,
    )
}

fn credential_reports() -> Vec<PathBuf> {
    samples(
        "aws-iam-credential-report",
        &[
            "cloudquery_exampleReportWithNilValues.csv",
            "prowler_iam_avoid_root_usage_root_not_used.csv",
            "prowler_no_setup_initial_access_key_pass.csv",
        ],
    )
}

on_both_databases! {
    async fn an_aws_credential_report_gives_service_accounts_and_keys_owned_by_their_users(app: TestApp) {
        let summary = app.import_format(Format::AwsCredentialReport, &credential_reports(), "aws").await.expect("imports");
        assert_eq!(summary.identities_added, 9, "{summary}");
        // Two root rows (their ARNs differ between the reports), and a user with neither password nor key.
        assert_eq!(kinds(&app).await, ["api_key:4", "human:3", "service_account:2"]);
        let owned: i64 = app
            .count(
                "select count(*) from identity k join identity u on u.identity_id = k.owner_identity_id \
                 where k.kind = 'api_key' and k.external_id = 'arn:aws:iam::123456789012:user/user-cli#access-key-2' \
                 and u.external_id = 'arn:aws:iam::123456789012:user/user-cli' and u.kind = 'service_account'",
            )
            .await;
        assert_eq!(owned, 1, "the key is linked to its IAM user");
        assert_eq!(app.count("select count(*) from identity where kind = 'api_key' and owner_identity_id is null").await, 0, "every key has its owner");
        let root_admin: i64 = app
            .count("select count(*) from access_grant g join entitlement e using (entitlement_id) where e.name = 'root user' and e.privilege = 'admin'")
            .await;
        assert_eq!(root_admin, 2, "each root account holds an admin entitlement");
    }

    async fn a_disabled_scim_user_and_its_groups_are_imported(app: TestApp) {
        let dir = tempfile::tempdir().expect("dir");
        let disabled = dir.path().join("former.json");
        std::fs::write(
            &disabled,
            r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-left", "userName": "left@example.com",
                "active": false, "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}]}"#,
        )
        .expect("write");
        let mut paths = samples("scim", &["scim2-models_rfc7643-8.3-enterprise_user.json", "scim2-models_rfc7643-8.4-group.json"]);
        paths.push(disabled);
        let summary = app.import_format(Format::Scim, &paths, "scim").await.expect("imports");
        assert_eq!(summary.identities_added, 3, "{summary}");
        assert_eq!(app.count("select count(*) from identity where external_id = 'u-left' and status = 'disabled'").await, 1);
        let tour_guides: i64 = app
            .count("select count(*) from access_grant g join entitlement e using (entitlement_id) join application a using (application_id) \
                    where e.name = 'Tour Guides' and a.name = 'scim' and g.ended_at is null")
            .await;
        assert_eq!(tour_guides, 3, "Babs, Mandy (named by the group) and the disabled user");
        assert_eq!(app.count("select count(*) from identity where department = 'Tour Operations'").await, 1);
    }

    async fn a_circular_group_reference_terminates_and_grants_both_groups(app: TestApp) {
        let dir = tempfile::tempdir().expect("dir");
        let user = dir.path().join("user.json");
        std::fs::write(
            &user,
            r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "ann",
                "groups": [{"value": "6c5bb468-14b2-4183-baf2-06d523e03bd3"}]}"#,
        )
        .expect("write");
        let mut paths = samples("scim", &["scim2-models_rfc7644-3.7.1-list_response-circular_reference.json"]);
        paths.push(user);
        let summary = app.import_format(Format::Scim, &paths, "scim").await.expect("imports");
        assert_eq!((summary.identities_added, summary.grants_added), (1, 2), "{summary}");
        assert_eq!(app.count("select count(*) from access_grant where granted_by = 'nested group Group B'").await, 1);
    }

    async fn reimporting_the_same_exports_changes_nothing(app: TestApp) {
        let imports: Vec<(Format, Vec<PathBuf>)> = vec![
            (Format::AwsCredentialReport, credential_reports()),
            (Format::Scim, samples("scim", &["scim-v2-rust_github_enterprise_user_list_test.json"])),
            (Format::GithubPats, samples("github-pat", &["go-github_list_fine_grained_pats.json"])),
            (Format::Okta, samples("okta", &["okta-management-openapi-spec_ListUsersQResponse.json", "okta-management-openapi-spec_AppUserListEx.json"])),
            (Format::Entra, samples("entra", &["graph-docs_v1.0_user-list_ex11_signInActivity.json", "graph-docs_v1.0_serviceprincipal-list.json"])),
            (Format::AwsAuthorizationDetails, samples("aws-iam-authorization-details", &["aws-cli_get-account-authorization-details.json"])),
        ];
        for (format, paths) in &imports {
            app.import_format(*format, paths, format.name()).await.expect("first import");
        }
        let before = totals(&app).await;
        for (format, paths) in &imports {
            let again = app.import_format(*format, paths, format.name()).await.expect("second import");
            assert_eq!(
                (again.identities_added, again.identities_changed, again.identities_ended, again.grants_added, again.grants_changed, again.grants_ended),
                (0, 0, 0, 0, 0, 0),
                "{}: {again}",
                format.name()
            );
        }
        assert_eq!(totals(&app).await, before);
        assert_eq!(app.count("select count(*) from source").await, 6);
    }

    async fn a_github_token_is_owned_by_its_user_with_its_expiry(app: TestApp) {
        app.import_format(Format::GithubPats, &samples("github-pat", &["go-github_list_fine_grained_pats.json"]), "github").await.expect("imports");
        assert_eq!(kinds(&app).await, ["human:1", "token:1"]);
        let owned = app
            .count("select count(*) from identity t join identity u on u.identity_id = t.owner_identity_id where t.kind = 'token' and u.external_id = 'octocat' and t.expires_at is not null")
            .await;
        assert_eq!(owned, 1);
        assert_eq!(app.count("select count(*) from entitlement where privilege = 'read' and privilege_inferred = 0").await, 2);
    }

    async fn okta_and_entra_exports_give_people_and_machines(app: TestApp) {
        let okta = samples("okta", &[
            "okta-management-openapi-spec_ListUsersResponse.json",
            "okta-management-openapi-spec_ListUsersSearchResponse.json",
            "okta-management-openapi-spec_StandardAndCustomRolesListResponse.json",
            "okta-management-openapi-spec_ListAppGrantsEx.json",
        ]);
        let summary = app.import_format(Format::Okta, &okta, "okta").await.expect("okta");
        assert_eq!(summary.grants_added, 5, "{summary}");
        let entra = samples("entra", &["graph-docs_v1.0_user-list_ex11_signInActivity.json", "graph-docs_v1.0_serviceprincipal-list.json", "graph-docs_beta_reportroot-list-serviceprincipalsigninactivities.json"]);
        let summary = app.import_format(Format::Entra, &entra, "entra").await.expect("entra");
        assert_eq!(summary.warnings.len(), 1, "{summary}");
        assert_eq!(kinds(&app).await, ["human:6", "service_account:2"]);
        assert_eq!(app.count("select count(*) from identity where status = 'disabled'").await, 1, "the staged Okta user");
        assert_eq!(app.count("select count(*) from access_grant g join entitlement e using (entitlement_id) where e.privilege = 'admin'").await, 3);
    }

    async fn a_malformed_file_is_refused_naming_its_line_and_earlier_data_is_untouched(app: TestApp) {
        app.import_format(Format::Scim, &samples("scim", &["scim-v2-rust_github_enterprise_user_list_test.json"]), "idp").await.expect("first import");
        let before = totals(&app).await;
        let elided = samples("aws-access-advisor", &["aws-cli_get-service-last-accessed-details.elided.txt"]);
        let err = app.import_format(Format::Scim, &elided, "idp").await.expect_err("refused");
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(err.contains("aws-cli_get-service-last-accessed-details.elided.txt line 5"), "{err}");
        assert!(err.contains("not valid JSON: expected value"), "{err}");
        let truncated = samples("aws-access-advisor", &["aws-cli_get-organizations-access-report.elided.txt"]);
        for format in Format::ALL {
            let err = app.import_format(format, &truncated, "aws").await.expect_err("refused");
            // A binary format has no lines; it says the file is not one of its own.
            let place = if format == Format::Baton { "elided.txt: not a baton .c1z file" } else { "aws-cli_get-organizations-access-report.elided.txt line" };
            assert!(err.contains(place), "{}: {err}", format.name());
        }
        let error = samples("scim", &["scim-v2-rust_rfc7644_s3.6_error_response.json"]);
        let err = app.import_format(Format::Scim, &error, "idp").await.expect_err("refused");
        assert!(err.contains("a SCIM error response (status 404"), "{err}");
        assert_eq!(totals(&app).await, before, "the earlier snapshot is as it was");
        assert_eq!(app.count("select count(*) from import_run").await, 1);
    }

    async fn the_cli_imports_each_format_with_the_format_as_default_source(app: TestApp) {
        let paths = samples("github-pat", &["go-github_list_fine_grained_pats.json"]);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
            .args(["import", "github-pats", paths[0].to_str().expect("path")])
            .env("DATABASE_URL", &app.url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("attest runs");
        let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{err}");
        assert!(out.contains("source `github-pats`:"), "{out}");
        assert!(out.contains("identities: 2 added, 0 changed, 0 ended"), "{out}");

        let elided = samples("aws-access-advisor", &["aws-cli_get-service-last-accessed-details.elided.txt"]);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
            .args(["import", "entra", elided[0].to_str().expect("path"), "--source", "tenant"])
            .env("DATABASE_URL", &app.url)
            .output()
            .expect("attest runs");
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("line 5"), "{err}");
        assert_eq!(app.count("select count(*) from source where name = 'tenant'").await, 0);
    }

    async fn a_baton_sync_imports_its_users_and_grants_through_groups_and_again_changes_nothing(app: TestApp) {
        let paths = samples("baton-c1z", &["sync.36zfOAoWMxQdISbixanQCRBiX7E.unexpanded"]);
        let summary = app.import_format(Format::Baton, &paths, "baton").await.expect("imports");
        assert_eq!(summary.identities_added, 1000, "{summary}");
        assert!(summary.grants_added > 2500, "2,500 direct grants and those through groups: {summary}");
        assert!(summary.warnings.iter().any(|w| w.contains("did not finish")), "{summary}");
        assert_eq!(kinds(&app).await, ["human:1000"]);
        assert_eq!(app.count("select count(*) from access_grant where granted_by is null").await, 2500);
        assert!(app.count("select count(*) from access_grant where granted_by like 'group %'").await > 0, "members hold what their group was granted");
        let before = totals(&app).await;
        let again = app.import_format(Format::Baton, &paths, "baton").await.expect("second import");
        assert_eq!(
            (again.identities_added, again.identities_changed, again.identities_ended, again.grants_added, again.grants_changed, again.grants_ended),
            (0, 0, 0, 0, 0, 0),
            "{again}"
        );
        assert_eq!(totals(&app).await, before);

        let unfinished = samples("baton-c1z", &["sync-in-progress.c1z"]);
        let err = app.import_format(Format::Baton, &unfinished, "baton").await.expect_err("refused");
        assert!(err.contains("did not finish and had still to do"), "{err}");
        assert_eq!(totals(&app).await, before, "the grants it had not listed are not ended");
    }

    async fn an_access_advisor_report_gives_each_service_as_a_grant_with_its_last_use(app: TestApp) {
        let paths = samples("aws-access-advisor", &["botocore_GetServiceLastAccessedDetails.json"]);
        let summary = app.import_format(Format::AwsAccessAdvisor, &paths, "aws-advisor").await.expect("imports");
        assert_eq!((summary.identities_added, summary.grants_added), (1, 2), "{summary}");
        let used: Vec<(String, Option<i64>)> = sqlx::query_as(
            "select e.name, g.last_used_at from access_grant g join entitlement e using (entitlement_id) order by e.name",
        )
        .fetch_all(&app.db.pool)
        .await
        .expect("grants");
        assert_eq!(used, [("service: iam".to_string(), Some(1_540_408_260)), ("service: s3".to_string(), None)]);
        assert_eq!(app.count("select count(*) from identity where external_id = 'arn:aws:iam::123456789012:user/AWSExampleUser01'").await, 1);
    }
}
