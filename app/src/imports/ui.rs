use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::error_view;
use crate::imports::ImportsPage;
use crate::imports::api::recent_imports;
use crate::time_fmt;

/// Uploading a snapshot of a source from the browser, and the latest imports. Admins only.
/// The form posts to the server as a plain multipart upload, so it works without JavaScript.
#[component]
pub fn ImportsAdminPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(|| (), |_| recent_imports());
    let outcome = move || {
        let q = query.get();
        let source = q.get("source").unwrap_or_default();
        if let Some(text) = q.get("done") {
            Some(
                view! {
                    <div class="notice" role="status" data-testid="import-done">
                        <p>"Imported " <strong>{source}</strong> "."</p>
                        <pre>{text}</pre>
                    </div>
                }
                .into_any(),
            )
        } else {
            q.get("refused").map(|text| {
                view! {
                    <div class="error" role="alert" data-testid="import-refused">
                        <p>"The upload to " <strong>{source}</strong> " was refused; nothing was changed."</p>
                        <pre>{text}</pre>
                    </div>
                }
                .into_any()
            })
        }
    };
    view! {
        <Title text="Imports · attest" />
        <section class="page">
            <h1>"Imports"</h1>
            <p class="lede">
                "Upload a snapshot of a source: the CSV bundle, or a vendor's export as it comes. A snapshot replaces what the source "
                "said before: new access is added, changed access updated, and access it no longer holds is ended (and remediation "
                "tasks waiting for it are verified). Nothing is changed if any file is refused. The same as "
                <code>"attest import FORMAT FILE… --source NAME"</code> " and " <code>"POST /api/v1/sources/NAME/snapshot"</code> "."
            </p>
            {outcome}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <ImportsView page /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ImportsView(page: ImportsPage) -> impl IntoView {
    let now = page.now;
    view! {
        <form method="post" action="/admin/imports/upload" enctype="multipart/form-data" class="upload-form">
            <label>"Format "
                <select name="format">
                    {page.formats.into_iter().map(|(name, words)| view! {
                        <option value=name.clone()>{format!("{name}: {words}")}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Source " <input type="text" name="source" maxlength="100" pattern="[A-Za-z0-9._\\-]+" placeholder="aws-prod" /></label>
            <label>"Files " <input type="file" name="files" multiple required /></label>
            <button type="submit" class="primary">"Import"</button>
            <p class="muted">{format!(
                "Up to {} MiB in all. Without a source name, the format's name is used. A source is one system: import each AWS account or tenant under its own name.",
                page.max_upload_mb
            )}</p>
        </form>
        <h2>"Latest imports"</h2>
        {if page.runs.is_empty() {
            view! { <p class="muted">"No imports yet."</p> }.into_any()
        } else {
            view! {
                <table class="imports compact">
                    <thead><tr>
                        <th scope="col">"When"</th><th scope="col">"Source"</th><th scope="col">"Format"</th><th scope="col">"By"</th>
                        <th scope="col">"Identities"</th><th scope="col">"Grants"</th>
                    </tr></thead>
                    <tbody>
                        {page.runs.into_iter().map(|r| view! {
                            <tr data-testid="import-run">
                                <td>{time_fmt::relative(r.finished_at, now)}</td>
                                <td>{r.source}</td>
                                <td>{r.format}</td>
                                <td>{r.actor}</td>
                                <td>{format!("+{} ~{} −{}", r.identities_added, r.identities_changed, r.identities_ended)}</td>
                                <td>{format!("+{} ~{} −{}", r.grants_added, r.grants_changed, r.grants_ended)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
