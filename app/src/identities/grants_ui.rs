use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::{KindBadge, PagerLinks, PrivilegeBadge, Risk, ago_or, error_view, thousands};
use crate::identities::api::{count_grants, search_grants};
use crate::identities::encode_component;
use crate::query::FIELDS;

const EXAMPLES: &[&str] = &[
    "kind:service_account owner:none",
    "privilege:admin idle>30d",
    "app:\"AWS prod\" kind:api_key rotated>90d",
    "status:terminated active-grants>0",
    "risk>=70 -kind:human",
];

/// Every active grant, riskiest first, narrowed by a query.
#[component]
pub fn GrantsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.read().get("query").unwrap_or_default());
    let page = Memo::new(move |_| params.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1));
    let grants = Resource::new(move || (query.get(), page.get()), |(query, page)| search_grants(query, page));
    view! {
        <Title text="Grants · attest" />
        <section class="page">
            <h1>"Grants"</h1>
            <p class="lede">"Every active grant, riskiest first. Narrow it with a query."</p>
            <form class="filters" method="get" action="/grants" role="search">
                <label class="grow">
                    "Query"
                    <input type="search" name="query" value=move || query.get() placeholder="privilege:admin idle>30d -kind:human" spellcheck="false" />
                </label>
                <button type="submit">"Search"</button>
                <details class="help">
                    <summary>"Query help"</summary>
                    <p>"Terms are " <code>"field:value"</code> " or comparisons like " <code>"idle>30d"</code> ". A space means AND; also " <code>"OR"</code> ", " <code>"-"</code> " or " <code>"NOT"</code> " to negate, and parentheses. Quote values with spaces. A bare word searches names."</p>
                    <dl>
                        {FIELDS.iter().map(|(name, _, about)| view! { <dt><code>{*name}</code></dt><dd>{*about}</dd> }).collect_view()}
                    </dl>
                    <p>"Examples:"</p>
                    <ul>
                        {EXAMPLES.iter().map(|q| view! { <li><a href=format!("/grants?query={}", encode_component(q))><code>{*q}</code></a></li> }).collect_view()}
                    </ul>
                </details>
            </form>
            <Suspense fallback=|| view! { <p class="loading">"Loading grants…"</p> }>
                {move || Suspend::new(async move {
                    let page = match grants.await {
                        Ok(page) => page,
                        Err(e) => return error_view(e),
                    };
                    let now = page.now;
                    let current = query.get_untracked();
                    let shown = page.rows.len() as i64;
                    let first = i64::from(page.page - 1) * i64::from(page.per_page) + 1;
                    let status = if shown == 0 {
                        "Nothing matches".to_string()
                    } else if page.more {
                        format!("{}–{}", thousands(first), thousands(first + shown - 1))
                    } else {
                        // The last page: the total is known without counting.
                        format!("{}–{} of {}", thousands(first), thousands(first + shown - 1), thousands(first + shown - 1))
                    };
                    // When more pages follow, the browser asks for the total once the page is
                    // shown; the server does not wait for it.
                    let total = (page.more && cfg!(feature = "hydrate")).then(|| {
                        let current = current.clone();
                        LocalResource::new(move || count_grants(current.clone()))
                    });
                    let total = move || {
                        let n = total.as_ref()?.get()?.ok()?;
                        Some(if n > crate::campaigns::COUNT_CAP {
                            format!(" of more than {}", thousands(crate::campaigns::COUNT_CAP))
                        } else {
                            format!(" of {}", thousands(n))
                        })
                    };
                    let href = move |n: u32| format!("/grants?query={}&page={n}", encode_component(&current));
                    view! {
                        <table class="grants">
                            <thead>
                                <tr>
                                    <th scope="col">"Risk"</th>
                                    <th scope="col">"Identity"</th>
                                    <th scope="col">"Application"</th>
                                    <th scope="col">"Entitlement"</th>
                                    <th scope="col">"Privilege"</th>
                                    <th scope="col">"Last used"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {page.rows.into_iter().map(|g| {
                                    let exception = page.exceptions.iter().find(|(id, _)| *id == g.access_grant_id).map(|(_, text)| text.clone());
                                    let excepted = exception.is_some();
                                    view! {
                                    <tr data-kind=g.identity_kind.as_str() class:excepted=excepted>
                                        <td><Risk score=g.risk_score words=g.risk_words /></td>
                                        <td><a href=format!("/identities/{}", g.identity_id)>{g.identity}</a>" "<KindBadge kind=g.identity_kind /></td>
                                        <td>{g.application}</td>
                                        <td>{g.entitlement}{exception.map(|text| view! {
                                            <br /><span class="badge exception" title=text.clone()>"exception"</span>" "<span class="exception">{text}</span>
                                        })}</td>
                                        <td><PrivilegeBadge privilege=g.privilege inferred=g.privilege_inferred /></td>
                                        <td>{ago_or(g.last_used_at, now, "never")}</td>
                                    </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <PagerLinks page=page.page next=page.more href>{status}{total}</PagerLinks>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
