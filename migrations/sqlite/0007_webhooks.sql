-- webhooks: remediation tasks posted as signed JSON to a ticketing system or a script, each
-- delivery a row of the outbox so that it is retried like a mail.

-- a receiver. Its secret signs every delivery (HMAC-SHA256) and is shown once, when made.
create table webhook (
    webhook_id integer primary key,
    url text not null,
    description text not null,
    secret text not null,
    created_by text not null,
    created_by_subject text not null,
    created_at bigint not null,
    disabled_by text,
    disabled_at bigint
);

-- the outbox also carries webhook deliveries: kind 'webhook', the receiver's url as recipient,
-- the event as subject and the JSON body as payload. SQLite cannot change a check constraint,
-- so the table is rebuilt with the same rows.
create table outbox_new (
    outbox_id integer primary key,
    kind text not null check (kind in ('launch', 'reminder', 'escalation', 'summary', 'undeliverable', 'test', 'exceptions', 'webhook')),
    recipient text not null,
    campaign_id bigint not null,
    slot text not null,
    subject text not null,
    payload text not null,
    status text not null check (status in ('pending', 'sent', 'failed')),
    attempts bigint not null,
    next_attempt_at bigint not null,
    last_error text,
    sent_at bigint,
    delivered_to text,
    created_at bigint not null,
    webhook_id bigint references webhook (webhook_id),
    unique (kind, recipient, campaign_id, slot)
);
insert into outbox_new (outbox_id, kind, recipient, campaign_id, slot, subject, payload, status, attempts, next_attempt_at,
    last_error, sent_at, delivered_to, created_at)
select outbox_id, kind, recipient, campaign_id, slot, subject, payload, status, attempts, next_attempt_at,
    last_error, sent_at, delivered_to, created_at from outbox;
drop table outbox;
alter table outbox_new rename to outbox;
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_campaign on outbox (campaign_id);
create index outbox_webhook on outbox (webhook_id, status);
