use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::components::{KindBadge, Pager, PrivilegeBadge, Risk, StatusBadge, ago_or, date_or_dash, error_view, thousands};
use crate::error::AppError;
use crate::identities::api::{estate_overview, get_identity, list_applications, list_identities};
use crate::identities::{GrantRow, IdentityDetail, IdentityFilter, IdentityKind, IdentityPage, IdentityRow, IdentityStatus};
use crate::time_fmt::DAY;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| estate_overview());
    view! {
        <Title text="Overview · attest" />
        <section class="page">
            <h1>"Estate overview"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let o = match overview.await {
                        Ok(o) => o,
                        Err(e) => return error_view(e),
                    };
                    let card = |label: &'static str, n: i64, href: Option<&'static str>, warn: bool| {
                        let class = if warn && n > 0 { "card warn" } else { "card" };
                        view! {
                            <div class=class>
                                <div class="figure">{thousands(n)}</div>
                                {match href {
                                    Some(href) => view! { <a href=href>{label}</a> }.into_any(),
                                    None => view! { <span>{label}</span> }.into_any(),
                                }}
                            </div>
                        }
                    };
                    view! {
                        <div class="cards">
                            {card("human identities", o.humans, Some("/identities?kind=human"), false)}
                            {card("machine identities", o.machines, Some("/identities?kind=machine"), false)}
                            {card("applications", o.applications, Some("/applications"), false)}
                            {card("active grants", o.active_grants, None, false)}
                        </div>
                        <h2>"Needs attention"</h2>
                        <div class="cards">
                            {card("machine identities without an owner", o.orphaned_machines, Some("/identities?kind=machine&owner=absent"), true)}
                            {card("disabled or terminated identities still holding grants", o.inactive_with_grants, None, true)}
                            {card("credentials expiring within 14 days", o.expiring_soon, None, true)}
                            {card("expired credentials still granted", o.expired_with_grants, None, true)}
                            {card("machine credentials not rotated in 90 days", o.stale_credentials, None, true)}
                            {card("grants unused for 90 days or never used", o.dormant_grants, None, true)}
                        </div>
                        <h2>"Identities by kind"</h2>
                        <table class="compact">
                            <thead><tr><th scope="col">"Kind"</th><th scope="col" class="num">"Identities"</th></tr></thead>
                            <tbody>
                                {o.by_kind.into_iter().map(|(kind, n)| view! {
                                    <tr>
                                        <td><a href=format!("/identities?kind={}", kind.as_str())><KindBadge kind /></a></td>
                                        <td class="num">{thousands(n)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>"Sources"</h2>
                        <table class="compact">
                            <thead><tr><th scope="col">"Source"</th><th scope="col">"Format"</th><th scope="col">"Last import"</th></tr></thead>
                            <tbody>
                                {o.sources.into_iter().map(|(name, format, at)| view! {
                                    <tr><td>{name}</td><td>{format}</td><td>{date_or_dash(at)}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

fn non_empty(value: String) -> Option<String> {
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

#[component]
pub fn IdentitiesPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        IdentityFilter::from_pairs(|key| q.get(key))
    });
    let page = Resource::new(move || filter.get(), list_identities);
    view! {
        <Title text="Identities · attest" />
        <section class="page">
            <h1>"Identities"</h1>
            <p class="lede">"People and machines in one list: service accounts, keys, tokens, bots and agents sit beside the humans who own them."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading identities…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <FilterBar filter=filter.get_untracked() departments=page.departments.clone() /> <IdentityTable page filter=filter.get_untracked() /> }.into_any(),
                        Err(e) => view! { <FilterBar filter=filter.get_untracked() departments=vec![] /> {error_view(e)} }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A plain GET form, so filtering works without JavaScript; once hydrated, every change
/// navigates at once.
#[component]
fn FilterBar(filter: IdentityFilter, departments: Vec<String>) -> impl IntoView {
    let navigate = use_navigate();
    let current = StoredValue::new(filter.clone());
    let apply = move |change: &dyn Fn(&mut IdentityFilter), replace: bool| {
        let mut next = current.get_value();
        change(&mut next);
        current.set_value(next.clone());
        navigate(&format!("/identities{}", next.to_query(1)), NavigateOptions { replace, ..Default::default() });
    };
    let on_kind = {
        let apply = apply.clone();
        move |ev| apply(&|f| f.kind = non_empty(event_target_value(&ev)), false)
    };
    let on_status = {
        let apply = apply.clone();
        move |ev| apply(&|f| f.status = non_empty(event_target_value(&ev)), false)
    };
    let on_owner = {
        let apply = apply.clone();
        move |ev| apply(&|f| f.owner = non_empty(event_target_value(&ev)), false)
    };
    let on_department = {
        let apply = apply.clone();
        move |ev| apply(&|f| f.department = non_empty(event_target_value(&ev)), false)
    };
    let on_sort = {
        let apply = apply.clone();
        move |ev| apply(&|f| f.sort = non_empty(event_target_value(&ev)), false)
    };
    let on_search = move |ev| apply(&|f| f.q = non_empty(event_target_value(&ev)), true);
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    view! {
        <form class="filters" method="get" action="/identities" role="search">
            <label>
                "Kind"
                <select name="kind" on:change=on_kind>
                    <option value="" selected=filter.kind.is_none()>"All kinds"</option>
                    <option value="machine" selected=selected(&filter.kind, "machine")>"All machine identities"</option>
                    {IdentityKind::ALL.iter().map(|k| view! {
                        <option value=k.as_str() selected=selected(&filter.kind, k.as_str())>{k.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Status"
                <select name="status" on:change=on_status>
                    <option value="" selected=filter.status.is_none()>"Any status"</option>
                    {IdentityStatus::ALL.iter().map(|s| view! {
                        <option value=s.as_str() selected=selected(&filter.status, s.as_str())>{s.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Owner"
                <select name="owner" on:change=on_owner>
                    <option value="" selected=filter.owner.is_none()>"Any"</option>
                    <option value="present" selected=selected(&filter.owner, "present")>"Has an owner"</option>
                    <option value="absent" selected=selected(&filter.owner, "absent")>"No owner"</option>
                </select>
            </label>
            <label>
                "Department"
                <select name="department" on:change=on_department>
                    <option value="" selected=filter.department.is_none()>"Any department"</option>
                    {departments.into_iter().map(|d| {
                        let is = selected(&filter.department, &d);
                        let label = d.clone();
                        view! { <option value=d selected=is>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Sort"
                <select name="sort" on:change=on_sort>
                    <option value="" selected=filter.sort.is_none()>"By name"</option>
                    <option value="risk" selected=selected(&filter.sort, "risk")>"Riskiest first"</option>
                </select>
            </label>
            <label class="grow">
                "Search"
                <input type="search" name="q" placeholder="name, email or id" value=filter.q.clone().unwrap_or_default() on:input=on_search />
            </label>
            <button type="submit">"Apply"</button>
        </form>
    }
}

#[component]
fn IdentityTable(page: IdentityPage, filter: IdentityFilter) -> impl IntoView {
    let now = page.now;
    let href = move |n: u32| format!("/identities{}", filter.to_query(n));
    view! {
        <table class="identities">
            <thead>
                <tr>
                    <th scope="col">"Identity"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Owner / manager"</th>
                    <th scope="col">"Department / purpose"</th>
                    <th scope="col">"Last active"</th>
                    <th scope="col">"Credential"</th>
                    <th scope="col" class="num">"Grants"</th>
                    <th scope="col">"Risk"</th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().map(|row| view! { <IdentityTableRow row now /> }).collect_view()}
            </tbody>
        </table>
        <Pager page=page.page per_page=page.per_page total=page.total href />
    }
}

#[component]
fn IdentityTableRow(row: IdentityRow, now: i64) -> impl IntoView {
    let machine = row.kind.is_machine();
    let who = if machine {
        match row.owner.clone() {
            Some(owner) => view! { <span>{owner}</span> }.into_any(),
            None => view! { <span class="badge warn">"no owner"</span> }.into_any(),
        }
    } else {
        view! { <span>{row.manager.clone().unwrap_or_else(|| "—".into())}</span> }.into_any()
    };
    let what = if machine { row.purpose.clone() } else { row.department.clone() };
    let credential = machine.then(|| credential_summary(&row, now));
    view! {
        <tr data-kind=row.kind.as_str()>
            <td>
                <a href=format!("/identities/{}", row.identity_id)>{row.display_name.clone()}</a>
                <div class="sub">{row.email.clone().unwrap_or_else(|| row.external_id.clone())}</div>
            </td>
            <td><KindBadge kind=row.kind /></td>
            <td><StatusBadge status=row.status /></td>
            <td>{who}</td>
            <td>{what.unwrap_or_else(|| "—".into())}</td>
            <td>{ago_or(row.last_active_at, now, "never")}</td>
            <td>{credential.unwrap_or_default()}</td>
            <td class="num">{thousands(row.active_grants)}</td>
            <td><Risk score=row.risk_score /></td>
        </tr>
    }
}

/// "rotated 400 days ago · expires in 5 days" for a machine credential.
fn credential_summary(row: &IdentityRow, now: i64) -> String {
    let mut parts = Vec::new();
    match row.credential_rotated_at {
        Some(at) => parts.push(format!("rotated {}", crate::time_fmt::relative(at, now))),
        None => parts.push("never rotated".to_string()),
    }
    match row.expires_at {
        Some(at) if at < now => parts.push(format!("expired {}", crate::time_fmt::relative(at, now))),
        Some(at) => parts.push(format!("expires {}", crate::time_fmt::relative(at, now))),
        None => parts.push("no expiry".to_string()),
    }
    parts.join(" · ")
}

#[component]
pub fn IdentityPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let detail = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => get_identity(id).await,
                None => Err(AppError::NotFound("identity".into())),
            }
        },
    );
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <IdentityDetailView detail /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn IdentityDetailView(detail: IdentityDetail) -> impl IntoView {
    let IdentityDetail { identity: i, grants, owns, exceptions, now } = detail;
    let link = |name: Option<String>, id: Option<i64>| match (name, id) {
        (Some(name), Some(id)) => view! { <a href=format!("/identities/{id}")>{name}</a> }.into_any(),
        (Some(name), None) => view! { <span>{name}" "<span class="sub">"(not in the inventory)"</span></span> }.into_any(),
        (None, _) => view! { <span class="badge warn">"none"</span> }.into_any(),
    };
    let machine = i.kind.is_machine();
    let credential = machine.then(|| credential_summary(&i, now));
    let active = grants.iter().filter(|g| g.ended_at.is_none()).count();
    view! {
        <Title text=format!("{} · attest", i.display_name) />
        <p class="crumbs"><a href="/identities">"Identities"</a>" / "</p>
        <h1>{i.display_name.clone()}" "<KindBadge kind=i.kind />" "<StatusBadge status=i.status /></h1>
        <dl class="facts">
            <dt>"Id in source"</dt><dd><code>{i.external_id.clone()}</code>" in "{i.source.clone()}</dd>
            <dt>"Email"</dt><dd>{i.email.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>{if machine { "Owner" } else { "Manager" }}</dt>
            <dd>{if machine { link(i.owner.clone(), i.owner_identity_id) } else { link(i.manager.clone(), i.manager_identity_id) }}</dd>
            <dt>"Department"</dt><dd>{i.department.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Purpose"</dt><dd>{i.purpose.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Created"</dt><dd>{date_or_dash(i.source_created_at)}</dd>
            <dt>"Last active"</dt><dd>{ago_or(i.last_active_at, now, "never")}" ("{date_or_dash(i.last_active_at)}")"</dd>
            {credential.map(|c| view! { <dt>"Credential"</dt><dd>{c}</dd> })}
            <dt>"Expires"</dt><dd>{date_or_dash(i.expires_at)}</dd>
        </dl>
        <h2>{format!("Grants ({active} active)")}</h2>
        <GrantTable grants exceptions now />
        {(!owns.is_empty()).then(|| view! {
            <h2>"Owns"</h2>
            <ul class="owns">
                {owns.into_iter().map(|o| view! {
                    <li><a href=format!("/identities/{}", o.identity_id)>{o.display_name}</a>" "<KindBadge kind=o.kind /></li>
                }).collect_view()}
            </ul>
        })}
    }
}

#[component]
fn GrantTable(grants: Vec<GrantRow>, exceptions: Vec<(i64, String)>, now: i64) -> impl IntoView {
    if grants.is_empty() {
        return view! { <p>"No grants."</p> }.into_any();
    }
    view! {
        <table class="grants">
            <thead>
                <tr>
                    <th scope="col">"Application"</th>
                    <th scope="col">"Entitlement"</th>
                    <th scope="col">"Privilege"</th>
                    <th scope="col">"Granted"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Granted by"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Risk"</th>
                </tr>
            </thead>
            <tbody>
                {grants.into_iter().map(|g| {
                    let dormant = g.ended_at.is_none() && g.last_used_at.is_none_or(|at| now - at > 90 * DAY);
                    let exception = exceptions.iter().find(|(id, _)| *id == g.access_grant_id).map(|(_, text)| text.clone());
                    view! {
                        <tr class:ended=g.ended_at.is_some()>
                            <td>{g.application}</td>
                            <td>{g.entitlement}</td>
                            <td><PrivilegeBadge privilege=g.privilege inferred=g.privilege_inferred /></td>
                            <td>{date_or_dash(g.granted_at)}</td>
                            <td class:dormant=dormant>{ago_or(g.last_used_at, now, "never used")}</td>
                            <td>{g.granted_by.unwrap_or_else(|| "—".into())}</td>
                            <td>{match g.ended_at {
                                Some(at) => format!("ended {}", crate::time_fmt::date(at)),
                                None => "active".to_string(),
                            }}{exception.map(|text| view! { <br /><span class="exception">{text}</span> })}</td>
                            <td><Risk score=g.risk_score words=g.risk_words /></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let apps = Resource::new(|| (), |_| list_applications());
    view! {
        <Title text="Applications · attest" />
        <section class="page">
            <h1>"Applications"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let apps = match apps.await {
                        Ok(apps) => apps,
                        Err(e) => return error_view(e),
                    };
                    view! {
                        <table class="applications">
                            <thead>
                                <tr>
                                    <th scope="col">"Application"</th>
                                    <th scope="col">"Owner"</th>
                                    <th scope="col">"Criticality"</th>
                                    <th scope="col">"Source"</th>
                                    <th scope="col" class="num">"Entitlements"</th>
                                    <th scope="col" class="num">"Active grants"</th>
                                    <th scope="col" class="num">"Admin grants"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {apps.into_iter().map(|a| view! {
                                    <tr>
                                        <td>{a.name}<div class="sub">{a.external_id}</div></td>
                                        <td>{match a.owner {
                                            Some(o) => view! { <span>{o}</span> }.into_any(),
                                            None => view! { <span class="badge warn">"no owner"</span> }.into_any(),
                                        }}</td>
                                        <td><span class=format!("badge criticality {}", a.criticality.as_str())>{a.criticality.label()}</span></td>
                                        <td>{a.source}</td>
                                        <td class="num">{thousands(a.entitlements)}</td>
                                        <td class="num">{thousands(a.active_grants)}</td>
                                        <td class="num">{thousands(a.admin_grants)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
