use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{error_view, thousands};
use crate::groups::api::{AddReviewerGroupMember, CreateReviewerGroup, DeleteReviewerGroup, RemoveReviewerGroupMember, reviewer_groups};
use crate::groups::{GroupsPage, ReviewerGroup};
use crate::time_fmt;

/// The actions of the page, so that each group's forms can use them.
#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddReviewerGroupMember>,
    remove: ServerAction<RemoveReviewerGroupMember>,
    delete: ServerAction<DeleteReviewerGroup>,
}

/// Reviewer groups: who they hold, what uses them, and every change.
#[component]
pub fn GroupsAdminPage() -> impl IntoView {
    let create = ServerAction::<CreateReviewerGroup>::new();
    let actions = Actions {
        add: ServerAction::<AddReviewerGroupMember>::new(),
        remove: ServerAction::<RemoveReviewerGroupMember>::new(),
        delete: ServerAction::<DeleteReviewerGroup>::new(),
    };
    let page = Resource::new(
        move || (create.version().get(), actions.add.version().get(), actions.remove.version().get(), actions.delete.version().get()),
        |_| reviewer_groups(),
    );
    view! {
        <Title text="Reviewer groups · attest" />
        <section class="page">
            <h1>"Reviewer groups"</h1>
            <p class="lede">
                "A campaign with the rule “a reviewer group” sends each item to a group: any member may decide it, and the first "
                "decision counts. Nobody is shown their own access; when the group has nobody else for an item, it goes to the "
                "campaign's fallback reviewer. Members are active people of the inventory, added by email, and changes apply at "
                "once, in running campaigns too. Every change is recorded below."
            </p>
            {move || create.value().get().and_then(|r| r.err()).map(error_view)}
            {move || actions.add.value().get().and_then(|r| r.err()).map(error_view)}
            {move || actions.remove.value().get().and_then(|r| r.err()).map(error_view)}
            {move || actions.delete.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <GroupsView page create actions /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn GroupsView(page: GroupsPage, create: ServerAction<CreateReviewerGroup>, actions: Actions) -> impl IntoView {
    let now = page.now;
    let manage = page.may_manage;
    view! {
        {manage.then(|| view! {
            <ActionForm action=create attr:class="group-form">
                <label>"Name " <input type="text" name="name" required maxlength="100" placeholder="AWS platform team" /></label>
                <label>"Description " <input type="text" name="description" maxlength="500" placeholder="who they are, what they know" /></label>
                <button type="submit" class="primary">"Create group"</button>
            </ActionForm>
        })}
        {page.groups.is_empty().then(|| view! { <p class="muted">"No reviewer groups yet."</p> })}
        {page.groups.into_iter().map(|group| view! { <GroupView group manage actions /> }).collect_view()}
        <h2>"History"</h2>
        <table class="compact history">
            <thead><tr><th scope="col">"When"</th><th scope="col">"Group"</th><th scope="col">"Change"</th><th scope="col">"By"</th></tr></thead>
            <tbody>
                {page.history.into_iter().map(|c| view! {
                    <tr>
                        <td>{time_fmt::date(c.at)}" ("{time_fmt::relative(c.at, now)}")"</td>
                        <td>{c.group}</td>
                        <td>{match c.member {
                            Some(member) => format!("{} {member}", c.action),
                            None => c.action,
                        }}</td>
                        <td>{c.actor}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn GroupView(group: ReviewerGroup, manage: bool, actions: Actions) -> impl IntoView {
    let id = group.reviewer_group_id;
    let label = format!("Members of {}", group.name);
    let unused = group.campaigns == 0;
    view! {
        <section class="group" data-group=group.name.clone() aria-label=group.name.clone()>
            <h2>{group.name.clone()}</h2>
            {(!group.description.is_empty()).then(|| view! { <p>{group.description.clone()}</p> })}
            <p class="muted">
                {format!(
                    "Created {} by {}. Reviewer group of {} campaigns; {} items wait for its decision.",
                    time_fmt::date(group.created_at), group.created_by, thousands(group.campaigns), thousands(group.open_items)
                )}
            </p>
            {group.members.is_empty().then(|| view! { <p class="notice">"No members yet: its items would all go to the fallback reviewer."</p> })}
            <table class="compact members" aria-label=label>
                <thead><tr><th scope="col">"Member"</th><th scope="col">"Email"</th><th scope="col">"Added"</th><th scope="col"></th></tr></thead>
                <tbody>
                    {group.members.into_iter().map(|m| view! {
                        <tr>
                            <td><a href=format!("/identities/{}", m.identity_id)>{m.name.clone()}</a>
                                {(!m.active).then(|| view! { " "<span class="badge status">"not active: not asked"</span> })}</td>
                            <td>{m.email.clone().unwrap_or_default()}</td>
                            <td>{format!("{} by {}", time_fmt::date(m.added_at), m.added_by)}</td>
                            <td>{manage.then(|| view! {
                                <ActionForm action=actions.remove>
                                    <input type="hidden" name="reviewer_group_id" value=id />
                                    <input type="hidden" name="identity_id" value=m.identity_id />
                                    <button type="submit" class="small danger" aria-label=format!("Remove {}", m.name)>"Remove"</button>
                                </ActionForm>
                            })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {manage.then(|| view! {
                <ActionForm action=actions.add attr:class="member-form">
                    <input type="hidden" name="reviewer_group_id" value=id />
                    <label>"Add a member (email) " <input type="email" name="email" required /></label>
                    <button type="submit" class="small">"Add"</button>
                </ActionForm>
            })}
            {(manage && unused).then(|| view! {
                <ActionForm action=actions.delete>
                    <input type="hidden" name="reviewer_group_id" value=id />
                    <button type="submit" class="small danger">"Delete this group"</button>
                </ActionForm>
            })}
        </section>
    }
}
