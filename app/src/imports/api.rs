use leptos::prelude::*;

use crate::error::AppError;
use crate::imports::ImportsPage;

/// The formats an admin can upload and the latest imports of every source.
#[server(endpoint = "recent_imports")]
pub async fn recent_imports() -> Result<ImportsPage, AppError> {
    crate::session::server::require(crate::session::Permission::ManageAccess).await?;
    let state = crate::state::app_state()?;
    let runs = crate::imports::server::apply::recent_runs(&state.db, 50).await?;
    let mut formats = vec![("csv".to_string(), "CSV bundle (identities.csv, grants.csv, applications.csv)".to_string())];
    formats.extend(crate::imports::server::formats::Format::ALL.iter().map(|f| (f.name().to_string(), describe(f.name()).to_string())));
    Ok(ImportsPage { formats, runs, max_upload_mb: (state.max_upload_bytes >> 20) as u64, now: crate::db::now() })
}

/// What a format's files are, in the words of the vendor's export.
#[cfg(feature = "ssr")]
fn describe(format: &str) -> &str {
    match format {
        "scim" => "SCIM 2.0 Users, Groups or ListResponse JSON",
        "aws-credential-report" => "AWS IAM credential report (CSV)",
        "aws-authorization-details" => "AWS GetAccountAuthorizationDetails JSON",
        "aws-access-advisor" => "AWS service last accessed details JSON",
        "github-pats" => "GitHub organisation fine-grained personal access tokens JSON",
        "okta" => "Okta users, app users and group memberships JSON",
        "entra" => "Microsoft Graph users and service principals JSON (with sign-in activity)",
        "baton" => "ConductorOne baton .c1z file",
        other => other,
    }
}
