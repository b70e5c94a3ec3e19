use leptos::prelude::*;
use leptos_meta::Title;

use crate::session::api::auth_status;

#[component]
pub fn SignInPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| auth_status());
    view! {
        <Title text="Sign in · attest" />
        <section class="page narrow">
            <h1>"Sign in"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) if status.demo => view! {
                            <p>
                                "This server runs in demo mode. The demo sign-in opens a session as "
                                <strong>"Demo Admin"</strong>
                                ", a made-up person. Real deployments sign in through the company's identity provider."
                            </p>
                            <form method="post" action="/demo/sign-in">
                                <button type="submit" class="primary">"Sign in as Demo Admin (demo)"</button>
                            </form>
                        }.into_any(),
                        Ok(_) => view! {
                            <p>"Sign-in goes through your identity provider."</p>
                        }.into_any(),
                        Err(e) => crate::components::error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}
