-- reviewer groups: a campaign's items can go to a named group of people instead of one
-- person. Any member may decide such an item, the first decision wins (the item's version),
-- and nobody decides their own access. Membership is read when a member opens their queue, so
-- adding or removing a member takes effect at once, in running campaigns too.

-- a group, named once and for all in the campaigns that use it.
create table reviewer_group (
    reviewer_group_id integer primary key,
    name text not null,
    description text not null,
    created_by text not null,
    created_by_subject text not null,
    created_at bigint not null
);
-- names are unique whatever their case, since campaign owners pick groups by name.
create unique index reviewer_group_name on reviewer_group (lower(name));

-- the people in a group: active persons of the inventory, found by email when added.
create table reviewer_group_member (
    reviewer_group_id bigint not null references reviewer_group (reviewer_group_id),
    identity_id bigint not null references identity (identity_id),
    added_by text not null,
    added_by_subject text not null,
    created_at bigint not null,
    primary key (reviewer_group_id, identity_id)
);
-- a person's groups, read on every queue load.
create index reviewer_group_member_identity on reviewer_group_member (identity_id, reviewer_group_id);

-- every change to a group and its members, with who made it and when; never updated or deleted.
-- reviewer_group_id is kept without a reference, so the history outlives a deleted group.
create table reviewer_group_change (
    reviewer_group_change_id integer primary key,
    reviewer_group_id bigint not null,
    group_name text not null,
    -- 'created', 'added', 'removed' or 'deleted'.
    action text not null check (action in ('created', 'added', 'removed', 'deleted')),
    -- the member added or removed, as they were named then.
    member text,
    actor text not null,
    actor_subject text not null,
    created_at bigint not null
);
create index reviewer_group_change_group on reviewer_group_change (reviewer_group_id);

-- the rule 'group' and the group it names. SQLite cannot change a check constraint, so the
-- table is rebuilt with the same rows. Other tables refer to campaign: their checks are
-- deferred to the commit, by which time every campaign is back under the same id.
pragma defer_foreign_keys = on;
create table campaign_copy as select * from campaign;
drop table campaign;
create table campaign (
    campaign_id integer primary key,
    name text not null,
    description text not null,
    scope_query text not null,
    reviewer_rule text not null check (reviewer_rule in ('application_owner', 'identity_owner', 'manager', 'named', 'group')),
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
    closed_at bigint,
    -- reminders this many days before the deadline (comma-separated), then daily while overdue.
    reminder_days text not null default '7,3,1',
    -- the reviewer's manager and the campaign owner hear of stalled reviewers this many days overdue.
    escalate_after_days bigint not null default 3,
    -- the scheduler closes what is still open this many days after the deadline (0: at the deadline).
    close_after_days bigint not null default 7,
    -- how many days a done task may wait for an import to show the grant gone.
    remediation_days bigint not null default 7,
    -- the group of the rule 'group'.
    reviewer_group_id bigint references reviewer_group (reviewer_group_id),
    check (reviewer_rule <> 'group' or reviewer_group_id is not null)
);
insert into campaign (campaign_id, name, description, scope_query, reviewer_rule, named_reviewer_id, fallback_reviewer_id,
    stage2_reviewer_id, deadline_at, deadline_action, justification, high_risk, max_exception_days, status, stage, created_by,
    created_by_user_id, created_at, launched_at, closed_at, reminder_days, escalate_after_days, close_after_days, remediation_days)
select campaign_id, name, description, scope_query, reviewer_rule, named_reviewer_id, fallback_reviewer_id,
    stage2_reviewer_id, deadline_at, deadline_action, justification, high_risk, max_exception_days, status, stage, created_by,
    created_by_user_id, created_at, launched_at, closed_at, reminder_days, escalate_after_days, close_after_days, remediation_days
from campaign_copy;
drop table campaign_copy;

-- an item for a group: reviewer_id stays null until someone takes it over (a reassignment,
-- an abstention, the second stage), which clears the group.
alter table review_item add column reviewer_group_id bigint references reviewer_group (reviewer_group_id);

-- a group's queue, riskiest first and then in item order, read from the index in order; only
-- group items are in it, so campaigns without groups do not pay for it.
create index review_item_group_queue on review_item (reviewer_group_id, outcome, risk_score desc, item_id)
    where reviewer_group_id is not null;
-- a group's open and decided counts, without a member's own items, read from the index alone.
create index review_item_group_counts on review_item (reviewer_group_id, outcome, campaign_id, stage, decision, identity_id, identity_email)
    where reviewer_group_id is not null;
