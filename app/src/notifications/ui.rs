use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::error_view;
use crate::notifications::api::{
    AdminCreateWebhook, AdminDisableWebhook, AdminPingWebhook, RemindReviewers, RetryMail, SendTestMail, SetMailSchedule, admin_webhooks,
    get_campaign_mail, mail_settings, outbox,
};
use crate::notifications::{CampaignMail, MailStatus, OutboxPage, OutboxRow, WebhookEvent, WebhooksPage};
use crate::time_fmt;

/// Every mail attest wrote, what became of it, and why a failed one failed. Admins only.
#[component]
pub fn OutboxAdminPage() -> impl IntoView {
    let retry = ServerAction::<RetryMail>::new();
    let page = Resource::new(move || retry.version().get(), |_| outbox());
    view! {
        <Title text="Outbox · attest" />
        <section class="page">
            <h1>"Outbox"</h1>
            <p class="lede">
                "Launch notices, reminder digests, escalations and weekly summaries, written with the change they tell about and "
                "sent by the server's worker. A failed send is tried again with growing pauses; after five attempts it stays failed here. "
                "Mail that has no address in the inventory is listed as failed too, and its campaign owner is told."
            </p>
            {move || retry.value().get().and_then(|r| r.err()).map(error_view)}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <OutboxView page retry /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn OutboxView(page: OutboxPage, retry: ServerAction<RetryMail>) -> impl IntoView {
    let now = page.now;
    view! {
        <p data-testid="outbox-summary">
            {format!("{} sent · {} waiting · {} failed. Mail goes to: {}.", page.sent, page.pending, page.failed, page.transport)}
        </p>
        {if page.rows.is_empty() {
            view! { <p class="muted">"No mail yet. Launching a campaign writes one notice per reviewer."</p> }.into_any()
        } else {
            view! {
                <table class="outbox compact">
                    <thead><tr>
                        <th scope="col">"Written"</th><th scope="col">"Kind"</th><th scope="col">"To"</th><th scope="col">"Subject"</th>
                        <th scope="col">"Campaign"</th><th scope="col">"Status"</th><th scope="col"></th>
                    </tr></thead>
                    <tbody>
                        {page.rows.into_iter().map(|row| view! { <OutboxLine row now retry /> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
fn OutboxLine(row: OutboxRow, now: i64, retry: ServerAction<RetryMail>) -> impl IntoView {
    let status = match row.status {
        MailStatus::Sent => format!("sent {}", row.sent_at.map(|t| time_fmt::relative(t, now)).unwrap_or_default()),
        MailStatus::Pending if row.attempts == 0 => "waiting".to_string(),
        MailStatus::Pending => format!("attempt {} failed; next try {}", row.attempts, time_fmt::date(row.next_attempt_at)),
        MailStatus::Failed if row.attempts == 0 => "failed: not sent".to_string(),
        MailStatus::Failed => format!("failed after {} attempts", row.attempts),
    };
    let class = format!("mail {}", row.status.as_str());
    let may_retry = row.status == MailStatus::Failed && row.attempts > 0;
    let id = row.outbox_id;
    view! {
        <tr class=class data-kind=row.kind.as_str()>
            <td>{time_fmt::date(row.created_at)}</td>
            <td>{row.kind.label()}</td>
            <td>{row.recipient}</td>
            <td>{row.subject}</td>
            <td>{row.campaign.map(|name| view! { <a href=format!("/campaigns/{}", row.campaign_id)>{name}</a> })}</td>
            <td>
                <span class=format!("badge mail-status {}", row.status.as_str())>{status}</span>
                {row.last_error.map(|e| view! { <br /><span class="error-text">{e}</span> })}
                {row.delivered_to.filter(|d| d != "smtp").map(|d| view! { <br /><span class="muted">{d}</span> })}
            </td>
            <td>{may_retry.then(|| view! {
                <ActionForm action=retry>
                    <input type="hidden" name="outbox_id" value=id />
                    <button type="submit" class="small">"Send again"</button>
                </ActionForm>
            })}</td>
        </tr>
    }
}

/// How mail is sent, and a test mail to check it. Admins only.
#[component]
pub fn MailSettingsPage() -> impl IntoView {
    let test = ServerAction::<SendTestMail>::new();
    let info = Resource::new(|| (), |_| mail_settings());
    view! {
        <Title text="Mail settings · attest" />
        <section class="page">
            <h1>"Mail settings"</h1>
            <p class="lede">
                "attest sends mail through the SMTP server in " <code>"ATTEST_SMTP_URL"</code> " as " <code>"ATTEST_MAIL_FROM"</code>
                ". Without it, mails are written as .eml files into a folder and listed on the Outbox page."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! {
                            <dl class="facts">
                                <dt>"Mail goes to"</dt><dd data-testid="mail-transport">{info.transport}</dd>
                                <dt>"From"</dt><dd>{info.from}</dd>
                                <dt>"Links point to"</dt><dd>{info.public_url}</dd>
                            </dl>
                        }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
            <h2>"Send a test mail"</h2>
            <ActionForm action=test attr:class="test-mail">
                <label>"To " <input type="email" name="to" required placeholder="you@example.com" /></label>
                <button type="submit" class="primary">"Send a test mail"</button>
            </ActionForm>
            {move || test.value().get().map(|r| match r {
                Ok(message) => view! { <p class="notice" role="status">{message}" "<a href="/admin/outbox">"Open the Outbox"</a></p> }.into_any(),
                Err(e) => error_view(e),
            })}
        </section>
    }
}

/// On a campaign's page: its mail, what could not be sent, who unsubscribed from reminders,
/// and (for those who run campaigns) the schedule and a nudge.
#[component]
pub fn CampaignMailPanel(campaign_id: i64, may_run: bool, active: bool) -> impl IntoView {
    let remind = ServerAction::<RemindReviewers>::new();
    let schedule = ServerAction::<SetMailSchedule>::new();
    let mail = Resource::new(move || (remind.version().get(), schedule.version().get()), move |_| get_campaign_mail(campaign_id));
    view! {
        <h2>"Mail"</h2>
        {move || remind.value().get().map(|r| match r {
            Ok(message) => view! { <p class="notice" role="status">{message}</p> }.into_any(),
            Err(e) => error_view(e),
        })}
        {move || schedule.value().get().and_then(|r| r.err()).map(error_view)}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match mail.await {
                    Ok(m) => view! { <MailFacts m campaign_id may_run active remind schedule /> }.into_any(),
                    Err(e) => error_view(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MailFacts(
    m: CampaignMail,
    campaign_id: i64,
    may_run: bool,
    active: bool,
    remind: ServerAction<RemindReviewers>,
    schedule: ServerAction<SetMailSchedule>,
) -> impl IntoView {
    let now = m.now;
    view! {
        <p data-testid="campaign-mail">{format!(
            "{} mails sent, {} waiting, {} could not be sent. Reminders {} days before the deadline, then daily while overdue; \
             escalation {} days overdue; still open {} days after the deadline, the campaign closes by its deadline rule.",
            m.sent, m.pending, m.failed.len(), m.reminder_days, m.escalate_after_days, m.close_after_days
        )}</p>
        {(!m.failed.is_empty()).then(|| view! {
            <ul class="compact undeliverable">
                {m.failed.into_iter().map(|f| view! {
                    <li class="error-text">{format!("{}: {} — {}", f.kind.label(), f.recipient, f.last_error.unwrap_or_default())}</li>
                }).collect_view()}
            </ul>
        })}
        <h3>"Unsubscribed from reminders"</h3>
        {if m.unsubscribed.is_empty() {
            view! { <p class="muted">"Nobody reviewing in this campaign has unsubscribed."</p> }.into_any()
        } else {
            view! {
                <ul class="compact unsubscribed">
                    {m.unsubscribed.into_iter().map(|(name, email, at)| view! {
                        <li>{format!("{name} ({email}), {}", time_fmt::relative(at, now))}</li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        {(may_run && active).then(|| view! {
            <ActionForm action=remind>
                <input type="hidden" name="campaign_id" value=campaign_id />
                <button type="submit">"Remind reviewers with open items now"</button>
            </ActionForm>
            <ActionForm action=schedule attr:class="mail-schedule">
                <input type="hidden" name="campaign_id" value=campaign_id />
                <label>"Reminders, days before the deadline " <input type="text" name="reminder_days" value=m.reminder_days.clone() /></label>
                <label>"Escalate after (days overdue) " <input type="number" name="escalate_after_days" min="0" max="90" value=m.escalate_after_days /></label>
                <label>"Close after (days overdue) " <input type="number" name="close_after_days" min="0" max="90" value=m.close_after_days /></label>
                <button type="submit" class="small">"Save the schedule"</button>
            </ActionForm>
        })}
    }
}

/// Receivers of remediation events: added, tested, disabled. Admins only.
#[component]
pub fn WebhooksAdminPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateWebhook>::new();
    let disable = ServerAction::<AdminDisableWebhook>::new();
    let ping = ServerAction::<AdminPingWebhook>::new();
    let page = Resource::new(move || (create.version().get(), disable.version().get(), ping.version().get()), |_| admin_webhooks());
    let events = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
    view! {
        <Title text="Webhooks · attest" />
        <section class="page">
            <h1>"Webhooks"</h1>
            <p class="lede">
                "attest posts every change to a remediation task as JSON to each receiver here, so a ticketing system or a script "
                "can carry out revocations. Events: " {events} ". Each delivery is signed: the header "
                <code>"X-Attest-Signature: t=<unix seconds>,v1=<hex>"</code> " holds the HMAC-SHA256 of " <code>"<t>.<body>"</code>
                " with the receiver's secret. A receiver that does not answer 2xx gets the delivery again after 1, 2, 4 and 8 minutes; "
                "the Outbox page shows every attempt."
            </p>
            <ActionForm action=create attr:class="webhook-form">
                <label>"URL " <input type="url" name="url" required maxlength="2000" placeholder="https://tickets.example.com/hooks/attest" /></label>
                <label>"Description " <input type="text" name="description" maxlength="200" placeholder="ServiceNow revocation queue" /></label>
                <button type="submit" class="primary">"Add webhook"</button>
            </ActionForm>
            {move || create.value().get().map(|result| match result {
                Ok(new) => view! {
                    <div class="notice secret" role="status">
                        <p>"Webhook to " <strong>{new.webhook.url}</strong> " added. Copy its signing secret now: it is not shown again."</p>
                        <code class="secret" data-testid="new-webhook-secret">{new.secret}</code>
                    </div>
                }.into_any(),
                Err(e) => error_view(e),
            })}
            {move || disable.value().get().and_then(|r| r.err()).map(error_view)}
            {move || ping.value().get().map(|r| match r {
                Ok(message) => view! { <p class="notice" role="status">{message}" "<a href="/admin/outbox">"Open the Outbox"</a></p> }.into_any(),
                Err(e) => error_view(e),
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <WebhooksView page disable ping /> }.into_any(),
                        Err(e) => error_view(e),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn WebhooksView(page: WebhooksPage, disable: ServerAction<AdminDisableWebhook>, ping: ServerAction<AdminPingWebhook>) -> impl IntoView {
    let now = page.now;
    if page.webhooks.is_empty() {
        return view! { <p class="muted">"No webhooks yet. Remediation tasks are also on the Remediation page and at GET /api/v1/remediation."</p> }
            .into_any();
    }
    view! {
        <table class="webhooks">
            <thead><tr>
                <th scope="col">"URL"</th><th scope="col">"Description"</th><th scope="col">"Status"</th>
                <th scope="col">"Deliveries"</th><th scope="col">"Added"</th><th scope="col"></th>
            </tr></thead>
            <tbody>
                {page.webhooks.into_iter().map(|w| {
                    let status = match (w.disabled_at, &w.disabled_by) {
                        (Some(at), by) => format!("disabled {} by {}", time_fmt::date(at), by.clone().unwrap_or_default()),
                        (None, _) => "active".to_string(),
                    };
                    let deliveries = format!(
                        "{} sent · {} waiting · {} failed{}",
                        w.sent, w.pending, w.failed,
                        w.last_sent_at.map(|at| format!(" · last {}", time_fmt::relative(at, now))).unwrap_or_default()
                    );
                    let active = w.disabled_at.is_none();
                    let id = w.webhook_id;
                    view! {
                        <tr data-testid="webhook">
                            <td><code>{w.url}</code></td>
                            <td>{w.description}</td>
                            <td>{status}</td>
                            <td>{deliveries}</td>
                            <td>{time_fmt::date(w.created_at)}" by "{w.created_by}</td>
                            <td>{active.then(|| view! {
                                <ActionForm action=ping>
                                    <input type="hidden" name="webhook_id" value=id />
                                    <button type="submit" class="small">"Send a test event"</button>
                                </ActionForm>
                                <ActionForm action=disable>
                                    <input type="hidden" name="webhook_id" value=id />
                                    <button type="submit" class="small danger">"Disable"</button>
                                </ActionForm>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
