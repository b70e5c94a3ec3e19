use leptos::prelude::*;

use crate::campaigns::{CampaignDetail, CampaignDraft, CampaignRow, ReviewItem, ReviewQueue, ScopePreview};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::session::Permission;

/// Items shown at once in a reviewer's queue.
pub const QUEUE_SIZE: i64 = 50;

#[cfg(feature = "ssr")]
fn refused(refusal: crate::campaigns::server::repo::Refusal) -> AppError {
    use crate::campaigns::server::repo::Refusal;
    match refusal {
        Refusal::Invalid(message) => AppError::Validation(message),
        Refusal::NotYours(message) => {
            tracing::warn!(%message, "refused a campaign request");
            AppError::Validation(message)
        }
        Refusal::Conflict(item) => AppError::Conflict(match (&item.decision, &item.decided_by) {
            (Some(decision), Some(by)) => format!(
                "{by} changed this item first: it is now `{}`. The list shows it as it is now; decide again if you disagree.",
                decision.as_str()
            ),
            _ => format!(
                "this item changed since you opened it (it is with {} now). The list shows it as it is now.",
                match (&item.reviewer, &item.reviewer_group) {
                    (Some(person), _) => person.clone(),
                    (None, Some(group)) => format!("the group {group}"),
                    (None, None) => "nobody".to_string(),
                }
            ),
        }),
    }
}

#[server(endpoint = "list_campaigns")]
pub async fn list_campaigns() -> Result<Vec<CampaignRow>, AppError> {
    crate::session::server::require(Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    Ok(crate::campaigns::server::repo::list(&state.db).await?)
}

/// How many current grants a scope takes in, with the riskiest; for the draft form.
#[server(endpoint = "preview_scope")]
pub async fn preview_scope(query: String, high_risk: i64) -> Result<ScopePreview, AppError> {
    crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    crate::campaigns::server::repo::preview(&state.db, &query, high_risk.clamp(1, 100))
        .await?
        .map_err(|e| AppError::Validation(format!("scope, column {}: {}", e.column, e.message)))
}

#[server(endpoint = "create_campaign")]
pub async fn create_campaign(draft: CampaignDraft) -> Result<i64, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let id = crate::campaigns::server::repo::create(&state.db, &draft, &user).await?.map_err(refused)?;
    tracing::info!(user = %user.display_name, campaign = id, "campaign drafted");
    leptos_axum::redirect(&format!("/campaigns/{id}"));
    Ok(id)
}

#[server(endpoint = "launch_campaign")]
pub async fn launch_campaign(campaign_id: i64) -> Result<i64, AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let items = crate::campaigns::server::repo::launch(&state.db, campaign_id, &user).await?.map_err(refused)?;
    tracing::info!(user = %user.display_name, campaign = campaign_id, items, "campaign launched");
    Ok(items)
}

#[server(endpoint = "close_campaign_stage")]
pub async fn close_campaign_stage(campaign_id: i64) -> Result<(), AppError> {
    let user = crate::session::server::require(Permission::RunCampaigns).await?;
    let state = crate::state::app_state()?;
    let campaign = crate::campaigns::server::repo::close_stage(&state.db, campaign_id, &user).await?.map_err(refused)?;
    tracing::info!(user = %user.display_name, campaign = campaign_id, status = campaign.status.as_str(), "campaign stage closed");
    Ok(())
}

#[server(endpoint = "get_campaign")]
pub async fn get_campaign(campaign_id: i64) -> Result<CampaignDetail, AppError> {
    let user = crate::session::server::require(Permission::ViewEstate).await?;
    let state = crate::state::app_state()?;
    crate::campaigns::server::repo::detail(&state.db, campaign_id, user.may(Permission::RunCampaigns))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("campaign {campaign_id}")))
}

/// The signed-in reviewer's queue across campaigns, riskiest first.
#[server(endpoint = "my_reviews")]
pub async fn my_reviews(kind: Option<String>, q: Option<String>, include_decided: Option<bool>) -> Result<ReviewQueue, AppError> {
    let user = crate::session::server::require(Permission::Review).await?;
    let state = crate::state::app_state()?;
    let filter = crate::campaigns::server::repo::QueueFilter { kind, q, include_decided: include_decided.unwrap_or(false) };
    Ok(crate::campaigns::server::repo::queue(&state.db, &user, &filter, QUEUE_SIZE).await?)
}

/// `action` is approve, revoke, exception, abstain or reassign; the approver is the signed-in
/// person, never a field of the request.
#[server(endpoint = "decide_item")]
pub async fn decide_item(
    item_id: i64,
    version: i64,
    action: String,
    justification: Option<String>,
    until: Option<String>,
    reassign_to: Option<String>,
) -> Result<ReviewItem, AppError> {
    let user = crate::session::server::require(Permission::Review).await?;
    let state = crate::state::app_state()?;
    let action = parse_action(&action, reassign_to.as_deref())?;
    let request = crate::campaigns::server::repo::Request {
        item_id,
        version,
        action,
        justification: justification.as_deref().unwrap_or(""),
        until: until.as_deref().unwrap_or(""),
        bulk: false,
    };
    let item = crate::campaigns::server::repo::decide(&state.db, &user, &request).await?.map_err(refused)?;
    tracing::info!(user = %user.display_name, item = item_id, decision = ?request.action, "review decision");
    Ok(item)
}

/// One decision on several items: `items` is `id:version,id:version…`. Refused as a whole if
/// any item is high risk or changed meanwhile.
#[server(endpoint = "decide_items")]
pub async fn decide_items(items: String, action: String, justification: Option<String>) -> Result<usize, AppError> {
    let user = crate::session::server::require(Permission::Review).await?;
    let state = crate::state::app_state()?;
    let action = match parse_action(&action, None)? {
        a @ crate::campaigns::Action::Decide(crate::campaigns::Decision::Approve | crate::campaigns::Decision::Revoke) => a,
        _ => return Err(AppError::Validation("only approve and revoke can be given to several items at once".into())),
    };
    let mut requests = Vec::new();
    for pair in items.split(',').filter(|p| !p.trim().is_empty()) {
        let parsed = pair.trim().split_once(':').and_then(|(id, v)| Some((id.parse::<i64>().ok()?, v.parse::<i64>().ok()?)));
        let Some((item_id, version)) = parsed else { return Err(AppError::Validation(format!("`{pair}` is not an item:version pair"))) };
        requests.push(crate::campaigns::server::repo::Request {
            item_id,
            version,
            action: action.clone(),
            justification: justification.as_deref().unwrap_or(""),
            until: "",
            bulk: true,
        });
    }
    if requests.is_empty() || requests.len() > 500 {
        return Err(AppError::Validation("select 1 to 500 items".into()));
    }
    let n = crate::campaigns::server::repo::decide_many(&state.db, &user, &requests).await?.map_err(refused)?;
    tracing::info!(user = %user.display_name, items = n, decision = ?action, "bulk review decision");
    Ok(n)
}

#[cfg(feature = "ssr")]
fn parse_action(action: &str, reassign_to: Option<&str>) -> Result<crate::campaigns::Action, AppError> {
    use crate::campaigns::{Action, Decision};
    match action {
        "abstain" => Ok(Action::Abstain),
        "reassign" => match reassign_to.map(str::trim).filter(|e| !e.is_empty()) {
            Some(email) => Ok(Action::Reassign(email.to_string())),
            None => Err(AppError::Validation("reassign: give the email of the person who should review this".into())),
        },
        other => Decision::parse(other).map(Action::Decide).map_err(AppError::Validation),
    }
}
