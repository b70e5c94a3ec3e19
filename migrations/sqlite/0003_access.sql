-- who may do what: roles, their history, sign-in attempts and API tokens.

-- the inventory identity a signed-in person was matched to (by email or subject).
alter table app_user add column identity_id bigint references identity (identity_id);
-- when the person last signed in.
alter table app_user add column last_sign_in_at bigint;

-- roles a person holds. source 'idp' comes from the identity provider's claim at sign-in,
-- 'admin' was granted by an admin in attest; a role counts if either holds it.
create table user_role (
    app_user_id bigint not null references app_user (app_user_id),
    role text not null,
    source text not null,
    granted_by text not null,
    created_at bigint not null,
    primary key (app_user_id, role, source)
);

-- every role change, with who made it and when; never updated or deleted.
create table role_change (
    role_change_id integer primary key,
    app_user_id bigint not null references app_user (app_user_id),
    role text not null,
    action text not null,
    source text not null,
    actor text not null,
    created_at bigint not null
);
create index role_change_user on role_change (app_user_id);

-- a sign-in started at the identity provider: single use, short-lived. The browser holds the
-- state in a cookie; the PKCE verifier and nonce stay here.
create table login_attempt (
    state_hash text primary key,
    nonce text not null,
    pkce_verifier text not null,
    return_to text not null,
    created_at bigint not null,
    expires_at bigint not null
);

-- tokens for automation. Only the SHA-256 of a token is stored; it is shown once.
create table api_token (
    api_token_id integer primary key,
    name text not null,
    token_hash text not null unique,
    prefix text not null,
    scopes text not null,
    created_by text not null,
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint,
    revoked_by text,
    last_used_at bigint,
    use_count bigint not null default 0
);
