use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{date_or_dash, error_view, thousands};
use crate::evidence::api::{CreateExport, MarkRemediationDone, get_evidence, list_remediation};
use crate::evidence::{EXPORT_FILES, ExportRecord, MANIFEST, RemediationStatus, RemediationTask};
use crate::time_fmt;

/// Revocations to carry out, and what the imports since have shown.
#[component]
pub fn RemediationPage() -> impl IntoView {
    let query = use_query_map();
    let done = ServerAction::<MarkRemediationDone>::new();
    let list = Resource::new(
        move || (query.with(|q| (q.get("campaign"), q.get("status"))), done.version().get()),
        |((campaign, status), _)| list_remediation(campaign.and_then(|c| c.parse().ok()), status),
    );
    view! {
        <Title text="Remediation · attest" />
        <section class="page">
            <h1>"Remediation"</h1>
            <p class="lede">
                "Every revocation is a task. Someone carries it out and marks it done; the next import of its source verifies it, \
                 or shows it failed when the access is still there after the campaign's grace period."
            </p>
            <form method="get" class="filters">
                <label>"Status "
                    <select name="status">
                        <option value="">"any"</option>
                        {RemediationStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
                    </select>
                </label>
                <input type="hidden" name="campaign" value=move || query.with(|q| q.get("campaign").unwrap_or_default()) />
                <button type="submit">"Filter"</button>
            </form>
            {move || done.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading tasks…"</p> }>
                {move || Suspend::new(async move {
                    let list = match list.await {
                        Ok(list) => list,
                        Err(e) => return error_view(e),
                    };
                    let c = &list.counts;
                    let summary = format!(
                        "{} tasks: {} open, {} done, {} verified, {} failed",
                        thousands(c.total()), thousands(c.open), thousands(c.done), thousands(c.verified), thousands(c.failed)
                    );
                    if list.tasks.is_empty() {
                        return view! { <p class="remediation-summary">{summary}</p><p class="muted">"No tasks here."</p> }.into_any();
                    }
                    let may_act = list.may_act;
                    view! {
                        <p class="remediation-summary">{summary}</p>
                        <table class="remediation">
                            <thead><tr>
                                <th scope="col">"Status"</th><th scope="col">"Identity"</th><th scope="col">"Access"</th>
                                <th scope="col">"Revoked"</th><th scope="col">"Done"</th><th scope="col">"Checked by import"</th>
                            </tr></thead>
                            <tbody>
                                {list.tasks.into_iter().map(|t| task_row(t, may_act, done)).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

fn task_row(t: RemediationTask, may_act: bool, done: ServerAction<MarkRemediationDone>) -> impl IntoView {
    let can_mark = may_act && matches!(t.status, RemediationStatus::Open | RemediationStatus::Failed);
    let checked = match (t.verified_at, t.failed_at, &t.checked_by) {
        (Some(at), _, Some(by)) if t.status == RemediationStatus::Verified => format!("verified {} by {by}", time_fmt::date(at)),
        (_, Some(at), Some(by)) => format!("failed {} by {by}", time_fmt::date(at)),
        _ => "—".to_string(),
    };
    view! {
        <tr data-task=t.task_id data-status=t.status.as_str()>
            <td><span class=format!("task-status {}", t.status.as_str())>{t.status.label()}</span></td>
            <td>{t.identity_name}" "<span class="muted">{t.identity_kind}</span></td>
            <td>{t.application}" · "{t.entitlement}<br /><span class="muted">"source "{t.source}</span></td>
            <td>
                <a href=format!("/campaigns/{}", t.campaign_id)>{t.campaign}</a><br />
                {t.reason}{t.decided_by.map(|by| format!(" by {by}"))}
                {t.justification.map(|j| view! { <br /><q>{j}</q> })}
            </td>
            <td>
                {match (t.done_by, t.done_at) {
                    (Some(by), Some(at)) => view! {
                        <span>{format!("{by}, {}", time_fmt::date(at))}</span>
                        {t.done_note.map(|n| view! { <br /><q>{n}</q> })}
                    }.into_any(),
                    _ => view! { <span class="muted">"not yet"</span> }.into_any(),
                }}
                {can_mark.then(|| view! {
                    <ActionForm action=done attr:class="mark-done">
                        <input type="hidden" name="task_id" value=t.task_id />
                        <input type="text" name="note" required maxlength="2000" placeholder="ticket, change or command" aria-label="What was done" />
                        <button type="submit" class="small">"Mark done"</button>
                    </ActionForm>
                })}
            </td>
            <td>{checked}</td>
        </tr>
    }
}

/// Exports for auditors: take one, download its files, check them with `attest verify`.
#[component]
pub fn EvidencePage() -> impl IntoView {
    let query = use_query_map();
    let create = ServerAction::<CreateExport>::new();
    let page = Resource::new(move || create.version().get(), |_| get_evidence());
    let chosen = move || query.with(|q| q.get("campaign").unwrap_or_default());
    view! {
        <Title text="Evidence · attest" />
        <section class="page">
            <h1>"Evidence"</h1>
            <p class="lede">
                "An export holds one row per review item as CSV and JSON (with the decision log's entries and their hashes), a printable \
                 report, and a manifest with the SHA-256 of every file and the log's head. "
                <code>"attest verify --export FOLDER"</code>" checks a downloaded export."
            </p>
            {move || create.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading exports…"</p> }>
                {move || Suspend::new(async move {
                    let page = match page.await {
                        Ok(page) => page,
                        Err(e) => return error_view(e),
                    };
                    let chosen = chosen();
                    view! {
                        <ActionForm action=create attr:class="export-form">
                            <label>"Campaign "
                                <select name="campaign">
                                    <option value="">"every campaign"</option>
                                    {page.campaigns.into_iter().map(|(id, name)| {
                                        let selected = chosen == id.to_string();
                                        view! { <option value=id selected=selected>{format!("{id} · {name}")}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>"Decided from " <input type="date" name="from" /></label>
                            <label>"to " <input type="date" name="to" /></label>
                            <button type="submit" class="primary">"Create export"</button>
                        </ActionForm>
                        {if page.exports.is_empty() {
                            view! { <p class="muted">"No exports yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="exports">
                                    <thead><tr>
                                        <th scope="col">"Export"</th><th scope="col">"Scope"</th><th scope="col">"Taken"</th>
                                        <th scope="col">"Items"</th><th scope="col">"Files"</th><th scope="col">"Log head"</th>
                                    </tr></thead>
                                    <tbody>{page.exports.into_iter().map(export_row).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

fn export_row(x: ExportRecord) -> impl IntoView {
    let id = x.export_id;
    let scope = {
        let mut parts = Vec::new();
        if let (Some(cid), Some(name)) = (x.campaign_id, &x.campaign) {
            parts.push(format!("campaign {cid} · {name}"));
        }
        if x.from_at.is_some() || x.to_at.is_some() {
            parts.push(format!("decided {} to {}", date_or_dash(x.from_at), date_or_dash(x.to_at)));
        }
        if parts.is_empty() { "every campaign".to_string() } else { parts.join(", ") }
    };
    view! {
        <tr data-export=id>
            <td>{id}</td>
            <td>{scope}</td>
            <td>{format!("{}, {}", x.created_by, time_fmt::date(x.created_at))}</td>
            <td>{thousands(x.item_rows)}</td>
            <td class="files">
                {EXPORT_FILES.iter().chain(std::iter::once(&MANIFEST)).map(|name| {
                    let sha = x.files.iter().find(|f| f.name == *name).map(|f| f.sha256.clone()).unwrap_or_else(|| x.manifest_sha256.clone());
                    let target = if *name == EXPORT_FILES[2] { Some("_blank") } else { None };
                    view! {
                        <a href=format!("/evidence/{id}/{name}") rel="external" target=target title=format!("SHA-256 {sha}")>{*name}</a>" "
                    }
                }).collect_view()}
            </td>
            <td><code title=x.head_hash.clone()>{format!("#{} {}…", x.head_seq, &x.head_hash[..x.head_hash.len().min(12)])}</code></td>
        </tr>
    }
}
