-- remediation: every revocation is a task until an import shows the access gone.
create table remediation_task (
    task_id integer primary key,
    campaign_id bigint not null references campaign (campaign_id),
    item_id bigint not null unique references review_item (item_id),
    access_grant_id bigint not null references access_grant (access_grant_id),
    source_id bigint not null references source (source_id),
    -- 'revoked' by a reviewer, or 'revoked at the deadline' by the campaign's rule.
    reason text not null,
    status text not null check (status in ('open', 'done', 'verified', 'failed')),
    created_at bigint not null,
    done_by text,
    done_note text,
    done_at bigint,
    -- the import that showed the grant gone (verified) or still there (failed).
    checked_by text,
    checked_at bigint,
    verified_at bigint,
    failed_at bigint
);
create index remediation_task_source on remediation_task (source_id, status);
create index remediation_task_campaign on remediation_task (campaign_id, status);

-- how many days a done task may wait for an import to show the grant gone.
alter table campaign add column remediation_days bigint not null default 7;

-- an expired exception comes back for review in a follow-up campaign.
alter table review_item add column follow_up_campaign_id bigint;
create index review_item_exception on review_item (outcome, exception_until);

-- every export an auditor took away: who, when, what, and the hash of every file.
create table evidence_export (
    export_id integer primary key,
    campaign_id bigint references campaign (campaign_id),
    from_at bigint,
    to_at bigint,
    created_by text not null,
    created_by_subject text not null,
    created_at bigint not null,
    head_seq bigint not null,
    head_hash text not null,
    item_rows bigint not null,
    -- JSON: [{"name": …, "sha256": …, "bytes": …}]
    files text not null,
    manifest_sha256 text not null
);
