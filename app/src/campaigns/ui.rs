use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::campaigns::api::{
    CloseCampaignStage, CreateCampaign, DecideItem, DecideItems, LaunchCampaign, get_campaign, list_campaigns, my_reviews, preview_scope,
};
use crate::campaigns::{CampaignDetail, CampaignStatus, ChainCheck, Decision, ProgressRow, ReviewItem, ReviewQueue};
use crate::components::{KindBadge, PrivilegeBadge, Risk, ago_or, date_or_dash, error_view, thousands};
use crate::groups::api::reviewer_groups;
use crate::notifications::ui::CampaignMailPanel;
use crate::time_fmt;

fn percent(done: i64, total: i64) -> i64 {
    if total == 0 { 100 } else { done * 100 / total }
}

/// Every campaign, open ones first.
#[component]
pub fn CampaignsPage() -> impl IntoView {
    let campaigns = Resource::new(|| (), |_| list_campaigns());
    view! {
        <Title text="Campaigns · attest" />
        <section class="page">
            <h1>"Campaigns"</h1>
            <p class="lede">"Who certifies which access, by when. " <a href="/campaigns/new">"New campaign"</a></p>
            <Suspense fallback=|| view! { <p class="loading">"Loading campaigns…"</p> }>
                {move || Suspend::new(async move {
                    let rows = match campaigns.await {
                        Ok(rows) => rows,
                        Err(e) => return error_view(e),
                    };
                    if rows.is_empty() {
                        return view! { <p class="muted">"No campaigns yet."</p> }.into_any();
                    }
                    view! {
                        <table class="campaigns">
                            <thead><tr>
                                <th scope="col">"Campaign"</th><th scope="col">"Status"</th><th scope="col">"Scope"</th>
                                <th scope="col">"Progress"</th><th scope="col">"High risk open"</th><th scope="col">"Deadline"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| {
                                    let c = r.campaign;
                                    let status = match c.status {
                                        CampaignStatus::Active => format!("active, stage {} of {}", c.stage, c.stages),
                                        other => other.label().to_string(),
                                    };
                                    view! {
                                        <tr data-status=c.status.as_str()>
                                            <td><a href=format!("/campaigns/{}", c.campaign_id)>{c.name}</a></td>
                                            <td>{status}</td>
                                            <td><code>{c.scope_query}</code></td>
                                            <td>{format!("{} of {} decided ({}%)", thousands(r.decided), thousands(r.items), percent(r.decided, r.items))}</td>
                                            <td>{thousands(r.high_risk_open)}</td>
                                            <td>{time_fmt::date(c.deadline_at)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// The draft form, with a live count of what the scope takes in.
#[component]
pub fn NewCampaignPage() -> impl IntoView {
    let create = ServerAction::<CreateCampaign>::new();
    let (scope, set_scope) = signal(String::new());
    let (high_risk, set_high_risk) = signal(70_i64);
    let preview = Resource::new(move || (scope.get(), high_risk.get()), |(q, h)| preview_scope(q, h));
    let groups = Resource::new(|| (), |_| reviewer_groups());
    view! {
        <Title text="New campaign · attest" />
        <section class="page narrow">
            <h1>"New campaign"</h1>
            {move || create.value().get().and_then(|r| r.err()).map(error_view)}
            <ActionForm action=create attr:class="campaign-form">
                <label>"Name" <input type="text" name="draft[name]" required maxlength="200" placeholder="Q4 AWS production access" /></label>
                <label>"Description" <textarea name="draft[description]" rows="2" maxlength="4000"></textarea></label>
                <label>"Scope (a query over grants)"
                    <input type="text" name="draft[scope_query]" spellcheck="false" placeholder="app:\"AWS prod\" risk>=40"
                        on:input=move |ev| set_scope.set(event_target_value(&ev)) />
                </label>
                <Suspense fallback=|| view! { <p class="loading">"Counting…"</p> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(p) => view! {
                                <div class="notice scope-preview" role="status">
                                    <p><strong>{format!("{} grants in scope", thousands(p.total))}</strong>
                                        {format!(": {} of people, {} of machines, {} high risk.", thousands(p.humans), thousands(p.machines), thousands(p.high_risk))}</p>
                                    <ul class="compact">
                                        {p.top.into_iter().map(|g| view! {
                                            <li><Risk score=g.risk_score />" "{g.identity}" · "{g.application}" · "{g.entitlement}</li>
                                        }).collect_view()}
                                    </ul>
                                </div>
                            }.into_any(),
                            Err(e) => error_view(e),
                        }
                    })}
                </Suspense>
                <label>"Reviewers"
                    <select name="draft[reviewer_rule]">
                        <option value="application_owner">"Application owner"</option>
                        <option value="identity_owner">"Owner of each machine identity, manager of each person"</option>
                        <option value="manager">"Manager"</option>
                        <option value="named">"A named person (below)"</option>
                        <option value="group">"A reviewer group (below): any member decides, the first decision counts"</option>
                    </select>
                </label>
                <label>"Named reviewer (email, for the named rule)" <input type="email" name="draft[named_reviewer]" /></label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let groups = groups.await.map(|page| page.groups).unwrap_or_default();
                        let none = groups.is_empty();
                        view! {
                            <label>"Reviewer group (for the group rule)"
                                <select name="draft[reviewer_group]">
                                    <option value="">{if none { "no groups yet: make one under Groups" } else { "choose a group" }}</option>
                                    {groups.into_iter().map(|g| {
                                        let label = format!("{} ({} members)", g.name, g.members.iter().filter(|m| m.active).count());
                                        view! { <option value=g.name>{label}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                        }
                    })}
                </Suspense>
                <label>"Fallback reviewer (email): gets what the rule cannot place, and abstentions" <input type="email" name="draft[fallback_reviewer]" required /></label>
                <label>"Second stage reviewer (email, optional): reviews what the first stage approved" <input type="email" name="draft[stage2_reviewer]" /></label>
                <label>"Deadline" <input type="date" name="draft[deadline]" required /></label>
                <label>"Undecided at the deadline"
                    <select name="draft[deadline_action]">
                        <option value="recommendation">"Follow the recommendation (revoke high risk, keep the rest)"</option>
                        <option value="keep">"Keep the access"</option>
                        <option value="revoke">"Revoke the access"</option>
                    </select>
                </label>
                <label>"Justification required"
                    <select name="draft[justification]">
                        <option value="high_risk_approve">"On revoke, and on approving high-risk items"</option>
                        <option value="revoke">"On revoke"</option>
                        <option value="always">"Always"</option>
                    </select>
                </label>
                <label>"High risk from score"
                    <input type="number" name="draft[high_risk]" value="70" min="1" max="100"
                        on:input=move |ev| set_high_risk.set(event_target_value(&ev).parse().unwrap_or(70)) />
                </label>
                <label>"Longest exception (days)" <input type="number" name="draft[max_exception_days]" value="90" min="1" max="365" /></label>
                <button type="submit" class="primary">"Save draft"</button>
            </ActionForm>
        </section>
    }
}

/// A horizontal bar per row: decided of total.
#[component]
fn ProgressChart(rows: Vec<ProgressRow>, label: &'static str) -> impl IntoView {
    let height = rows.len() as i64 * 22 + 4;
    let summary = rows.iter().map(|r| format!("{} {} of {}", r.name, r.decided, r.total)).collect::<Vec<_>>().join("; ");
    view! {
        <svg class="chart progress" role="img" aria-label=format!("{label}: {summary}") viewBox=format!("0 0 640 {height}") width="100%" style="max-width:640px">
            {rows.into_iter().enumerate().map(|(i, r)| {
                let y = i as i64 * 22 + 2;
                let width = 400 * r.decided / r.total.max(1);
                view! {
                    <g>
                        <text x="0" y=y + 14 class="label">{r.name.chars().take(28).collect::<String>()}</text>
                        <rect class="track" x="200" y=y width="400" height="16" />
                        <rect class="done" x="200" y=y width=width height="16"><title>{format!("{} of {} decided", r.decided, r.total)}</title></rect>
                        <text x="606" y=y + 14 class="value">{format!("{}%", percent(r.decided, r.total))}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}

#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let launch = ServerAction::<LaunchCampaign>::new();
    let close = ServerAction::<CloseCampaignStage>::new();
    let detail = Resource::new(move || (id.get(), launch.version().get(), close.version().get()), |(id, _, _)| get_campaign(id));
    view! {
        <Title text="Campaign · attest" />
        <section class="page">
            {move || launch.value().get().and_then(|r| r.err()).map(error_view)}
            {move || close.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading the campaign…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => view! { <CampaignView d launch close /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CampaignView(d: CampaignDetail, launch: ServerAction<LaunchCampaign>, close: ServerAction<CloseCampaignStage>) -> impl IntoView {
    let c = d.campaign;
    let now = d.now;
    let overdue = c.status == CampaignStatus::Active && c.deadline_at < now;
    let status = match c.status {
        CampaignStatus::Active => format!("Active, stage {} of {}", c.stage, c.stages),
        CampaignStatus::Draft => "Draft: nothing is frozen until launch".to_string(),
        CampaignStatus::Closed => format!("Closed {}", c.closed_at.map(time_fmt::date).unwrap_or_default()),
    };
    let chain = match d.chain {
        ChainCheck::Verified { entries, head } => view! {
            <span class="badge verified" title=format!("head {head}")>{format!("Decision log verified ({} entries)", thousands(entries))}</span>
        }.into_any(),
        ChainCheck::Broken { seq, reason } => view! {
            <span class="badge broken" role="alert">{format!("Decision log BROKEN at entry {seq}: {reason}")}</span>
        }.into_any(),
    };
    let id = c.campaign_id;
    let close_label = if c.stage < c.stages {
        format!("Close stage {} and start stage {}", c.stage, c.stage + 1)
    } else {
        "Close the campaign".to_string()
    };
    view! {
        <Title text=format!("{} · attest", c.name) />
        <h1>{c.name.clone()}</h1>
        <p class="lede">{c.description.clone()}</p>
        <p>{chain}</p>
        <dl class="facts">
            <dt>"Status"</dt><dd data-testid="campaign-status">{status}</dd>
            <dt>"Scope"</dt><dd><code>{c.scope_query.clone()}</code></dd>
            <dt>"Reviewers"</dt><dd>{c.reviewer_rule.label()}{c.named_reviewer.clone().map(|n| format!(": {n}"))}
                {c.reviewer_group.clone().map(|g| view! { ": " <a href="/admin/groups" data-testid="reviewer-group">{g}</a> })}
                {format!("; fallback {}", c.fallback_reviewer)}
                {c.stage2_reviewer.clone().map(|s| format!("; second stage {s}"))}</dd>
            <dt>"Deadline"</dt><dd class=if overdue { "overdue" } else { "" }>{time_fmt::date(c.deadline_at)}{overdue.then_some(" — overdue")}</dd>
            <dt>"Undecided at the deadline"</dt><dd>{c.deadline_action.label()}</dd>
            <dt>"Justification"</dt><dd>{c.justification.label()}{format!("; high risk from {}; exceptions up to {} days", c.high_risk, c.max_exception_days)}</dd>
            <dt>"Created"</dt><dd>{format!("{} by {}", time_fmt::date(c.created_at), c.created_by)}</dd>
        </dl>
        {(d.may_run && c.status == CampaignStatus::Draft).then(|| view! {
            <ActionForm action=launch>
                <input type="hidden" name="campaign_id" value=id />
                <button type="submit" class="primary">"Launch: freeze the scope and notify reviewers"</button>
            </ActionForm>
        })}
        {(d.may_run && c.status == CampaignStatus::Active).then(|| view! {
            <ActionForm action=close>
                <input type="hidden" name="campaign_id" value=id />
                <button type="submit" class="danger">{close_label}</button>
            </ActionForm>
        })}
        {(c.status != CampaignStatus::Draft).then(|| view! {
            <h2>{format!("Progress: {} of {} decided ({}%)", thousands(d.decided), thousands(d.items), percent(d.decided, d.items))}</h2>
            <div class="side-by-side">
                <div><h3>"By reviewer"</h3><ProgressChart rows=d.by_reviewer.clone() label="Progress by reviewer" />
                    <ul class="compact overdue-list">
                        {overdue.then(|| d.by_reviewer.iter().filter(|r| r.decided < r.total).map(|r| view! {
                            <li class="overdue">{format!("{} is overdue with {} undecided", r.name, r.total - r.decided)}</li>
                        }).collect_view())}
                    </ul>
                </div>
                <div><h3>"By application"</h3><ProgressChart rows=d.by_application.clone() label="Progress by application" /></div>
            </div>
            <h2>"Reviewer analytics"</h2>
            <table class="analytics compact">
                <thead><tr><th scope="col">"Reviewer"</th><th scope="col">"Decisions"</th><th scope="col">"Median seconds per decision"</th>
                    <th scope="col">"High-risk approved"</th><th scope="col">"In bulk"</th></tr></thead>
                <tbody>
                    {d.analytics.iter().map(|a| view! {
                        <tr>
                            <td>{a.reviewer.clone()}</td>
                            <td>{a.decisions}</td>
                            <td>{a.median_seconds.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td>{format!("{} of {}", a.high_risk_approved, a.high_risk_decisions)}</td>
                            <td>{format!("{}%", percent(a.bulk, a.decisions))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h2>"Outcomes"</h2>
            <ul class="compact outcomes">
                {d.outcomes.iter().map(|(o, n)| view! { <li>{format!("{o}: {}", thousands(*n))}</li> }).collect_view()}
            </ul>
            <h2>{format!("Revocations ({})", d.revoked.len())}</h2>
            <table class="revocations compact">
                <thead><tr><th scope="col">"Identity"</th><th scope="col">"Application"</th><th scope="col">"Entitlement"</th>
                    <th scope="col">"Outcome"</th><th scope="col">"Decided by"</th><th scope="col">"Justification"</th></tr></thead>
                <tbody>
                    {d.revoked.iter().map(|i| view! {
                        <tr>
                            <td>{i.identity_name.clone()}</td><td>{i.application.clone()}</td><td>{i.entitlement.clone()}</td>
                            <td>{i.outcome.clone()}</td><td>{i.decided_by.clone().unwrap_or_else(|| "deadline rule".into())}</td>
                            <td>{i.justification.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <h2>"Remediation"</h2>
            <p class="remediation-summary">
                {format!(
                    "{} revocations to carry out: {} open, {} done, {} verified by an import, {} failed. ",
                    thousands(d.remediation.total()), thousands(d.remediation.open), thousands(d.remediation.done),
                    thousands(d.remediation.verified), thousands(d.remediation.failed)
                )}
                <a href=format!("/remediation?campaign={id}")>"Remediation tasks"</a>" · "
                <a href=format!("/evidence?campaign={id}")>"Export evidence"</a>
            </p>
        })}
        {(c.status != CampaignStatus::Draft).then(|| view! {
            <CampaignMailPanel campaign_id=id may_run=d.may_run active={c.status == CampaignStatus::Active} />
        })}
        <h2>"History"</h2>
        <ol class="compact history">
            {d.events.into_iter().map(|e| view! {
                <li>{format!("#{} {} — {} by {}", e.seq, time_fmt::date(e.at), e.action, e.approver)}{e.justification.map(|j| format!(" ({j})"))}</li>
            }).collect_view()}
        </ol>
    }
}

/// The signed-in reviewer's queue: people and machines in one table, riskiest first.
#[component]
pub fn ReviewsPage() -> impl IntoView {
    let query = use_query_map();
    let kind = Memo::new(move |_| query.read().get("kind").filter(|k| !k.is_empty()));
    let q = Memo::new(move |_| query.read().get("q").filter(|k| !k.is_empty()));
    let decided = Memo::new(move |_| query.read().get("decided").is_some());
    let decide = ServerAction::<DecideItem>::new();
    let bulk = ServerAction::<DecideItems>::new();
    let queue = Resource::new(
        move || (kind.get(), q.get(), decided.get(), decide.version().get(), bulk.version().get()),
        |(kind, q, decided, _, _)| my_reviews(kind, q, Some(decided)),
    );
    let selected = RwSignal::new(0_usize);
    keyboard_shortcuts(selected);
    view! {
        <Title text="My reviews · attest" />
        <section class="page">
            <h1>"My reviews"</h1>
            <p class="lede">"Riskiest first. Keys: " <kbd>"j"</kbd>"/"<kbd>"k"</kbd>" move, " <kbd>"a"</kbd>" approve, "
                <kbd>"r"</kbd>" revoke, " <kbd>"e"</kbd>" exception (write the justification first where it is required)."</p>
            <form class="filters" method="get" action="/reviews" role="search">
                <label>"Kind"
                    <select name="kind">
                        <option value="" selected=move || kind.get().is_none()>"People and machines"</option>
                        <option value="human" selected=move || kind.get().as_deref() == Some("human")>"People"</option>
                        <option value="machine" selected=move || kind.get().as_deref() == Some("machine")>"Machines"</option>
                    </select>
                </label>
                <label class="grow">"Search" <input type="search" name="q" value=move || q.get().unwrap_or_default() /></label>
                <label><input type="checkbox" name="decided" value="1" checked=move || decided.get() />" include decided"</label>
                <button type="submit">"Filter"</button>
            </form>
            {move || decide.value().get().and_then(|r| r.err()).map(error_view)}
            {move || bulk.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading your reviews…"</p> }>
                {move || Suspend::new(async move {
                    match queue.await {
                        Ok(queue) => view! { <QueueView queue decide bulk selected /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn QueueView(
    queue: ReviewQueue,
    decide: ServerAction<DecideItem>,
    bulk: ServerAction<DecideItems>,
    selected: RwSignal<usize>,
) -> impl IntoView {
    if queue.unmatched {
        return view! {
            <p class="notice">"You are not matched to an identity in the inventory (by your email), so attest cannot tell which reviews are yours. Ask an admin to import your identity."</p>
        }
        .into_any();
    }
    let now = queue.now;
    let total = queue.open + queue.decided;
    let bulk_items: Vec<String> =
        queue.items.iter().filter(|i| !i.high_risk && i.decision.is_none()).map(|i| format!("{}:{}", i.item_id, i.version)).collect();
    let bulk_count = bulk_items.len();
    let bulk_max_risk = queue.items.iter().filter(|i| !i.high_risk && i.decision.is_none()).map(|i| i.risk_score).max().unwrap_or(0);
    view! {
        <p class="progress" data-testid="review-progress">
            {if queue.more {
                format!("at least {} decided and {} open in open stages (counted up to {} per campaign)", thousands(queue.decided), thousands(queue.open), thousands(crate::campaigns::COUNT_CAP))
            } else {
                format!("{} decided, {} open of {} in open stages ({}%)", queue.decided, queue.open, total, percent(queue.decided, total))
            }}
        </p>
        {queue.items.is_empty().then(|| view! { <p class="muted">"Nothing waits for you."</p> })}
        <table class="reviews">
            <thead><tr>
                <th scope="col">"Risk"</th><th scope="col">"Who or what"</th><th scope="col">"Access"</th>
                <th scope="col">"Usage"</th><th scope="col">"Campaign"</th><th scope="col">"Decision"</th>
            </tr></thead>
            <tbody>
                {queue.items.into_iter().enumerate().map(|(index, item)| view! { <ItemRow item index now decide selected /> }).collect_view()}
            </tbody>
        </table>
        {(bulk_count > 0).then(|| view! {
            <ActionForm action=bulk attr:class="bulk">
                <input type="hidden" name="items" value=bulk_items.join(",") />
                <p>{format!("Decide the {bulk_count} undecided items below the high-risk threshold at once (highest risk among them: {bulk_max_risk}). High-risk items need one decision each.")}</p>
                <label>"Justification " <input type="text" name="justification" maxlength="2000" /></label>
                <button type="submit" name="action" value="approve">{format!("Approve {bulk_count} items")}</button>
                <button type="submit" name="action" value="revoke" class="danger">{format!("Revoke {bulk_count} items")}</button>
            </ActionForm>
        })}
    }
    .into_any()
}

#[component]
fn ItemRow(item: ReviewItem, index: usize, now: i64, decide: ServerAction<DecideItem>, selected: RwSignal<usize>) -> impl IntoView {
    let machine = item.identity_kind.is_machine();
    let details = if machine {
        format!(
            "owner {} · {} · credential rotated {} · expires {}",
            item.owner_name.clone().unwrap_or_else(|| "none".into()),
            item.purpose.clone().unwrap_or_else(|| "no purpose given".into()),
            ago_or(item.credential_rotated_at, now, "never"),
            date_or_dash(item.expires_at),
        )
    } else {
        format!(
            "manager {} · {} · last sign-in {}",
            item.manager_name.clone().unwrap_or_else(|| "none".into()),
            item.department.clone().unwrap_or_else(|| "no department".into()),
            ago_or(item.last_active_at, now, "never"),
        )
    };
    let needs = item.needs_justification.clone();
    let required = |d: Decision| if needs.contains(&d) { "required" } else { "optional" };
    let current = item.decision.map(|d| {
        let until = item.exception_until.map(|u| format!(" until {}", time_fmt::date(u))).unwrap_or_default();
        format!("{}{until} by {}", d.label(), item.decided_by.clone().unwrap_or_default())
    });
    let placeholder = format!("justification (approve {}, revoke {})", required(Decision::Approve), required(Decision::Revoke));
    let max_until = time_fmt::date(now + item.max_exception_days * 86_400);
    let needs_attr = needs.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" ");
    view! {
        <tr class="item" class:selected=move || selected.get() == index data-index=index data-item=item.item_id data-kind=item.identity_kind.as_str()
            data-needs=needs_attr on:click=move |_| selected.set(index)>
            <td><Risk score=item.risk_score words=item.risk_words.clone() /></td>
            <td><strong>{item.identity_name.clone()}</strong>" "<KindBadge kind=item.identity_kind />
                {(item.identity_status != "active").then(|| view! { " "<span class="badge status">{item.identity_status.clone()}</span> })}
                <br /><span class="muted">{details}</span></td>
            <td>{item.application.clone()}" · "{item.entitlement.clone()}" "<PrivilegeBadge privilege=item.privilege inferred=false />
                <br /><span class="muted">{match item.peers {
                    1 => "1 other held this at launch".to_string(),
                    n if n >= 1000 => format!("{} others held this at launch", crate::components::thousands(n)),
                    n => format!("{n} others held this at launch"),
                }}</span></td>
            <td>{format!("used {}", ago_or(item.last_used_at, now, "never"))}<br /><span class="muted">{format!("granted {}", date_or_dash(item.granted_at))}</span></td>
            <td>{item.campaign.clone()}<br /><span class="muted">{format!("due {}", time_fmt::date(item.deadline_at))}</span>
                {item.reviewer_group.clone().map(|g| view! {
                    <br /><span class="badge group" title="Any member of the group may decide; the first decision counts.">{format!("group {g}")}</span>
                })}</td>
            <td class="decide">
                {current.map(|c| view! { <p class="current">{c}</p> })}
                <ActionForm action=decide>
                    <input type="hidden" name="item_id" value=item.item_id />
                    <input type="hidden" name="version" value=item.version />
                    <input type="text" name="justification" class="justification" maxlength="2000" placeholder=placeholder aria-label="Justification" />
                    <div class="buttons">
                        <button type="submit" name="action" value="approve" class="small">"Approve"</button>
                        <button type="submit" name="action" value="revoke" class="small danger">"Revoke"</button>
                        <label class="until">"Exception until " <input type="date" name="until" max=max_until aria-label="Exception until" /></label>
                        <button type="submit" name="action" value="exception" class="small">"Exception"</button>
                    </div>
                    <details>
                        <summary>"Not mine"</summary>
                        <label>"Reassign to (email) " <input type="email" name="reassign_to" /></label>
                        <button type="submit" name="action" value="reassign" class="small">"Reassign"</button>
                        <button type="submit" name="action" value="abstain" class="small">"Don't know (to the fallback reviewer)"</button>
                    </details>
                </ActionForm>
            </td>
        </tr>
    }
}

/// j/k move the selection; a, r and e press the selected row's buttons. Keys typed into a
/// field are left alone.
fn keyboard_shortcuts(selected: RwSignal<usize>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let exists = |index: usize| document().query_selector(&format!("tr.item[data-index=\"{index}\"]")).ok().flatten().is_some();
            if !exists(0) {
                return;
            }
            // The list shrinks as items are decided: stay in range.
            let row = if exists(selected.get_untracked()) { selected.get_untracked() } else { 0 };
            let find = |selector: &str| {
                let selector = if selector.is_empty() {
                    format!("tr.item[data-index=\"{row}\"]")
                } else {
                    format!("tr.item[data-index=\"{row}\"] {selector}")
                };
                document().query_selector(&selector).ok().flatten().and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            };
            let justification_empty = find("input.justification")
                .and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
                .is_some_and(|i| i.value().trim().is_empty());
            let needs = find("").and_then(|el| el.get_attribute("data-needs")).unwrap_or_default();
            let press = |decision: &str| {
                if needs.split(' ').any(|d| d == decision) && justification_empty {
                    if let Some(input) = find("input.justification") {
                        let _ = input.focus();
                    }
                } else if let Some(button) = find(&format!("button[value=\"{decision}\"]")) {
                    button.click();
                }
            };
            match ev.key().as_str() {
                "j" => selected.set(if exists(row + 1) { row + 1 } else { row }),
                "k" => selected.set(row.saturating_sub(1)),
                "a" => press("approve"),
                "r" => press("revoke"),
                "e" => {
                    let until = find("input[name=\"until\"]").and_then(|el| el.dyn_into::<leptos::web_sys::HtmlInputElement>().ok());
                    match until {
                        Some(input) if input.value().is_empty() => {
                            let _ = input.focus();
                        }
                        _ => press("exception"),
                    }
                }
                _ => return,
            }
            ev.prevent_default();
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = selected;
}
