use leptos::prelude::*;
use leptos_meta::Title;

use crate::admin::api::{AdminCreateToken, AdminRevokeToken, AdminSetRole, admin_people, admin_tokens};
use crate::admin::{PeoplePage, Person, TokensPage};
use crate::components::{date_or_dash, error_view};
use crate::session::Role;
use crate::time_fmt;

#[component]
pub fn PeopleAdminPage() -> impl IntoView {
    let set_role = ServerAction::<AdminSetRole>::new();
    let page = Resource::new(move || set_role.version().get(), |_| admin_people());
    view! {
        <Title text="People and roles · attest" />
        <section class="page">
            <h1>"People and roles"</h1>
            <p class="lede">
                "Everyone who has signed in. Roles from the identity provider's claim follow the provider at each sign-in; "
                "roles granted here stay until withdrawn here. Every change is recorded below."
            </p>
            {move || set_role.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <PeopleView page set_role /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PeopleView(page: PeoplePage, set_role: ServerAction<AdminSetRole>) -> impl IntoView {
    let now = page.now;
    view! {
        <table class="people">
            <thead><tr>
                <th scope="col">"Person"</th><th scope="col">"Inventory identity"</th><th scope="col">"Last sign-in"</th>
                <th scope="col">"Roles"</th><th scope="col">"Grant or withdraw in attest"</th>
            </tr></thead>
            <tbody>
                {page.people.into_iter().map(|p| view! { <PersonRow p now set_role /> }).collect_view()}
            </tbody>
        </table>
        <h2>"Role history"</h2>
        <table class="compact history">
            <thead><tr><th scope="col">"When"</th><th scope="col">"Person"</th><th scope="col">"Change"</th><th scope="col">"By"</th></tr></thead>
            <tbody>
                {page.history.into_iter().map(|c| view! {
                    <tr>
                        <td>{time_fmt::date(c.at)}" ("{time_fmt::relative(c.at, now)}")"</td>
                        <td>{c.person}</td>
                        <td>{format!("{} {} ({})", c.role.label(), c.action, if c.source == "idp" { "identity provider" } else { "in attest" })}</td>
                        <td>{c.actor}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn PersonRow(p: Person, now: i64, set_role: ServerAction<AdminSetRole>) -> impl IntoView {
    let id = p.app_user_id;
    let admin_roles: Vec<Role> = p.roles.iter().filter(|r| r.source == "admin").map(|r| r.role).collect();
    let contact = p.email.clone().unwrap_or_else(|| p.subject.clone());
    view! {
        <tr data-person=p.email.unwrap_or_default()>
            <td><strong>{p.display_name}</strong><br /><span class="muted">{contact}</span></td>
            <td>{match (p.identity_id, p.identity_name) {
                (Some(iid), Some(name)) => view! { <a href=format!("/identities/{iid}")>{name}</a> }.into_any(),
                _ => view! { <span class="muted">"not matched"</span> }.into_any(),
            }}</td>
            <td>{p.last_sign_in_at.map(|t| time_fmt::relative(t, now)).unwrap_or_else(|| date_or_dash(None))}</td>
            <td>{p.roles.into_iter().map(|r| view! {
                <span class="badge role" title=format!("granted by {}", r.granted_by)>
                    {r.role.label()}{(r.source == "idp").then_some(" (IdP)")}
                </span>" "
            }).collect_view()}</td>
            <td class="role-buttons">{Role::ALL.into_iter().map(|role| {
                let grant = !admin_roles.contains(&role);
                let label = format!("{} {}", if grant { "Grant" } else { "Withdraw" }, role.label());
                view! {
                    <ActionForm action=set_role>
                        <input type="hidden" name="app_user_id" value=id />
                        <input type="hidden" name="role" value=role.as_str() />
                        <input type="hidden" name="grant" value=grant.to_string() />
                        <button type="submit" class=if grant { "small" } else { "small danger" }>{label}</button>
                    </ActionForm>
                }
            }).collect_view()}</td>
        </tr>
    }
}

#[component]
pub fn TokensAdminPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateToken>::new();
    let revoke = ServerAction::<AdminRevokeToken>::new();
    let page = Resource::new(move || (create.version().get(), revoke.version().get()), |_| admin_tokens());
    view! {
        <Title text="API tokens · attest" />
        <section class="page">
            <h1>"API tokens"</h1>
            <p class="lede">
                "Tokens let scripts and CI jobs import snapshots, read the estate or export records through the REST API "
                "(" <code>"Authorization: Bearer attest_…"</code> "). Each is scoped, expires, and is shown only once."
            </p>
            <ActionForm action=create attr:class="token-form">
                <label>"Name " <input type="text" name="name" required maxlength="100" placeholder="nightly AWS import" /></label>
                <label>"Valid for (days) " <input type="number" name="valid_days" value="90" min="1" max="366" /></label>
                <fieldset>
                    <legend>"Scopes"</legend>
                    <label><input type="checkbox" name="import" value="on" />" import"</label>
                    <label><input type="checkbox" name="read" value="on" />" read"</label>
                    <label><input type="checkbox" name="export" value="on" />" export"</label>
                </fieldset>
                <button type="submit" class="primary">"Create token"</button>
            </ActionForm>
            {move || create.value().get().map(|result| match result {
                Ok(new) => view! {
                    <div class="notice secret" role="status">
                        <p>"Token " <strong>{new.token.name}</strong> " created. Copy it now: it is not shown again."</p>
                        <code class="secret" data-testid="new-token">{new.secret}</code>
                    </div>
                }.into_any(),
                Err(e) => error_view(e),
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <TokensView page revoke /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TokensView(page: TokensPage, revoke: ServerAction<AdminRevokeToken>) -> impl IntoView {
    let now = page.now;
    if page.tokens.is_empty() {
        return view! { <p class="muted">"No tokens yet."</p> }.into_any();
    }
    view! {
        <table class="tokens">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Starts with"</th><th scope="col">"Scopes"</th><th scope="col">"Status"</th>
                <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col"></th>
            </tr></thead>
            <tbody>
                {page.tokens.into_iter().map(|t| {
                    let status = match (t.revoked_at, t.expires_at <= now) {
                        (Some(at), _) => format!("revoked {} by {}", time_fmt::date(at), t.revoked_by.clone().unwrap_or_default()),
                        (None, true) => format!("expired {}", time_fmt::date(t.expires_at)),
                        (None, false) => format!("active until {}", time_fmt::date(t.expires_at)),
                    };
                    let active = t.revoked_at.is_none() && t.expires_at > now;
                    view! {
                        <tr>
                            <td>{t.name}</td>
                            <td><code>{t.prefix}"…"</code></td>
                            <td>{t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")}</td>
                            <td>{status}</td>
                            <td>{time_fmt::date(t.created_at)}" by "{t.created_by}</td>
                            <td>{t.last_used_at.map(|at| format!("{} ({} uses)", time_fmt::relative(at, now), t.use_count)).unwrap_or_else(|| "never".into())}</td>
                            <td>{active.then(|| view! {
                                <ActionForm action=revoke>
                                    <input type="hidden" name="api_token_id" value=t.api_token_id />
                                    <button type="submit" class="small danger">"Revoke"</button>
                                </ActionForm>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}
