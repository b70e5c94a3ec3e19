//! `attest_rows(key)`: a table-valued function through which SQLite reads rows that Rust lends
//! it, so a batch of a bulk insert or update is one `insert … select` or `update … from` whose
//! values never cross the database driver.
//!
//! Bound one by one through sqlx, each value of a bulk write is converted twice and copied
//! once more before SQLite sees it; a million grants are about ten million such values. Read
//! from here, SQLite takes each value straight from the lent rows, as it would from a table.
//!
//! The function is registered on every SQLite connection the process opens, through
//! `sqlite3_auto_extension`, since the pool's connections do not give up their handles. It is
//! `DIRECTONLY`: a trigger or view of a database file cannot call it.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Once};

use libsqlite3_sys as ffi;

use super::Value;

/// Value columns the function has, `c0` to `c15`; a lent row may use fewer.
pub const COLUMNS: usize = 16;

/// The table the function declares: the value columns, then the hidden key of the lent rows.
const DECLARATION: &std::ffi::CStr = c"create table x(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, key hidden)";

/// Rows lent to SQLite, `width` values each, one row after the other.
struct Rows {
    width: usize,
    values: Vec<Value>,
}

impl Rows {
    fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }
}

static LENT: Mutex<BTreeMap<i64, Arc<Rows>>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicI64 = AtomicI64::new(1);

/// Rows SQLite can read as `attest_rows(key)` until this is dropped.
#[must_use = "SQLite can read the rows only while they are lent"]
pub struct Lent {
    key: i64,
}

impl Lent {
    /// Lends `values`, `width` to a row; the caller has checked that whole rows of at most
    /// [`COLUMNS`] values make them up.
    pub fn new(width: usize, values: Vec<Value>) -> Lent {
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        lent().insert(key, Arc::new(Rows { width, values }));
        Lent { key }
    }

    /// The key to pass to `attest_rows`.
    pub fn key(&self) -> i64 {
        self.key
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        lent().remove(&self.key);
    }
}

/// The map of lent rows. A panic while it was held leaves nothing half-done in it: each
/// holder inserts, removes or clones one entry.
fn lent() -> std::sync::MutexGuard<'static, BTreeMap<i64, Arc<Rows>>> {
    LENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lent_rows(key: i64) -> Option<Arc<Rows>> {
    lent().get(&key).cloned()
}

/// Registers `attest_rows` on every SQLite connection opened from now on. Idempotent.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `register` has the signature SQLite calls entry points with, and only
        // registers a module whose callbacks live as long as the process.
        let code = unsafe { ffi::sqlite3_auto_extension(Some(register)) };
        if code != ffi::SQLITE_OK {
            tracing::error!(code, "could not register attest_rows with SQLite");
        }
    });
}

unsafe extern "C" fn register(db: *mut ffi::sqlite3, _error: *mut *mut c_char, _api: *const ffi::sqlite3_api_routines) -> c_int {
    // SAFETY: `db` is the connection being opened; MODULE is static.
    unsafe { ffi::sqlite3_create_module_v2(db, c"attest_rows".as_ptr(), &MODULE, std::ptr::null_mut(), None) }
}

/// Without `xCreate` the table is eponymous-only: it exists as `attest_rows` and cannot be
/// created under another name.
static MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 0,
    xCreate: None,
    xConnect: Some(connect),
    xBestIndex: Some(best_index),
    xDisconnect: Some(disconnect),
    xDestroy: Some(disconnect),
    xOpen: Some(open),
    xClose: Some(close),
    xFilter: Some(filter),
    xNext: Some(next),
    xEof: Some(eof),
    xColumn: Some(column),
    xRowid: Some(rowid),
    xUpdate: None,
    xBegin: None,
    xSync: None,
    xCommit: None,
    xRollback: None,
    xFindFunction: None,
    xRename: None,
    xSavepoint: None,
    xRelease: None,
    xRollbackTo: None,
    xShadowName: None,
    xIntegrity: None,
};

const KEY_COLUMN: c_int = COLUMNS as c_int;

unsafe extern "C" fn connect(
    db: *mut ffi::sqlite3,
    _aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    table: *mut *mut ffi::sqlite3_vtab,
    _error: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite passes a valid connection and a place for the new table.
    unsafe {
        let code = ffi::sqlite3_declare_vtab(db, DECLARATION.as_ptr());
        if code != ffi::SQLITE_OK {
            return code;
        }
        ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY);
        *table = Box::into_raw(Box::new(ffi::sqlite3_vtab { pModule: std::ptr::null(), nRef: 0, zErrMsg: std::ptr::null_mut() }));
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn disconnect(table: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: `table` was made by `connect` with Box::into_raw and SQLite disconnects it once.
    drop(unsafe { Box::from_raw(table) });
    ffi::SQLITE_OK
}

/// Only a plan that passes the key can read rows: `attest_rows(?)`.
unsafe extern "C" fn best_index(_table: *mut ffi::sqlite3_vtab, info: *mut ffi::sqlite3_index_info) -> c_int {
    // SAFETY: SQLite passes `nConstraint` constraints and as many usages.
    unsafe {
        let info = &mut *info;
        let count = usize::try_from(info.nConstraint).unwrap_or(0);
        for n in 0..count {
            let constraint = &*info.aConstraint.add(n);
            if constraint.iColumn == KEY_COLUMN && i32::from(constraint.op) == ffi::SQLITE_INDEX_CONSTRAINT_EQ {
                if constraint.usable == 0 {
                    return ffi::SQLITE_CONSTRAINT;
                }
                let usage = &mut *info.aConstraintUsage.add(n);
                usage.argvIndex = 1;
                usage.omit = 1;
                info.idxNum = 1;
                info.estimatedCost = 1.0;
                return ffi::SQLITE_OK;
            }
        }
        info.idxNum = 0;
        info.estimatedCost = f64::from(i32::MAX);
    }
    ffi::SQLITE_OK
}

/// A read of lent rows; `base` first, as SQLite sees it.
#[repr(C)]
struct Cursor {
    base: ffi::sqlite3_vtab_cursor,
    rows: Option<Arc<Rows>>,
    at: usize,
}

unsafe extern "C" fn open(_table: *mut ffi::sqlite3_vtab, cursor: *mut *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let made = Box::new(Cursor { base: ffi::sqlite3_vtab_cursor { pVtab: std::ptr::null_mut() }, rows: None, at: 0 });
    // SAFETY: SQLite passes a place for the cursor; `base` is the first field of a repr(C) struct.
    unsafe { *cursor = Box::into_raw(made).cast() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `cursor` was made by `open` and SQLite closes it once.
    drop(unsafe { Box::from_raw(cursor.cast::<Cursor>()) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    plan: c_int,
    _plan_text: *const c_char,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: `cursor` was made by `open`; with plan 1 SQLite passes the key as the one argument.
    unsafe {
        let cursor = &mut *cursor.cast::<Cursor>();
        cursor.at = 0;
        cursor.rows = None;
        if plan != 1 || argc < 1 {
            return fail(cursor, c"attest_rows needs the key of lent rows");
        }
        match lent_rows(ffi::sqlite3_value_int64(*argv)) {
            Some(rows) => cursor.rows = Some(rows),
            None => return fail(cursor, c"attest_rows: no rows are lent under this key"),
        }
    }
    ffi::SQLITE_OK
}

/// Fails the statement with `message`.
unsafe fn fail(cursor: &mut Cursor, message: &std::ffi::CStr) -> c_int {
    // SAFETY: SQLite set `pVtab` before the first call on the cursor; it frees `zErrMsg` with
    // sqlite3_free, so the message is allocated with SQLite's own allocator.
    unsafe {
        let table = &mut *cursor.base.pVtab;
        ffi::sqlite3_free(table.zErrMsg.cast());
        table.zErrMsg = ffi::sqlite3_mprintf(c"%s".as_ptr(), message.as_ptr());
    }
    ffi::SQLITE_ERROR
}

unsafe extern "C" fn next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `cursor` was made by `open`.
    unsafe { (*cursor.cast::<Cursor>()).at += 1 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `cursor` was made by `open`.
    let cursor = unsafe { &*cursor.cast::<Cursor>() };
    c_int::from(cursor.rows.as_ref().is_none_or(|rows| cursor.at >= rows.len()))
}

unsafe extern "C" fn column(cursor: *mut ffi::sqlite3_vtab_cursor, context: *mut ffi::sqlite3_context, n: c_int) -> c_int {
    // SAFETY: `cursor` was made by `open` and is not past its last row; the text is copied by
    // SQLite (SQLITE_TRANSIENT) before this returns.
    unsafe {
        let cursor = &*cursor.cast::<Cursor>();
        let value = cursor.rows.as_ref().and_then(|rows| {
            let n = usize::try_from(n).ok().filter(|n| *n < rows.width)?;
            rows.values.get(cursor.at * rows.width + n)
        });
        match value {
            Some(Value::Int(v)) => ffi::sqlite3_result_int64(context, *v),
            Some(Value::Text(text)) => ffi::sqlite3_result_text64(
                context,
                text.as_ptr().cast(),
                text.len() as ffi::sqlite3_uint64,
                ffi::SQLITE_TRANSIENT(),
                ffi::SQLITE_UTF8 as u8,
            ),
            Some(Value::NullInt | Value::NullText) | None => ffi::sqlite3_result_null(context),
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn rowid(cursor: *mut ffi::sqlite3_vtab_cursor, rowid: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: `cursor` was made by `open`; SQLite passes a place for the rowid.
    unsafe { *rowid = (*cursor.cast::<Cursor>()).at as i64 + 1 };
    ffi::SQLITE_OK
}
