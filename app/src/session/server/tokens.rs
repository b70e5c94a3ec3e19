//! API tokens for automation: scoped, expiring, stored as SHA-256, shown once, revocable,
//! with their last use recorded.

use sqlx::Row;

use super::repo::{hash, random_token};
use crate::db::{Db, DbError, Result, now};
use crate::session::{ApiToken, TokenScope};

/// Every token starts with this, so secret scanners and people recognise one.
pub const PREFIX: &str = "attest_";

fn scopes_text(scopes: &[TokenScope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn parse_scopes(text: &str) -> Vec<TokenScope> {
    text.split(',').filter_map(|s| TokenScope::parse(s).ok()).collect()
}

/// Creates a token and returns it with its secret, which is never stored nor shown again.
pub async fn create(db: &Db, name: &str, scopes: &[TokenScope], valid_days: i64, actor: &str) -> Result<(ApiToken, String)> {
    let secret = format!("{PREFIX}{}", random_token());
    let now = now();
    let expires_at = now + valid_days * 86_400;
    let shown = secret[..PREFIX.len() + 6].to_string();
    let id: i64 = sqlx::query_scalar(
        "insert into api_token (name, token_hash, prefix, scopes, created_by, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7) returning api_token_id",
    )
    .bind(name)
    .bind(hash(&secret))
    .bind(&shown)
    .bind(scopes_text(scopes))
    .bind(actor)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&db.pool)
    .await?;
    let token = get(db, id).await?;
    Ok((token, secret))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        api_token_id: row.try_get("api_token_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        scopes: parse_scopes(&row.try_get::<String, _>("scopes")?),
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        last_used_at: row.try_get("last_used_at")?,
        use_count: row.try_get("use_count")?,
    })
}

const COLUMNS: &str =
    "api_token_id, name, prefix, scopes, created_by, created_at, expires_at, revoked_at, revoked_by, last_used_at, use_count";

pub async fn get(db: &Db, id: i64) -> Result<ApiToken> {
    let row = sqlx::query(&format!("select {COLUMNS} from api_token where api_token_id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| DbError::NotFound(format!("token {id}")))?;
    from_row(&row)
}

/// All tokens, newest first, revoked and expired ones included.
pub async fn list(db: &Db) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(&format!("select {COLUMNS} from api_token order by api_token_id desc")).fetch_all(&db.pool).await?;
    rows.iter().map(from_row).collect()
}

/// Revokes a token; revoking twice changes nothing and says so.
pub async fn revoke(db: &Db, id: i64, actor: &str) -> Result<bool> {
    get(db, id).await?;
    let done = sqlx::query("update api_token set revoked_at = $1, revoked_by = $2 where api_token_id = $3 and revoked_at is null")
        .bind(now())
        .bind(actor)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a presented token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
    Revoked,
}

/// The token behind a secret, if it is known, not expired and not revoked; records the use.
pub async fn authenticate(db: &Db, secret: &str) -> Result<std::result::Result<ApiToken, Refused>> {
    if !secret.starts_with(PREFIX) {
        return Ok(Err(Refused::Unknown));
    }
    let row =
        sqlx::query(&format!("select {COLUMNS} from api_token where token_hash = $1")).bind(hash(secret)).fetch_optional(&db.pool).await?;
    let Some(row) = row else { return Ok(Err(Refused::Unknown)) };
    let token = from_row(&row)?;
    let now = now();
    if token.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if token.expires_at <= now {
        return Ok(Err(Refused::Expired));
    }
    sqlx::query("update api_token set last_used_at = $1, use_count = use_count + 1 where api_token_id = $2")
        .bind(now)
        .bind(token.api_token_id)
        .execute(&db.pool)
        .await?;
    Ok(Ok(token))
}
