use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{KindBadge, PrivilegeBadge, Risk, error_view, thousands};
use crate::scoring::RiskOverview;
use crate::scoring::api::get_risk_overview;

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
