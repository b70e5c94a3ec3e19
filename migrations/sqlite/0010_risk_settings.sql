-- risk settings and separation-of-duties rules, both changed by people and recorded with who
-- and when.

-- each change of the risk settings: the whole set as JSON, what changed in words, who and when.
-- The latest row is in force; with none, the documented defaults are.
create table risk_settings_change (
    risk_settings_change_id integer primary key,
    settings text not null,
    summary text not null,
    changed_by text not null,
    changed_by_subject text not null,
    changed_at bigint not null
);

-- holding both sides is a toxic combination. An application is named by its id in the source
-- or its name; an entitlement by its name.
create table sod_rule (
    sod_rule_id integer primary key,
    application_a text not null,
    entitlement_a text not null,
    application_b text not null,
    entitlement_b text not null,
    reason text not null,
    -- the source whose import bundle brought the rule (its next bundle replaces it); null when
    -- added on the settings page.
    source_id bigint references source (source_id),
    created_by text not null,
    created_at bigint not null,
    -- a removed rule is kept, with who removed it (or which import replaced it) and when.
    removed_by text,
    removed_at bigint
);
create index sod_rule_source on sod_rule (source_id, removed_at);
