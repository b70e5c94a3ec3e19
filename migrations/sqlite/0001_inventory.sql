-- the identity inventory: where data came from, who and what exists, and who holds what.
-- all timestamps are unix seconds (utc), so one query text serves sqlite and postgresql.

-- a source is one system an estate is imported from (an hr export, an aws account, an idp).
create table source (
    source_id integer primary key,
    name text not null unique,
    format text not null,
    last_imported_at bigint,
    created_at bigint not null
);

-- one row per snapshot applied to a source, with what it changed and who ran it.
create table import_run (
    import_run_id integer primary key,
    source_id bigint not null references source (source_id),
    format text not null,
    actor text not null,
    identities_added bigint not null,
    identities_changed bigint not null,
    identities_ended bigint not null,
    grants_added bigint not null,
    grants_changed bigint not null,
    grants_ended bigint not null,
    rejected bigint not null,
    started_at bigint not null,
    finished_at bigint not null,
    created_at bigint not null
);

-- humans and machines alike; owner and manager are kept as given and resolved to an identity
-- of any source after every import.
create table identity (
    identity_id integer primary key,
    source_id bigint not null references source (source_id),
    external_id text not null,
    kind text not null check (kind in ('human', 'service_account', 'api_key', 'token', 'certificate', 'bot', 'ai_agent', 'workload')),
    display_name text not null,
    email text,
    owner text,
    owner_identity_id bigint references identity (identity_id),
    manager text,
    manager_identity_id bigint references identity (identity_id),
    department text,
    status text not null check (status in ('active', 'disabled', 'terminated')),
    purpose text,
    source_created_at bigint,
    last_active_at bigint,
    credential_rotated_at bigint,
    expires_at bigint,
    -- set when the identity is missing from the latest snapshot of its source; kept, not deleted.
    ended_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    unique (source_id, external_id)
);
create index identity_kind on identity (kind, display_name);
create index identity_display_name on identity (display_name);
create index identity_email on identity (email);
create index identity_external_id on identity (external_id);
create index identity_owner on identity (owner_identity_id);

create table application (
    application_id integer primary key,
    source_id bigint not null references source (source_id),
    external_id text not null,
    name text not null,
    owner text,
    owner_identity_id bigint references identity (identity_id),
    criticality text not null check (criticality in ('low', 'medium', 'high')),
    created_at bigint not null,
    updated_at bigint not null,
    unique (source_id, external_id)
);

-- privilege_inferred = 1 when the level was read from the entitlement's name, not given.
create table entitlement (
    entitlement_id integer primary key,
    application_id bigint not null references application (application_id),
    name text not null,
    privilege text not null check (privilege in ('admin', 'write', 'read', 'unknown')),
    privilege_inferred bigint not null,
    created_at bigint not null,
    unique (application_id, name)
);

-- identity x entitlement. a grant missing from a newer snapshot of its source gets ended_at;
-- it is kept so that revocations can be verified against it.
create table access_grant (
    access_grant_id integer primary key,
    source_id bigint not null references source (source_id),
    identity_id bigint not null references identity (identity_id),
    entitlement_id bigint not null references entitlement (entitlement_id),
    granted_at bigint,
    last_used_at bigint,
    granted_by text,
    ended_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    unique (identity_id, entitlement_id)
);
create index access_grant_source on access_grant (source_id);
create index access_grant_entitlement on access_grant (entitlement_id);

-- people who sign in to attest, matched to their identity in the inventory when possible.
create table app_user (
    app_user_id integer primary key,
    subject text not null unique,
    email text,
    display_name text not null,
    created_at bigint not null
);

-- server-side sessions; the cookie carries a random token, the table only its sha-256.
create table session (
    session_hash text primary key,
    app_user_id bigint not null references app_user (app_user_id),
    created_at bigint not null,
    last_seen_at bigint not null,
    expires_at bigint not null
);
