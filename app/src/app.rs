use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

use crate::admin::ui::{PeopleAdminPage, TokensAdminPage};
use crate::campaigns::ui::{CampaignPage, CampaignsPage, NewCampaignPage, ReviewsPage};
use crate::evidence::ui::{EvidencePage, RemediationPage};
use crate::groups::ui::GroupsAdminPage;
use crate::identities::grants_ui::GrantsPage;
use crate::identities::ui::{ApplicationsPage, IdentitiesPage, IdentityPage, OverviewPage};
use crate::imports::ui::ImportsAdminPage;
use crate::notifications::ui::{MailSettingsPage, OutboxAdminPage, WebhooksAdminPage};
use crate::scoring::ui::{RiskPage, RiskSettingsPage};
use crate::session::Permission;
use crate::session::api::auth_status;
use crate::session::ui::SignInPage;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Scripts run only from this site or with this response's nonce (the hydration script);
/// nothing may frame the page.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    leptos::nonce::provide_nonce();
    let nonce = leptos::nonce::use_nonce().map(|n| n.to_string()).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    );
    if let (Some(options), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&policy)) {
        options.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Every page waits for its data before the first byte, so it reads fine without JavaScript;
    // hydration then makes filters and links instant.
    view! {
        <Stylesheet id="attest" href="/pkg/attest.css" />
        <Title text="attest" />
        <Router>
            <Header />
            <main id="main">
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=OverviewPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("identities") view=IdentitiesPage ssr=SsrMode::Async />
                    <Route path=path!("/identities/:id") view=IdentityPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("applications") view=ApplicationsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("grants") view=GrantsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("risk") view=RiskPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("campaigns") view=CampaignsPage ssr=SsrMode::Async />
                    <Route path=path!("/campaigns/new") view=NewCampaignPage ssr=SsrMode::Async />
                    <Route path=path!("/campaigns/:id") view=CampaignPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("reviews") view=ReviewsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("remediation") view=RemediationPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("evidence") view=EvidencePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("sign-in") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/people") view=PeopleAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/tokens") view=TokensAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/outbox") view=OutboxAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/mail") view=MailSettingsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/webhooks") view=WebhooksAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/imports") view=ImportsAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/risk") view=RiskSettingsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/groups") view=GroupsAdminPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The demo banner, the navigation and who is signed in.
#[component]
fn Header() -> impl IntoView {
    let status = Resource::new(|| (), |_| auth_status());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let status = status.await.ok();
                let demo = status.as_ref().is_some_and(|s| s.demo);
                let user = status.and_then(|s| s.user);
                view! {
                    {demo.then(|| view! {
                        <div class="demo-banner" role="status">
                            <strong>"Demo mode"</strong>
                            " — a generated estate and a demo sign-in. Nothing here is real; do not use this instance for real reviews."
                        </div>
                    })}
                    <header class="top">
                        <a class="brand" href="/">"attest"</a>
                        <nav aria-label="Main">
                            <A href="/">"Overview"</A>
                            {user.as_ref().is_some_and(|u| u.may(Permission::Review)).then(|| view! {
                                <A href="/reviews">"My reviews"</A>
                            })}
                            {user.as_ref().is_some_and(|u| u.may(Permission::ViewEstate)).then(|| view! {
                                <A href="/campaigns">"Campaigns"</A>
                                <A href="/identities">"Identities"</A>
                                <A href="/grants">"Grants"</A>
                                <A href="/applications">"Applications"</A>
                                <A href="/risk">"Risk"</A>
                                <A href="/remediation">"Remediation"</A>
                            })}
                            {user.as_ref().is_some_and(|u| u.may(Permission::Export)).then(|| view! {
                                <A href="/evidence">"Evidence"</A>
                            })}
                            {user.as_ref().is_some_and(|u| u.may(Permission::RunCampaigns)).then(|| view! {
                                <A href="/admin/groups">"Groups"</A>
                            })}
                            {user.as_ref().is_some_and(|u| u.may(Permission::ManageAccess)).then(|| view! {
                                <A href="/admin/people">"People"</A>
                                <A href="/admin/tokens">"Tokens"</A>
                                <A href="/admin/outbox">"Outbox"</A>
                                <A href="/admin/mail">"Mail"</A>
                                <A href="/admin/webhooks">"Webhooks"</A>
                                <A href="/admin/imports">"Imports"</A>
                            })}
                            {user.as_ref().is_some_and(|u| u.may(Permission::ConfigureRisk)).then(|| view! {
                                <A href="/admin/risk">"Risk settings"</A>
                            })}
                        </nav>
                        <div class="who">
                            {match user {
                                Some(user) => view! {
                                    <span class="user" title={user.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")}>{user.display_name}</span>
                                    <form method="post" action="/sign-out">
                                        <button type="submit" class="link">"Sign out"</button>
                                    </form>
                                }.into_any(),
                                None => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
                            }}
                        </div>
                    </header>
                }
            })}
        </Suspense>
    }
}
