-- campaigns: who reviews which access, by when, in how many stages.
create table campaign (
    campaign_id integer primary key,
    name text not null,
    description text not null,
    scope_query text not null,
    reviewer_rule text not null check (reviewer_rule in ('application_owner', 'identity_owner', 'manager', 'named')),
    named_reviewer_id bigint references identity (identity_id),
    fallback_reviewer_id bigint not null references identity (identity_id),
    -- a second stage reviews what the first approved; null for one stage.
    stage2_reviewer_id bigint references identity (identity_id),
    deadline_at bigint not null,
    deadline_action text not null check (deadline_action in ('keep', 'revoke', 'recommendation')),
    justification text not null check (justification in ('always', 'high_risk_approve', 'revoke')),
    high_risk bigint not null,
    max_exception_days bigint not null,
    status text not null check (status in ('draft', 'active', 'closed')),
    stage bigint not null,
    created_by text not null,
    created_by_user_id bigint not null references app_user (app_user_id),
    created_at bigint not null,
    launched_at bigint,
    closed_at bigint
);

-- one grant in one campaign, frozen at launch: later imports do not change it.
create table review_item (
    item_id integer primary key,
    campaign_id bigint not null references campaign (campaign_id),
    access_grant_id bigint not null references access_grant (access_grant_id),
    identity_id bigint not null references identity (identity_id),
    identity_name text not null,
    identity_kind text not null,
    identity_email text,
    identity_status text not null,
    owner_name text,
    manager_name text,
    department text,
    purpose text,
    last_active_at bigint,
    credential_rotated_at bigint,
    expires_at bigint,
    application text not null,
    entitlement text not null,
    privilege text not null,
    granted_at bigint,
    last_used_at bigint,
    risk_score bigint not null,
    risk_words text not null,
    stage bigint not null,
    reviewer_id bigint references identity (identity_id),
    assigned_by text not null,
    decision text check (decision in ('approve', 'revoke', 'exception')),
    exception_until bigint,
    justification text,
    decided_by text,
    decided_at bigint,
    -- set when the item is finished: approved, revoked, exception, kept or revoked at the deadline.
    outcome text,
    version bigint not null,
    unique (campaign_id, access_grant_id)
);
create index review_item_queue on review_item (reviewer_id, outcome, risk_score);
create index review_item_campaign on review_item (campaign_id, stage, reviewer_id);

-- the decision log: append-only, each entry chained to the one before by SHA-256.
create table decision_log (
    seq bigint primary key,
    campaign_id bigint not null references campaign (campaign_id),
    item_id bigint references review_item (item_id),
    stage bigint not null,
    action text not null,
    justification text,
    exception_until bigint,
    reassigned_to bigint,
    bulk bigint not null,
    approver text not null,
    approver_subject text not null,
    at bigint not null,
    prev_hash text not null,
    hash text not null
);
create index decision_log_item on decision_log (item_id);
create index decision_log_campaign on decision_log (campaign_id, approver_subject, at);

create table decision_log_head (
    id bigint primary key check (id = 1),
    seq bigint not null,
    hash text not null
);
insert into decision_log_head (id, seq, hash) values (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
