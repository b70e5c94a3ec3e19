use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, Result, now};
use crate::session::CurrentUser;

/// How long a session lasts without use, and at most.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { idle_secs: 8 * 3600, absolute_secs: 24 * 3600 }
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Finds or creates the person with this subject and opens a session; returns the token for
/// the cookie. A fresh token every time, so a sign-in never reuses an earlier session id.
pub async fn sign_in(db: &Db, subject: &str, email: Option<&str>, display_name: &str, timeouts: Timeouts) -> Result<String> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let existing: Option<i64> =
        sqlx::query_scalar("select app_user_id from app_user where subject = $1").bind(subject).fetch_optional(&mut *tx).await?;
    let app_user_id = match existing {
        Some(id) => {
            sqlx::query("update app_user set email = $1, display_name = $2 where app_user_id = $3")
                .bind(email)
                .bind(display_name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "insert into app_user (subject, email, display_name, created_at) values ($1, $2, $3, $4) returning app_user_id",
            )
            .bind(subject)
            .bind(email)
            .bind(display_name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
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

/// The person behind a token, if the session is neither idle too long nor past its end.
pub async fn lookup(db: &Db, token: &str, timeouts: Timeouts) -> Result<Option<CurrentUser>> {
    let now = now();
    let row = sqlx::query(
        "select u.app_user_id, u.display_name, u.email, s.last_seen_at from session s \
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
    Ok(Some(CurrentUser {
        app_user_id: row.try_get("app_user_id")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
    }))
}

pub async fn sign_out(db: &Db, token: &str) -> Result<()> {
    sqlx::query("delete from session where session_hash = $1").bind(hash(token)).execute(&db.pool).await?;
    Ok(())
}
