//! The `.c1z` envelope: the magic `C1ZF\0`, then a zstd stream of a SQLite 3 database whose
//! tables (`v1_sync_runs`, `v1_resources`, …) hold one protobuf blob a row. The database is
//! written to a temporary file (removed when dropped) and read with sqlx's SQLite driver on a
//! runtime of its own, in a thread of its own, so this works from inside the CLI's or the
//! server's runtime as well as outside any.

use std::io::{Read, Write};
use std::path::Path;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::imports::server::{BadInput, Problem};

pub const MAGIC_V1: &[u8] = b"C1ZF\0";
/// baton's newer envelope: a protobuf manifest and a zstd tar of a Pebble store.
pub const MAGIC_V3: &[u8] = b"C1Z3\0";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

fn refuse(file: &str, field: Option<&str>, message: impl Into<String>) -> BadInput {
    BadInput::one(Problem { file: file.into(), line: None, field: field.map(str::to_string), message: message.into() })
}

/// Decompresses a `.c1z` into a temporary SQLite file, refusing a payload larger than `cap`.
pub fn decompress(file: &str, bytes: &[u8], cap: u64) -> Result<tempfile::NamedTempFile, BadInput> {
    if bytes.starts_with(MAGIC_V3) {
        return Err(refuse(
            file,
            None,
            "a v3 .c1z (magic C1Z3, a Pebble store) is not supported yet; write the sync with a baton connector that keeps the v1 SQLite format",
        ));
    }
    if bytes.starts_with(SQLITE_MAGIC) {
        return Err(refuse(file, None, "an uncompressed SQLite database, not a .c1z; give the .c1z file the baton connector wrote"));
    }
    let Some(mut input) = bytes.strip_prefix(MAGIC_V1) else {
        return Err(refuse(
            file,
            None,
            "not a baton .c1z file (it does not start with C1ZF); give the file a baton connector wrote with -f",
        ));
    };
    if input.is_empty() {
        return Err(refuse(file, None, "nothing after the .c1z header; the file is truncated"));
    }
    let mut out = tempfile::NamedTempFile::new().map_err(|e| refuse(file, None, format!("cannot create a temporary file: {e}")))?;
    let corrupt = |e: std::io::Error| refuse(file, None, format!("the compressed data is truncated or damaged ({e})"));
    let mut written = 0u64;
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    let mut buffer = vec![0u8; 1 << 16];
    // A stream may hold several zstd frames back to back.
    while !input.is_empty() {
        let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| refuse(file, None, format!("the compressed data is truncated or damaged ({e})")))?;
        loop {
            let n = decoder.read(&mut buffer).map_err(corrupt)?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > cap {
                return Err(refuse(file, None, format!("decompresses to more than {} MiB; refused as too large", cap >> 20)));
            }
            if head.len() < SQLITE_MAGIC.len() {
                let more = (SQLITE_MAGIC.len() - head.len()).min(n);
                head.extend_from_slice(&buffer[..more]);
            }
            out.write_all(&buffer[..n]).map_err(|e| refuse(file, None, format!("cannot write a temporary file: {e}")))?;
        }
    }
    if head != SQLITE_MAGIC {
        return Err(refuse(file, None, "the decompressed data is not a SQLite database; not a v1 .c1z"));
    }
    out.flush().map_err(|e| refuse(file, None, format!("cannot write a temporary file: {e}")))?;
    Ok(out)
}

/// One row of `v1_sync_runs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub sync_token: String,
    pub sync_type: String,
}

/// The protobuf blobs of one sync.
#[derive(Debug, Default)]
pub struct Tables {
    pub resource_types: Vec<Vec<u8>>,
    pub resources: Vec<Vec<u8>>,
    pub entitlements: Vec<Vec<u8>>,
    pub grants: Vec<Vec<u8>>,
}

/// Reads the sync runs, lets `choose` pick one (or refuse), and reads that sync's rows.
pub fn load<T: Send>(
    db: &Path,
    file: &str,
    choose: impl FnOnce(&[SyncRun]) -> Result<(String, T), BadInput> + Send,
) -> Result<(T, Tables), BadInput> {
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| refuse(file, None, format!("cannot start a reader: {e}")))?;
            runtime.block_on(query(db, file, choose))
        });
        worker.join().unwrap_or_else(|_| Err(refuse(file, None, "the SQLite reader stopped unexpectedly")))
    })
}

async fn query<T>(
    db: &Path,
    file: &str,
    choose: impl FnOnce(&[SyncRun]) -> Result<(String, T), BadInput>,
) -> Result<(T, Tables), BadInput> {
    let options = SqliteConnectOptions::new().filename(db).read_only(true).immutable(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| refuse(file, None, format!("the decompressed database cannot be opened: {e}")))?;
    let failed = |table: &str, e: sqlx::Error| {
        let message = match &e {
            sqlx::Error::Database(d) if d.message().contains("no such") => {
                format!("{} (not a baton sync database, or a version this reader does not know)", d.message())
            }
            _ => format!("cannot read the table: {e}"),
        };
        refuse(file, Some(table), message)
    };
    let columns: Vec<(String,)> = sqlx::query_as("select name from pragma_table_info('v1_sync_runs')")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| failed("v1_sync_runs", e))?;
    if columns.is_empty() {
        return Err(refuse(file, Some("v1_sync_runs"), "no such table (not a baton sync database)"));
    }
    // Early files have no sync type; every sync was a full one then.
    let sync_type = if columns.iter().any(|(c,)| c == "sync_type") { "sync_type" } else { "'full'" };
    let runs: Vec<SyncRun> = sqlx::query_as(&format!(
        "select sync_id, cast(started_at as text) as started_at, cast(ended_at as text) as ended_at, sync_token, \
         {sync_type} as sync_type from v1_sync_runs order by id"
    ))
    .fetch_all(&mut conn)
    .await
    .map_err(|e| failed("v1_sync_runs", e))?;
    let (sync_id, chosen) = choose(&runs)?;
    let mut tables = Tables::default();
    for (table, into) in [
        ("v1_resource_types", &mut tables.resource_types),
        ("v1_resources", &mut tables.resources),
        ("v1_entitlements", &mut tables.entitlements),
        ("v1_grants", &mut tables.grants),
    ] {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(&format!("select data from {table} where sync_id = $1 order by id"))
            .bind(&sync_id)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| failed(table, e))?;
        *into = rows.into_iter().map(|(data,)| data).collect();
    }
    let _ = conn.close().await;
    Ok((chosen, tables))
}
