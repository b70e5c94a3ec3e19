use std::process::Command;

use crate::helpers::fixture;
use crate::on_both_databases;

pub(crate) fn attest(url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("attest runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

on_both_databases! {
    async fn the_cli_imports_a_folder_named_after_its_source_and_lists_it_for_scripts(app: TestApp) {
        let estate = fixture("estate");
        let (ok, out, err) = attest(&app.url, &["import", "csv", estate.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert!(out.contains("source `estate`:"), "{out}");
        assert!(out.contains("identities: 6 added, 0 changed, 0 ended"), "{out}");
        assert!(out.contains("grants:     7 added"), "{out}");

        let (ok, out, _) = attest(&app.url, &["grants", "--format", "csv"]);
        assert!(ok);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("identity,kind,application,entitlement,privilege,granted_at,last_used_at,granted_by,risk,factors"));
        assert!(out.contains("svc-legacy-etl,service_account,AWS prod,s3:*,admin,2019-06-01,,,"), "{out}");

        let (ok, out, _) = attest(&app.url, &["identities", "--format", "json", "--limit", "2"]);
        assert!(ok);
        let rows: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(rows.as_array().map(Vec::len), Some(2));

        let (ok, out, _) = attest(&app.url, &["identities"]);
        assert!(ok);
        assert!(out.contains("(6 rows)"), "{out}");
    }

    async fn the_cli_scores_every_grant_again_and_brings_back_explanations_that_went_stale(app: TestApp) {
        let estate = fixture("estate");
        let (ok, _, err) = attest(&app.url, &["import", "csv", estate.to_str().unwrap()]);
        assert!(ok, "{err}");
        let as_imported = app.grant_scores().await;
        assert!(as_imported.iter().any(|g| !g.2.is_empty()), "some grants are explained");
        // As after an upgrade, or a day later, when the words no longer say what is stored.
        sqlx::query("update access_grant set risk_words = 'stale', risk_hash = 0, risk_rules = ''")
            .execute(&app.db.pool)
            .await
            .expect("stale");
        sqlx::query("update grant_score set risk_score = 0").execute(&app.db.pool).await.expect("stale");

        let (ok, out, err) = attest(&app.url, &["rescore"]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("{} active grants scored", as_imported.len())), "{out}");
        assert_eq!(app.grant_scores().await, as_imported, "every score and explanation is back");
    }

    async fn the_cli_reports_bad_input_and_exits_non_zero(app: TestApp) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("identities.csv"), "id,kind,display_name\nx,human,\n").unwrap();
        std::fs::write(dir.path().join("grants.csv"), "identity,application,entitlement\n").unwrap();
        let (ok, _, err) = attest(&app.url, &["import", "csv", dir.path().to_str().unwrap(), "--source", "hr"]);
        assert!(!ok);
        assert!(err.contains("identities.csv line 2, field `display_name`: must not be empty"), "{err}");
        assert_eq!(app.count("select count(*) from source").await, 0);
    }
}

#[test]
fn serving_without_sign_in_configured_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let output = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env_remove("ATTEST_DEMO")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sign-in is not configured"));
}
