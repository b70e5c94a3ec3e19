use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::session::Role;
use crate::session::api::auth_status;

/// Why a sign-in came back here, from the `error` parameter the server sets.
fn sign_in_error(code: &str) -> &'static str {
    match code {
        "state" => "That sign-in link was already used, expired, or was not started in this browser. Please sign in again.",
        "provider" => "The identity provider refused the sign-in.",
        "token" => "The identity provider's answer could not be verified, so you were not signed in.",
        "unavailable" => "The identity provider could not be reached. Try again in a moment.",
        _ => "Sign-in did not complete. Please try again.",
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| auth_status());
    let query = use_query_map();
    let error = move || query.read().get("error").map(|code| sign_in_error(&code));
    view! {
        <Title text="Sign in · attest" />
        <section class="page narrow">
            <h1>"Sign in"</h1>
            {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => view! {
                            {status.oidc.then(|| view! {
                                <p>"Sign in with your company account."</p>
                                <p><a class="button primary" href="/auth/sign-in" rel="external">"Sign in with your identity provider"</a></p>
                            })}
                            {status.demo.then(|| view! {
                                <div class="demo-sign-in">
                                    <p>
                                        "This server runs in demo mode. The demo sign-in opens a session as a made-up person with the role "
                                        "you choose, so you can see what each role may do. Real deployments sign in through the company's identity provider."
                                    </p>
                                    <form method="post" action="/demo/sign-in" class="personas">
                                        {Role::ALL.into_iter().map(|role| view! {
                                            <button type="submit" name="persona" value=role.as_str() class=if role == Role::Admin { "primary" } else { "" }>
                                                {format!("Sign in as Demo {} (demo)", role.label())}
                                            </button>
                                        }).collect_view()}
                                    </form>
                                </div>
                            })}
                        }.into_any(),
                        Err(e) => crate::components::error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}
