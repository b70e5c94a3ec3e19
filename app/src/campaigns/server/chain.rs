//! The decision log: append-only, each entry carrying the SHA-256 of the one before, so an
//! edited, deleted or reordered entry shows.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::campaigns::ChainCheck;
use crate::db::{Db, Result, Sql};

/// The hash the first entry points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry, as written and as hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub campaign_id: i64,
    pub item_id: Option<i64>,
    pub stage: i64,
    pub action: String,
    pub justification: Option<String>,
    pub exception_until: Option<i64>,
    pub reassigned_to: Option<i64>,
    pub bulk: bool,
    pub approver: String,
    pub approver_subject: String,
    pub at: i64,
    pub prev_hash: String,
}

impl Entry {
    /// SHA-256 over a canonical encoding: a JSON array of every field in a fixed order.
    pub fn hash(&self) -> String {
        // A JSON array, compact: the same bytes `serde_json::json!([...]).to_string()` gives,
        // written straight from the fields.
        let canonical = (
            "attest-decision-v1",
            self.seq,
            self.campaign_id,
            self.item_id,
            self.stage,
            &self.action,
            &self.justification,
            self.exception_until,
            self.reassigned_to,
            self.bulk,
            &self.approver,
            &self.approver_subject,
            self.at,
            &self.prev_hash,
        );
        let mut bytes = Vec::with_capacity(256);
        // Writing into memory cannot fail, and these values always serialise.
        let _ = serde_json::to_writer(&mut bytes, &canonical);
        hex::encode(Sha256::digest(&bytes))
    }
}

/// What is appended; the sequence number and the previous hash are the log's to give.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub campaign_id: i64,
    pub item_id: Option<i64>,
    pub stage: i64,
    pub action: &'a str,
    pub justification: Option<&'a str>,
    pub exception_until: Option<i64>,
    pub reassigned_to: Option<i64>,
    pub bulk: bool,
    pub approver: &'a str,
    pub approver_subject: &'a str,
    pub at: i64,
}

impl<'a> NewEntry<'a> {
    /// An entry about `item_id` (or the campaign) with nothing but who did what, when; set the
    /// other fields with struct update syntax.
    pub fn event(
        campaign_id: i64,
        item_id: Option<i64>,
        stage: i64,
        action: &'a str,
        approver: &'a str,
        subject: &'a str,
        at: i64,
    ) -> Self {
        NewEntry {
            campaign_id,
            item_id,
            stage,
            action,
            justification: None,
            exception_until: None,
            reassigned_to: None,
            bulk: false,
            approver,
            approver_subject: subject,
            at,
        }
    }
}

/// Appends inside the caller's transaction. Taking the head row first serialises writers, so
/// the chain has no forks on either database.
pub async fn append(conn: &mut sqlx::AnyConnection, new: NewEntry<'_>) -> Result<Entry> {
    let head = sqlx::query("update decision_log_head set seq = seq + 1 where id = 1 returning seq, hash").fetch_one(&mut *conn).await?;
    let entry = Entry {
        seq: head.try_get("seq")?,
        campaign_id: new.campaign_id,
        item_id: new.item_id,
        stage: new.stage,
        action: new.action.to_string(),
        justification: new.justification.map(str::to_string),
        exception_until: new.exception_until,
        reassigned_to: new.reassigned_to,
        bulk: new.bulk,
        approver: new.approver.to_string(),
        approver_subject: new.approver_subject.to_string(),
        at: new.at,
        prev_hash: head.try_get("hash")?,
    };
    let hash = entry.hash();
    let mut insert = Sql::new(&format!("insert into decision_log ({ENTRY_COLUMNS}) values "));
    push_row(&mut insert, &entry, &hash);
    insert.query()?.execute(&mut *conn).await?;
    sqlx::query("update decision_log_head set hash = $1 where id = 1").bind(&hash).execute(&mut *conn).await?;
    Ok(entry)
}

/// Appends `(…)` holding `entry` and its `hash` in the order of [`ENTRY_COLUMNS`], for an
/// insert.
fn push_row(sql: &mut Sql, entry: &Entry, hash: &str) {
    sql.push("(").bind(entry.seq).push(", ").bind(entry.campaign_id).push(", ").bind(entry.item_id).push(", ").bind(entry.stage);
    sql.push(", ").bind(entry.action.as_str()).push(", ").bind(entry.justification.as_deref()).push(", ").bind(entry.exception_until);
    sql.push(", ").bind(entry.reassigned_to).push(", ").bind(i64::from(entry.bulk)).push(", ").bind(entry.approver.as_str());
    sql.push(", ").bind(entry.approver_subject.as_str()).push(", ").bind(entry.at).push(", ").bind(entry.prev_hash.as_str());
    sql.push(", ").bind(hash).push(")");
}

/// An entry and its stored hash from a row of [`ENTRY_COLUMNS`], read by position.
pub fn entry_from(row: &sqlx::any::AnyRow) -> Result<(Entry, String)> {
    let bulk: i64 = row.try_get(8)?;
    Ok((
        Entry {
            seq: row.try_get(0)?,
            campaign_id: row.try_get(1)?,
            item_id: row.try_get(2)?,
            stage: row.try_get(3)?,
            action: row.try_get(4)?,
            justification: row.try_get(5)?,
            exception_until: row.try_get(6)?,
            reassigned_to: row.try_get(7)?,
            bulk: bulk != 0,
            approver: row.try_get(9)?,
            approver_subject: row.try_get(10)?,
            at: row.try_get(11)?,
            prev_hash: row.try_get(12)?,
        },
        row.try_get(13)?,
    ))
}

/// The columns [`entry_from`] reads, in its order.
pub const ENTRY_COLUMNS: &str = "seq, campaign_id, item_id, stage, action, justification, exception_until, reassigned_to, bulk, approver, approver_subject, at, prev_hash, hash";

/// One entry as read for verifying, in the order of [`ENTRY_COLUMNS`], with its stored hash.
#[derive(serde::Deserialize)]
struct EntryIn(i64, i64, Option<i64>, i64, String, Option<String>, Option<i64>, Option<i64>, i64, String, String, i64, String, String);

impl EntryIn {
    /// The entry and its stored hash.
    fn split(self) -> (Entry, String) {
        let entry = Entry {
            seq: self.0,
            campaign_id: self.1,
            item_id: self.2,
            stage: self.3,
            action: self.4,
            justification: self.5,
            exception_until: self.6,
            reassigned_to: self.7,
            bulk: self.8 != 0,
            approver: self.9,
            approver_subject: self.10,
            at: self.11,
            prev_hash: self.12,
        };
        (entry, self.13)
    }
}

/// Recomputes the whole chain, a page of entries at a time: every entry's hash, every link, no
/// gap in the sequence, and the head pointing at the last entry. Names the first bad entry.
pub async fn verify(db: &Db) -> Result<ChainCheck> {
    let columns: Vec<&str> = ENTRY_COLUMNS.split(", ").collect();
    let mut pages = crate::db::JsonPages::new(db.backend, &columns, "seq", "from decision_log where 1 = 1", 10_000);
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    while let Some(page) = pages.next::<EntryIn>(&db.pool).await? {
        for row in page {
            let (entry, stored) = row.split();
            if entry.seq != expected_seq {
                let reason = if entry.seq > expected_seq {
                    format!("entry {expected_seq} is missing")
                } else {
                    "entries are out of order".to_string()
                };
                return Ok(ChainCheck::Broken { seq: expected_seq, reason });
            }
            if entry.prev_hash != prev {
                return Ok(ChainCheck::Broken {
                    seq: entry.seq,
                    reason: "it does not point to the entry before it (removed or reordered)".into(),
                });
            }
            if entry.hash() != stored {
                return Ok(ChainCheck::Broken { seq: entry.seq, reason: "its content does not match its hash (edited)".into() });
            }
            prev = stored;
            expected_seq += 1;
        }
    }
    let head = sqlx::query("select seq, hash from decision_log_head where id = 1").fetch_one(&db.pool).await?;
    let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    if head_seq != expected_seq - 1 || head_hash != prev {
        return Ok(ChainCheck::Broken {
            seq: expected_seq,
            reason: format!("the log ends at entry {} but its head says {head_seq}", expected_seq - 1),
        });
    }
    Ok(ChainCheck::Verified { entries: expected_seq - 1, head: prev })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            seq: 1,
            campaign_id: 1,
            item_id: Some(7),
            stage: 1,
            action: "approve".into(),
            justification: Some("needed for payroll".into()),
            exception_until: None,
            reassigned_to: None,
            bulk: false,
            approver: "Ada Okafor".into(),
            approver_subject: "oidc:https://idp#ada".into(),
            at: 1_700_000_000,
            prev_hash: GENESIS.into(),
        }
    }

    #[test]
    fn any_change_to_an_entry_changes_its_hash() {
        let original = entry().hash();
        assert_eq!(original.len(), 64);
        assert_eq!(entry().hash(), original, "the encoding is stable");
        let mut edited = entry();
        edited.action = "revoke".into();
        assert_ne!(edited.hash(), original);
        let mut edited = entry();
        edited.justification = None;
        assert_ne!(edited.hash(), original);
        let mut edited = entry();
        edited.approver = "Ada Okafor ".into();
        assert_ne!(edited.hash(), original);
    }

    #[test]
    fn the_hash_is_the_one_written_by_the_json_value_encoding() {
        let mut e = entry();
        e.justification = Some("quotes \" and ünïcode, a tab\t and </script>".into());
        e.item_id = None;
        let canonical = serde_json::json!([
            "attest-decision-v1",
            e.seq,
            e.campaign_id,
            e.item_id,
            e.stage,
            e.action,
            e.justification,
            e.exception_until,
            e.reassigned_to,
            e.bulk,
            e.approver,
            e.approver_subject,
            e.at,
            e.prev_hash,
        ]);
        assert_eq!(e.hash(), hex::encode(Sha256::digest(canonical.to_string().as_bytes())));
    }
}
