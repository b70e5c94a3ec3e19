//! People, their sessions and roles. All SQL of sign-in and role changes.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, Result, now};
use crate::session::{CurrentUser, Role};

/// How long a session lasts without use, and at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { idle_secs: 8 * 3600, absolute_secs: 24 * 3600 }
    }
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes as hex: session ids, sign-in states, API tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A person who proved who they are, at the identity provider or through the demo sign-in.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// Stable and unique: `oidc:<issuer>#<sub>` or `demo:<persona>`.
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub display_name: &'a str,
    /// Roles the identity provider's claim grants now; they replace the earlier claim roles.
    pub idp_roles: Vec<Role>,
    /// Recorded as the actor of role changes that come from the claim.
    pub via: &'a str,
}

/// Finds or creates the person, brings their claim roles up to date (each change recorded),
/// matches them to an inventory identity, and opens a session. Returns the token for the
/// cookie: a fresh one every time, so a sign-in never reuses an earlier session id.
pub async fn sign_in(db: &Db, who: &SignIn<'_>, timeouts: Timeouts) -> Result<String> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let identity_id: Option<i64> = sqlx::query_scalar(
        "select identity_id from identity where ended_at is null and kind = 'human' \
         and (external_id = $1 or ($2 is not null and lower(email) = lower($2))) order by identity_id limit 1",
    )
    .bind(who.subject.rsplit('#').next().unwrap_or(who.subject))
    .bind(who.email)
    .fetch_optional(&mut *tx)
    .await?;
    let existing: Option<i64> =
        sqlx::query_scalar("select app_user_id from app_user where subject = $1").bind(who.subject).fetch_optional(&mut *tx).await?;
    let app_user_id = match existing {
        Some(id) => {
            sqlx::query("update app_user set email = $1, display_name = $2, identity_id = $3, last_sign_in_at = $4 where app_user_id = $5")
                .bind(who.email)
                .bind(who.display_name)
                .bind(identity_id)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "insert into app_user (subject, email, display_name, identity_id, last_sign_in_at, created_at) \
                 values ($1, $2, $3, $4, $5, $5) returning app_user_id",
            )
            .bind(who.subject)
            .bind(who.email)
            .bind(who.display_name)
            .bind(identity_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        }
    };

    let held: Vec<String> = sqlx::query_scalar("select role from user_role where app_user_id = $1 and source = 'idp'")
        .bind(app_user_id)
        .fetch_all(&mut *tx)
        .await?;
    for role in &who.idp_roles {
        if !held.iter().any(|r| r == role.as_str()) {
            sqlx::query("insert into user_role (app_user_id, role, source, granted_by, created_at) values ($1, $2, 'idp', $3, $4)")
                .bind(app_user_id)
                .bind(role.as_str())
                .bind(who.via)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            record_change(&mut tx, app_user_id, *role, "granted", "idp", who.via, now).await?;
        }
    }
    for name in &held {
        if !who.idp_roles.iter().any(|r| r.as_str() == name) {
            sqlx::query("delete from user_role where app_user_id = $1 and role = $2 and source = 'idp'")
                .bind(app_user_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if let Ok(role) = Role::parse(name) {
                record_change(&mut tx, app_user_id, role, "revoked", "idp", who.via, now).await?;
            }
        }
    }

    let token = random_token();
    sqlx::query("insert into session (session_hash, app_user_id, created_at, last_seen_at, expires_at) values ($1, $2, $3, $3, $4)")
        .bind(hash(&token))
        .bind(app_user_id)
        .bind(now)
        .bind(now + timeouts.absolute_secs)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(token)
}

async fn record_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_user_id: i64,
    role: Role,
    action: &str,
    source: &str,
    actor: &str,
    at: i64,
) -> Result<()> {
    sqlx::query("insert into role_change (app_user_id, role, action, source, actor, created_at) values ($1, $2, $3, $4, $5, $6)")
        .bind(app_user_id)
        .bind(role.as_str())
        .bind(action)
        .bind(source)
        .bind(actor)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The roles a person holds from any source, each once.
pub async fn roles_of(db: &Db, app_user_id: i64) -> Result<Vec<Role>> {
    let names: Vec<String> =
        sqlx::query_scalar("select distinct role from user_role where app_user_id = $1").bind(app_user_id).fetch_all(&db.pool).await?;
    let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::parse(n).ok()).collect();
    roles.sort();
    Ok(roles)
}

/// The person behind a token, if the session is neither idle too long nor past its end.
pub async fn lookup(db: &Db, token: &str, timeouts: Timeouts) -> Result<Option<CurrentUser>> {
    let now = now();
    let row = sqlx::query(
        "select u.app_user_id, u.display_name, u.subject, u.email, u.identity_id, s.last_seen_at from session s \
         join app_user u on u.app_user_id = s.app_user_id \
         where s.session_hash = $1 and s.expires_at > $2 and s.last_seen_at > $3",
    )
    .bind(hash(token))
    .bind(now)
    .bind(now - timeouts.idle_secs)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let last_seen: i64 = row.try_get("last_seen_at")?;
    // Touch at most once a minute: reads stay reads.
    if now - last_seen > 60 {
        sqlx::query("update session set last_seen_at = $1 where session_hash = $2").bind(now).bind(hash(token)).execute(&db.pool).await?;
    }
    let app_user_id: i64 = row.try_get("app_user_id")?;
    Ok(Some(CurrentUser {
        app_user_id,
        display_name: row.try_get("display_name")?,
        subject: row.try_get("subject")?,
        email: row.try_get("email")?,
        identity_id: row.try_get("identity_id")?,
        roles: roles_of(db, app_user_id).await?,
    }))
}

pub async fn sign_out(db: &Db, token: &str) -> Result<()> {
    sqlx::query("delete from session where session_hash = $1").bind(hash(token)).execute(&db.pool).await?;
    Ok(())
}

/// Grants (`grant = true`) or withdraws a role given in attest, recorded with the admin's name.
/// Roles from the identity provider's claim are left alone: they follow the provider.
pub async fn set_admin_role(db: &Db, app_user_id: i64, role: Role, grant: bool, actor: &str) -> Result<bool> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let exists: Option<i64> =
        sqlx::query_scalar("select app_user_id from app_user where app_user_id = $1").bind(app_user_id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        return Err(crate::db::DbError::NotFound(format!("person {app_user_id}")));
    }
    let held: Option<String> = sqlx::query_scalar("select role from user_role where app_user_id = $1 and role = $2 and source = 'admin'")
        .bind(app_user_id)
        .bind(role.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let changed = match (grant, held.is_some()) {
        (true, false) => {
            sqlx::query("insert into user_role (app_user_id, role, source, granted_by, created_at) values ($1, $2, 'admin', $3, $4)")
                .bind(app_user_id)
                .bind(role.as_str())
                .bind(actor)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            record_change(&mut tx, app_user_id, role, "granted", "admin", actor, now).await?;
            true
        }
        (false, true) => {
            sqlx::query("delete from user_role where app_user_id = $1 and role = $2 and source = 'admin'")
                .bind(app_user_id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            record_change(&mut tx, app_user_id, role, "revoked", "admin", actor, now).await?;
            true
        }
        _ => false,
    };
    tx.commit().await?;
    Ok(changed)
}
