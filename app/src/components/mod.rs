//! Small pieces of UI several pages use.

use leptos::prelude::*;

use crate::identities::{IdentityKind, IdentityStatus, Privilege};
use crate::time_fmt;

/// A failed server function, said in words; internals never reach this point.
pub fn error_view(e: crate::error::AppError) -> AnyView {
    view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()
}

/// `12,345`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A date, or a dash when the source did not say.
pub fn date_or_dash(ts: Option<i64>) -> String {
    ts.map(time_fmt::date).unwrap_or_else(|| "—".to_string())
}

/// "212 days ago", or `never` for something never used.
pub fn ago_or(ts: Option<i64>, now: i64, none: &'static str) -> String {
    ts.map(|t| time_fmt::relative(t, now)).unwrap_or_else(|| none.to_string())
}

#[component]
pub fn KindBadge(kind: IdentityKind) -> impl IntoView {
    let class = if kind.is_machine() { "badge kind machine" } else { "badge kind human" };
    view! { <span class=class data-kind=kind.as_str()>{kind.label()}</span> }
}

#[component]
pub fn StatusBadge(status: IdentityStatus) -> impl IntoView {
    let class = format!("badge status {}", status.as_str());
    view! { <span class=class>{status.label()}</span> }
}

#[component]
pub fn PrivilegeBadge(privilege: Privilege, inferred: bool) -> impl IntoView {
    let class = format!("badge privilege {}", privilege.as_str());
    let title = if inferred { "inferred from the entitlement's name" } else { "given by the source" };
    view! {
        <span class=class title=title>
            {privilege.label()}
            {inferred.then_some(" (inferred)")}
        </span>
    }
}

/// The score as a number with its band, and the factors in words beside it.
#[component]
pub fn Risk(score: i64, #[prop(optional, into)] words: Option<String>) -> impl IntoView {
    let band = crate::scoring::band(score.clamp(0, 100) as u32);
    let class = format!("risk {band}");
    let label = format!("risk {score} of 100, {band}");
    view! {
        <span class="risk-cell">
            <span class=class aria-label=label.clone() title=label>{score}</span>
            {words.filter(|w| !w.is_empty()).map(|w| view! { <span class="factors">{w}</span> })}
        </span>
    }
}

/// Previous / next links and where we are; `href` builds the link for a page number.
#[component]
pub fn Pager(page: u32, per_page: u32, total: i64, href: impl Fn(u32) -> String + 'static) -> impl IntoView {
    let first = i64::from(page - 1) * i64::from(per_page) + 1;
    let last = (i64::from(page) * i64::from(per_page)).min(total);
    let pages = ((total + i64::from(per_page) - 1) / i64::from(per_page)).max(1);
    let status = if total == 0 {
        "Nothing matches".to_string()
    } else {
        format!("{}–{} of {}", thousands(first), thousands(last), thousands(total))
    };
    view! { <PagerLinks page next=i64::from(page) < pages href>{status}</PagerLinks> }
}

/// A pager's previous and next links around what it says (its children), for pages that know
/// whether another follows before they know how many there are.
#[component]
pub fn PagerLinks(page: u32, next: bool, href: impl Fn(u32) -> String + 'static, children: Children) -> impl IntoView {
    let prev = (page > 1).then(|| href(page - 1));
    let next = next.then(|| href(page + 1));
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="pager-status">{children()}</span>
            {prev.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-4_200), "-4,200");
    }
}
