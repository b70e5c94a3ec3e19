-- mail: an outbox written in the same transaction as the change a mail tells about, sent by
-- a worker; reminders already covered; people who want no more reminders; and per campaign
-- when reminders go, when escalation starts and when the scheduler closes what is left open.

-- one mail. (kind, recipient, campaign_id, slot) names it: the scheduler cannot write the same
-- mail twice, and a crash between sending and marking it sent repeats it at most once.
-- campaign_id is 0 for a mail about several campaigns (a reviewer's digest).
create table outbox (
    outbox_id integer primary key,
    kind text not null check (kind in ('launch', 'reminder', 'escalation', 'summary', 'undeliverable', 'test', 'exceptions')),
    recipient text not null,
    campaign_id bigint not null,
    slot text not null,
    subject text not null,
    -- the mail's content as json; rendered into html and plain text when it is sent.
    payload text not null,
    status text not null check (status in ('pending', 'sent', 'failed')),
    attempts bigint not null,
    next_attempt_at bigint not null,
    last_error text,
    sent_at bigint,
    -- `smtp` or the .eml file it was written to.
    delivered_to text,
    created_at bigint not null,
    unique (kind, recipient, campaign_id, slot)
);
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_campaign on outbox (campaign_id);

-- the reminder slots (a time before or after a campaign's deadline) each reviewer was reminded
-- of, written with the digest that covered them.
create table reminder (
    campaign_id bigint not null references campaign (campaign_id),
    identity_id bigint not null references identity (identity_id),
    slot_at bigint not null,
    outbox_id bigint,
    created_at bigint not null,
    primary key (campaign_id, identity_id, slot_at)
);

-- every address reminders go to has a token for its unsubscribe link; unsubscribed_at is set
-- once the person asks for no more reminders (launch notices and escalations still go).
create table mail_optout (
    email text primary key,
    token text not null unique,
    unsubscribed_at bigint,
    created_at bigint not null
);

-- reminders this many days before the deadline (comma-separated), then daily while overdue.
alter table campaign add column reminder_days text not null default '7,3,1';
-- the reviewer's manager and the campaign owner hear of stalled reviewers this many days overdue.
alter table campaign add column escalate_after_days bigint not null default 3;
-- the scheduler closes what is still open this many days after the deadline (0: at the deadline).
alter table campaign add column close_after_days bigint not null default 7;
