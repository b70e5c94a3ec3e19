use sqlx::Row;

use crate::admin::{HeldRole, Person, RoleChange};
use crate::db::{Db, Result};
use crate::session::Role;

/// Everyone who has signed in, with their roles, most recent sign-in first.
pub async fn people(db: &Db) -> Result<Vec<Person>> {
    let rows = sqlx::query(
        "select u.app_user_id, u.display_name, u.email, u.subject, u.identity_id, i.display_name as identity_name, u.last_sign_in_at \
         from app_user u left join identity i on i.identity_id = u.identity_id \
         order by u.last_sign_in_at desc, u.app_user_id",
    )
    .fetch_all(&db.pool)
    .await?;
    let roles =
        sqlx::query("select app_user_id, role, source, granted_by from user_role order by role, source").fetch_all(&db.pool).await?;
    let mut people = Vec::with_capacity(rows.len());
    for row in rows {
        let app_user_id: i64 = row.try_get("app_user_id")?;
        let mut held = Vec::new();
        for r in &roles {
            if r.try_get::<i64, _>("app_user_id")? == app_user_id {
                if let Ok(role) = Role::parse(&r.try_get::<String, _>("role")?) {
                    held.push(HeldRole { role, source: r.try_get("source")?, granted_by: r.try_get("granted_by")? });
                }
            }
        }
        people.push(Person {
            app_user_id,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            subject: row.try_get("subject")?,
            identity_id: row.try_get("identity_id")?,
            identity_name: row.try_get("identity_name")?,
            last_sign_in_at: row.try_get("last_sign_in_at")?,
            roles: held,
        });
    }
    Ok(people)
}

/// The latest role changes, newest first.
pub async fn history(db: &Db, limit: i64) -> Result<Vec<RoleChange>> {
    let rows = sqlx::query(
        "select u.display_name, c.role, c.action, c.source, c.actor, c.created_at from role_change c \
         join app_user u on u.app_user_id = c.app_user_id order by c.role_change_id desc limit $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let Ok(role) = Role::parse(&row.try_get::<String, _>("role")?) else { continue };
        changes.push(RoleChange {
            person: row.try_get("display_name")?,
            role,
            action: row.try_get("action")?,
            source: row.try_get("source")?,
            actor: row.try_get("actor")?,
            at: row.try_get("created_at")?,
        });
    }
    Ok(changes)
}
