use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{KindBadge, PrivilegeBadge, Risk, error_view, thousands};
use crate::scoring::api::{AdminAddSodRule, AdminRemoveSodRule, AdminSaveRiskSettings, admin_risk_settings, get_risk_overview};
use crate::scoring::{RiskOverview, RiskSettings, Settings};

#[component]
pub fn RiskPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_risk_overview());
    view! {
        <Title text="Risk · attest" />
        <section class="page">
            <h1>"Risk"</h1>
            <p class="lede">"Every active grant scored 0–100 from usage, privilege, ownership, lifecycle and credential hygiene. The factors are listed in words beside every score."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <RiskOverviewView o /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RiskOverviewView(o: RiskOverview) -> impl IntoView {
    view! {
        <div class="cards">
            <div class="card"><div class="figure">{o.mean_human}</div><span>"mean score, people's grants"</span></div>
            <div class="card"><div class="figure">{o.mean_machine}</div><span>"mean score, machines' grants"</span></div>
        </div>
        <h2>"Distribution of scores"</h2>
        <Histogram bands=o.histogram />
        <h2>"Factors"</h2>
        <table class="compact">
            <thead><tr><th scope="col">"Factor"</th><th scope="col" class="num">"People's grants"</th><th scope="col" class="num">"Machines' grants"</th></tr></thead>
            <tbody>
                {o.by_rule.into_iter().map(|(rule, people, machines)| view! {
                    <tr><td>{rule.label()}</td><td class="num">{thousands(people)}</td><td class="num">{thousands(machines)}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Riskiest grants"</h2>
        <table class="top-risk">
            <thead><tr><th scope="col">"Risk"</th><th scope="col">"Identity"</th><th scope="col">"Application"</th><th scope="col">"Entitlement"</th><th scope="col">"Privilege"</th></tr></thead>
            <tbody>
                {o.top.into_iter().map(|g| view! {
                    <tr>
                        <td><Risk score=g.risk_score words=g.risk_words /></td>
                        <td><a href=format!("/identities/{}", g.identity_id)>{g.identity}</a>" "<KindBadge kind=g.identity_kind /></td>
                        <td>{g.application}</td>
                        <td>{g.entitlement}</td>
                        <td><PrivilegeBadge privilege=g.privilege inferred=g.privilege_inferred /></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Bars per band of ten, people and machines side by side, with the counts as text too.
#[component]
fn Histogram(bands: Vec<(i64, i64)>) -> impl IntoView {
    let max = bands.iter().map(|(h, m)| (*h).max(*m)).max().unwrap_or(0).max(1);
    let (width, height, pad) = (640.0_f64, 220.0_f64, 28.0_f64);
    let slot = (width - pad) / bands.len().max(1) as f64;
    let bar = (slot - 8.0) / 2.0;
    let scale = |n: i64| (n as f64 / max as f64) * (height - 2.0 * pad);
    let summary = bands
        .iter()
        .enumerate()
        .map(|(i, (h, m))| format!("{}–{}: {h} people, {m} machines", i * 10, if i == 9 { 100 } else { i * 10 + 9 }))
        .collect::<Vec<_>>()
        .join("; ");
    view! {
        <div class="legend">
            <span><span class="swatch" style="background:#7f9be6"></span>"people"</span>
            <span><span class="swatch" style="background:var(--machine)"></span>"machines"</span>
        </div>
        <svg class="chart" role="img" aria-label=format!("Grants by risk score: {summary}") viewBox=format!("0 0 {width} {height}") width="100%" style="max-width:640px">
            {bands.into_iter().enumerate().map(|(i, (h, m))| {
                let x = pad + i as f64 * slot + 4.0;
                let base = height - pad;
                view! {
                    <g>
                        <rect class="human" x=x y=base - scale(h) width=bar height=scale(h)><title>{format!("{h} people's grants")}</title></rect>
                        <rect class="machine" x=x + bar y=base - scale(m) width=bar height=scale(m)><title>{format!("{m} machines' grants")}</title></rect>
                        <text x=x + bar y=height - 10.0 text-anchor="middle">{format!("{}", i * 10)}</text>
                    </g>
                }
            }).collect_view()}
            <line x1=pad y1=height - pad x2=width y2=height - pad stroke="#999" />
        </svg>
    }
}

/// Admins change weights and thresholds and the separation-of-duties rules; every change is
/// recorded with who made it, and every grant is scored again.
#[component]
pub fn RiskSettingsPage() -> impl IntoView {
    let save = ServerAction::<AdminSaveRiskSettings>::new();
    let add = ServerAction::<AdminAddSodRule>::new();
    let remove = ServerAction::<AdminRemoveSodRule>::new();
    let page = Resource::new(move || (save.version().get(), add.version().get(), remove.version().get()), |_| admin_risk_settings());
    let outcome = move |value: Option<Result<String, crate::error::AppError>>| {
        value.map(|result| match result {
            Ok(message) => view! { <p class="notice" role="status">{message}</p> }.into_any(),
            Err(e) => error_view(e),
        })
    };
    view! {
        <Title text="Risk settings · attest" />
        <section class="page">
            <h1>"Risk settings"</h1>
            <p class="lede">
                "The thresholds and points behind every score (the README's \"Risk scores\" explains the formula), and the "
                "separation-of-duties rules: one identity holding both sides of a rule is a toxic combination. "
                "Every change is recorded with your name, and every grant is scored again at once."
            </p>
            {move || outcome(save.value().get())}
            {move || outcome(add.value().get())}
            {move || outcome(remove.value().get())}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <RiskSettingsView page save add remove /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RiskSettingsView(
    page: RiskSettings,
    save: ServerAction<AdminSaveRiskSettings>,
    add: ServerAction<AdminAddSodRule>,
    remove: ServerAction<AdminRemoveSodRule>,
) -> impl IntoView {
    let defaults = Settings::default();
    let fields = page
        .settings
        .fields()
        .into_iter()
        .zip(defaults.fields())
        .map(|(f, d)| {
            let name = format!("settings[{}]", f.key);
            view! {
                <label class="setting">
                    <span>{f.label}</span>
                    <input type="number" name=name value=f.value min=f.min max=f.max required />
                    <small class="muted">{format!("default {}", d.value)}</small>
                </label>
            }
        })
        .collect_view();
    let now = page.now;
    view! {
        <h2>"Thresholds and points"</h2>
        <ActionForm action=save attr:class="settings-form">
            <div class="settings-grid">{fields}</div>
            <button type="submit" class="primary">"Save and score again"</button>
        </ActionForm>
        <h2>"Separation of duties"</h2>
        <p class="muted">
            "An application is named by its id in the source or its name; an entitlement by its name. Rules also come from "
            <code>"sod_rules.csv"</code> " in a CSV bundle, where the source's next bundle replaces them."
        </p>
        {if page.sod_rules.is_empty() {
            view! { <p class="muted">"No rules yet."</p> }.into_any()
        } else {
            view! {
                <table class="sod-rules">
                    <thead><tr>
                        <th scope="col">"One side"</th><th scope="col">"Other side"</th><th scope="col">"Reason"</th>
                        <th scope="col" class="num">"Identities holding both"</th><th scope="col">"Added"</th><th scope="col"></th>
                    </tr></thead>
                    <tbody>
                        {page.sod_rules.into_iter().map(|r| {
                            let id = r.sod_rule_id;
                            let origin = match r.source {
                                Some(source) => format!("from the {source} bundle"),
                                None => format!("by {}", r.created_by),
                            };
                            view! {
                                <tr data-testid="sod-rule">
                                    <td>{r.application_a}": "{r.entitlement_a}</td>
                                    <td>{r.application_b}": "{r.entitlement_b}</td>
                                    <td>{r.reason}</td>
                                    <td class="num">{thousands(r.holders)}</td>
                                    <td>{crate::time_fmt::relative(r.created_at, now)}" "{origin}</td>
                                    <td>
                                        <ActionForm action=remove>
                                            <input type="hidden" name="sod_rule_id" value=id />
                                            <button type="submit" class="small danger">"Remove"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <ActionForm action=add attr:class="sod-form">
            <label>"Application " <input type="text" name="rule[application_a]" required maxlength="500" placeholder="payments" /></label>
            <label>"Entitlement " <input type="text" name="rule[entitlement_a]" required maxlength="500" placeholder="create-payment" /></label>
            <label>"and application " <input type="text" name="rule[application_b]" required maxlength="500" placeholder="payments" /></label>
            <label>"Entitlement " <input type="text" name="rule[entitlement_b]" required maxlength="500" placeholder="approve-payment" /></label>
            <label>"Reason " <input type="text" name="rule[reason]" required maxlength="500" placeholder="one person could pay themselves" /></label>
            <button type="submit" class="primary">"Add rule"</button>
        </ActionForm>
        <h2>"Changes"</h2>
        {if page.history.is_empty() {
            view! { <p class="muted">"The defaults are in force; nobody has changed them."</p> }.into_any()
        } else {
            view! {
                <ul class="history">
                    {page.history.into_iter().map(|c| view! {
                        <li data-testid="settings-change">{crate::time_fmt::date(c.changed_at)}" · "<strong>{c.changed_by}</strong>": "{c.summary}</li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}
