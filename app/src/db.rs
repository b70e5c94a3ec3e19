use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{Any, AnyPool, Arguments};

mod lent_rows;

/// Which database is behind the pool. Query texts are shared; only DDL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write would leave a row referring to one that does not exist.
    #[error("{0}")]
    Integrity(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The pool every domain's repository takes.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Db {
    /// Connects to `sqlite://…` (the file is created on first use, WAL mode) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend: Backend = url.parse()?;
        let url = match backend {
            Backend::Sqlite => {
                lent_rows::install();
                create_parent_dir(url)?;
                if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") }
            }
            Backend::Postgres => url.to_string(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("pragma journal_mode = wal").await?;
                    conn.execute("pragma synchronous = normal").await?;
                    conn.execute("pragma foreign_keys = on").await?;
                    conn.execute("pragma busy_timeout = 10000").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        Ok(Db { pool, backend })
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn create_parent_dir(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}

/// A value bound to a query or lent to SQLite in a bulk write: the only ways user input reaches
/// SQL, always as a value, never as text of a statement. Nulls keep their type,
/// because PostgreSQL fixes a prepared statement's parameter types at its first use.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

/// A query text with `$n` placeholders and the values that fill them, built up piece by piece
/// for filters that vary per request.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_string(), values: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `(…)` with a placeholder for each of `ids`, for `… in (…)`.
    pub fn push_in(&mut self, ids: &[i64]) -> &mut Self {
        self.text.push('(');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(*id);
        }
        self.text.push(')');
        self
    }

    /// Appends another piece with its own values; it must have been built from `$1`, and
    /// `self` must have no values yet, so the numbering stays right.
    pub fn append(&mut self, part: &Sql) -> &mut Self {
        debug_assert!(self.values.is_empty());
        self.text.push_str(&part.text);
        self.values.extend(part.values.iter().cloned());
        self
    }

    pub fn query(&self) -> Result<sqlx::query::Query<'_, Any, AnyArguments<'_>>> {
        Ok(sqlx::query_with(&self.text, self.arguments()?))
    }

    /// The values, bound by reference: the driver copies each text, so it is not copied here.
    pub fn arguments(&self) -> Result<AnyArguments<'_>> {
        let mut args = AnyArguments::default();
        args.reserve(self.values.len(), 0);
        for value in &self.values {
            let bound = match value {
                Value::Int(v) => args.add(*v),
                Value::Text(v) => args.add(v.as_str()),
                Value::NullInt => args.add(None::<i64>),
                Value::NullText => args.add(None::<String>),
            };
            bound.map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e)))?;
        }
        Ok(args)
    }

    pub fn query_as<'q, T>(&'q self) -> Result<sqlx::query::QueryAs<'q, Any, T, AnyArguments<'q>>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        Ok(sqlx::query_as_with(&self.text, self.arguments()?))
    }

    pub fn query_scalar<'q, T>(&'q self) -> Result<sqlx::query::QueryScalar<'q, Any, T, AnyArguments<'q>>>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        Ok(sqlx::query_scalar_with(&self.text, self.arguments()?))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map(Value::Int).unwrap_or(Value::NullInt)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map(Value::Text).unwrap_or(Value::NullText)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map(Value::from).unwrap_or(Value::NullText)
    }
}

/// Rows per bulk statement on PostgreSQL: each batch travels as one JSON parameter, so a
/// million rows cost a couple of hundred statements instead of a million.
const JSON_ROWS_PER_BATCH: usize = 5_000;

/// Rows per bulk statement on SQLite, lent to the database and read through `attest_rows`:
/// for inserts, the next batch is made while the database writes this one.
const LENT_ROWS_PER_BATCH: usize = 10_000;

/// How many rows go in one bulk statement.
fn rows_per_batch(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => LENT_ROWS_PER_BATCH,
        Backend::Postgres => JSON_ROWS_PER_BATCH,
    }
}

/// Fewer new rows than this are inserted with every index in place.
const SET_ASIDE_FROM_ROWS: usize = 20_000;

/// Indexes dropped while many rows of their table change, and built again after from the
/// statements that made them: a table's plain indexes while a bulk insert at least doubles the
/// table, or the risk index of `grant_score` while most scores change. SQLite builds an index
/// from the finished table, sorted once, faster than it grows one row at a time (100,000
/// identities with their eight plain indexes: about 1.3 s saved, 0.6 s to build them again).
/// Unique indexes stay, so duplicates are still refused as they arrive. The drop happens
/// inside the caller's transaction: a rollback brings the indexes back, and readers on
/// other connections see them throughout. SQLite only: on PostgreSQL a dropped index would
/// lock readers out of the table until the transaction ends.
#[must_use = "the indexes are gone until `restore` builds them again"]
pub struct SetAside {
    /// The `create index` statements of the dropped indexes, as the migrations wrote them.
    creates: Vec<String>,
}

impl SetAside {
    /// Drops `table`'s plain indexes when `adding` new rows outnumber the rows already there.
    pub async fn before_insert(conn: &mut sqlx::AnyConnection, backend: Backend, table: &str, adding: usize) -> Result<SetAside> {
        if backend != Backend::Sqlite || adding < SET_ASIDE_FROM_ROWS {
            return Ok(SetAside { creates: Vec::new() });
        }
        let present: i64 = sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(&mut *conn).await?;
        if adding as i64 <= present {
            return Ok(SetAside { creates: Vec::new() });
        }
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "select name, sql from sqlite_master where type = 'index' and tbl_name = $1 and sql is not null \
             and lower(sql) not like 'create unique%'",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        SetAside::drop(conn, indexes).await
    }

    /// Drops the index `name` (SQLite only), to be built again by `restore` after many rows of
    /// its table changed.
    pub async fn index(conn: &mut sqlx::AnyConnection, name: &str) -> Result<SetAside> {
        let indexes: Vec<(String, String)> =
            sqlx::query_as("select name, sql from sqlite_master where type = 'index' and name = $1 and sql is not null")
                .bind(name)
                .fetch_all(&mut *conn)
                .await?;
        SetAside::drop(conn, indexes).await
    }

    /// Drops `indexes` (name, `create index` statement), keeping their statements.
    async fn drop(conn: &mut sqlx::AnyConnection, indexes: Vec<(String, String)>) -> Result<SetAside> {
        let mut creates = Vec::with_capacity(indexes.len());
        for (name, create) in indexes {
            sqlx::query(&format!("drop index {name}")).execute(&mut *conn).await?;
            creates.push(create);
        }
        Ok(SetAside { creates })
    }

    /// Whether any index was dropped: the rows being added make a bulk insert.
    pub fn is_bulk(&self) -> bool {
        !self.creates.is_empty()
    }

    /// Builds the dropped indexes again.
    pub async fn restore(self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        for create in &self.creates {
            sqlx::query(create).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `n` ids for rows about to be inserted into `table` in the current transaction, so that rows
/// of another table can refer to them without reading them back. On SQLite the ids after the
/// largest one, which no other connection can take while this transaction holds the write lock
/// (the caller must have written already); on PostgreSQL, drawn from the table's sequence.
pub async fn reserve_ids(conn: &mut sqlx::AnyConnection, backend: Backend, table: &str, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match backend {
        Backend::Sqlite => {
            let last: i64 = sqlx::query_scalar(&format!("select coalesce(max({table}_id), 0) from {table}")).fetch_one(&mut *conn).await?;
            Ok((1..=n as i64).map(|k| last + k).collect())
        }
        Backend::Postgres => {
            let ids: String = sqlx::query_scalar(&format!(
                "select json_agg(nextval(pg_get_serial_sequence('{table}', '{table}_id')))::text from generate_series(1, $1)"
            ))
            .bind(n as i64)
            .fetch_one(&mut *conn)
            .await?;
            serde_json::from_str(&ids).map_err(|e| decode_err(table, e.to_string()))
        }
    }
}

/// Inserts rows through `head` (`insert into t (a, b, …)`), whose first columns take the
/// same `constants` in every row and the rest the values of `rows` (at most
/// [`lent_rows::COLUMNS`] of them). On SQLite each batch is lent to the database and read
/// through `attest_rows`; on PostgreSQL it travels as one JSON parameter, whose column types
/// are read from the first row's values, which keep their type even when null.
pub async fn insert_many(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    head: &str,
    constants: &[Value],
    rows: impl Iterator<Item = Vec<Value>>,
    mut on_batch: impl FnMut(u64),
) -> Result<()> {
    let mut rows = rows.peekable();
    let Some(width) = rows.peek().map(Vec::len) else {
        return Ok(());
    };
    let per_batch = rows_per_batch(backend);
    let mut done = 0u64;
    let mut batch: Vec<Vec<Value>> = rows.by_ref().take(per_batch).collect();
    while !batch.is_empty() {
        done += batch.len() as u64;
        let (sql, lent) = match backend {
            Backend::Sqlite => {
                let lent = lend(head, width, batch)?;
                // The constants are bound once per statement, not once per row.
                let columns: Vec<String> =
                    std::iter::repeat_n("?".to_string(), constants.len()).chain((0..width).map(|i| format!("c{i}"))).collect();
                let mut values = constants.to_vec();
                values.push(Value::Int(lent.key()));
                (Sql { text: format!("{head} select {} from attest_rows(?)", columns.join(", ")), values }, Some(lent))
            }
            Backend::Postgres => {
                let columns: Vec<String> = (0..constants.len())
                    .map(|i| format!("${}", i + 2))
                    .chain(batch[0].iter().enumerate().map(|(i, v)| json_element(i, matches!(v, Value::Int(_) | Value::NullInt))))
                    .collect();
                let mut values = vec![Value::Text(json_array(&batch)?)];
                values.extend(constants.iter().cloned());
                (Sql { text: format!("{head} select {} from {JSON_ROWS}", columns.join(", ")), values }, None)
            }
        };
        // The database writes this batch while the next is made: its first poll sends the
        // statement, and making the rows (scoring them, for grants) needs no await.
        let (written, next) =
            futures_util::join!(sql.query()?.execute(&mut *conn), async { rows.by_ref().take(per_batch).collect::<Vec<_>>() });
        written?;
        drop(lent);
        on_batch(done);
        batch = next;
    }
    Ok(())
}

/// Updates rows of `table` by their integer `key`: value 0 of each row is the key, value n + 1
/// the new value of `columns[n]` (name, and whether it holds integers).
pub async fn update_many(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
    key: &str,
    columns: &[(&str, bool)],
    rows: impl IntoIterator<Item = Vec<Value>>,
) -> Result<()> {
    let width = columns.len() + 1;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<Value>> = rows.by_ref().take(rows_per_batch(backend)).collect();
        let (sql, lent) = match backend {
            Backend::Sqlite => {
                let lent = lend(table, width, batch)?;
                let sets: Vec<String> = columns.iter().enumerate().map(|(n, (name, _))| format!("{name} = v.c{}", n + 1)).collect();
                let text = format!("update {table} set {} from attest_rows(?) v where {table}.{key} = v.c0", sets.join(", "));
                (Sql { text, values: vec![Value::Int(lent.key())] }, Some(lent))
            }
            Backend::Postgres => {
                let sets: Vec<String> =
                    columns.iter().enumerate().map(|(n, (name, int))| format!("{name} = {}", json_element(n + 1, *int))).collect();
                let text =
                    format!("update {table} set {} from {JSON_ROWS} where {table}.{key} = {}", sets.join(", "), json_element(0, true));
                (Sql { text, values: vec![Value::Text(json_array(&batch)?)] }, None)
            }
        };
        sql.query()?.execute(&mut *conn).await?;
        drop(lent);
    }
    Ok(())
}

/// Lends `batch`, rows of `width` values each, to SQLite for one bulk write to `target`.
fn lend(target: &str, width: usize, batch: Vec<Vec<Value>>) -> Result<lent_rows::Lent> {
    if width > lent_rows::COLUMNS || batch.iter().any(|row| row.len() != width) {
        return Err(DbError::Integrity(format!("{target}: rows of {width} values expected, at most {}", lent_rows::COLUMNS)));
    }
    Ok(lent_rows::Lent::new(width, batch.into_iter().flatten().collect()))
}

/// `rows` as one JSON array of arrays, for [`JSON_ROWS`].
fn json_array(rows: &[Vec<Value>]) -> Result<String> {
    use std::fmt::Write;
    let mut json = String::from("[");
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            json.push(',');
        }
        json.push('[');
        for (j, value) in row.iter().enumerate() {
            if j > 0 {
                json.push(',');
            }
            match value {
                Value::Int(i) => {
                    let _ = write!(json, "{i}");
                }
                Value::Text(text) => {
                    json.push_str(&serde_json::to_string(text).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?);
                }
                Value::NullInt | Value::NullText => json.push_str("null"),
            }
        }
        json.push(']');
    }
    json.push(']');
    Ok(json)
}

/// On PostgreSQL, the rows `j` of the JSON array bound as `$1`.
const JSON_ROWS: &str = "json_array_elements($1::json) j";

/// On PostgreSQL, element `i` of a row `j` of [`JSON_ROWS`], as an integer when `int`.
fn json_element(i: usize, int: bool) -> String {
    if int { format!("(j.value ->> {i})::bigint") } else { format!("j.value ->> {i}") }
}

/// For a page read as one JSON value: the function that makes a row a JSON array, and the
/// aggregate that gathers rows `j` in the order of `id` into one JSON text.
pub fn json_page(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        // json(): the subquery loses the value's JSON subtype, without which it would be quoted as text.
        Backend::Sqlite => ("json_array", "json_group_array(json(j) order by id)"),
        Backend::Postgres => ("json_build_array", "json_agg(j order by id)::text"),
    }
}

/// Reads a large result in key order, a page at a time, each page one JSON array from the
/// database: a million rows cross the driver as a few hundred values instead of millions, and
/// each row is deserialized straight into `T` (a struct read from the array's positions).
pub struct JsonPages {
    backend: Backend,
    /// Expressions of one row, in `T`'s field order.
    columns: Vec<String>,
    /// The integer key that orders the pages, e.g. `g.access_grant_id`.
    key: &'static str,
    /// `from … where …`: the key's range is added to this condition. It may use `$3`, `$4`, …
    /// for the values of [`JsonPages::bind`].
    from: String,
    values: Vec<Value>,
    page: i64,
    after: i64,
    done: bool,
}

impl JsonPages {
    pub fn new(backend: Backend, columns: &[&str], key: &'static str, from: &str, page: i64) -> JsonPages {
        JsonPages {
            backend,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            key,
            from: from.to_string(),
            values: Vec::new(),
            page,
            after: i64::MIN,
            done: false,
        }
    }

    /// Binds the next of `$3`, `$4`, … in the condition.
    pub fn bind(mut self, value: impl Into<Value>) -> JsonPages {
        self.values.push(value.into());
        self
    }

    /// The next page, or `None` after the last; read through `executor`, a pool or a
    /// transaction's connection.
    pub async fn next<'e, T: serde::de::DeserializeOwned>(
        &mut self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    ) -> Result<Option<Vec<T>>> {
        use sqlx::Row;
        let (array, aggregate) = json_page(self.backend);
        let inner = format!("{array}({}) as j", self.columns.join(", "));
        let Some(row) = self.fetch(executor, &format!("{aggregate} as items, count(*) as n"), &inner).await? else {
            return Ok(None);
        };
        let items: String = row.try_get("items")?;
        Ok(Some(serde_json::from_str(&items).map_err(|e| decode_err("items", e.to_string()))?))
    }

    /// The next page as one JSON array per column, or `None` after the last. For large reads:
    /// the database appends each value to its column's array, where [`JsonPages::next`] makes
    /// every row a JSON text of its own and reads it back, which costs SQLite twice as much.
    pub async fn next_columns<'e>(&mut self, executor: impl sqlx::Executor<'e, Database = sqlx::Any>) -> Result<Option<Columns>> {
        use sqlx::Row;
        let width = self.columns.len();
        let aggregate = |i: usize| match self.backend {
            Backend::Sqlite => format!("json_group_array(c{i}) as a{i}"),
            Backend::Postgres => format!("json_agg(c{i} order by id)::text as a{i}"),
        };
        let outer = (0..width).map(aggregate).chain(["count(*) as n".to_string()]).collect::<Vec<_>>().join(", ");
        let inner = self.columns.iter().enumerate().map(|(i, c)| format!("{c} as c{i}")).collect::<Vec<_>>().join(", ");
        let Some(row) = self.fetch(executor, &outer, &inner).await? else {
            return Ok(None);
        };
        let rows: i64 = row.try_get("n")?;
        let arrays = (0..width).map(|i| row.try_get::<String, _>(format!("a{i}").as_str())).collect::<std::result::Result<_, _>>()?;
        Ok(Some(Columns { arrays, rows: rows as usize }))
    }

    /// Reads the next page as one row of `outer` (aggregates that include `count(*) as n`) over
    /// the page's rows, each `{key} as id, {inner}`; `None` after the last page.
    async fn fetch<'e>(
        &mut self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        outer: &str,
        inner: &str,
    ) -> Result<Option<sqlx::any::AnyRow>> {
        use sqlx::Row;
        if self.done {
            return Ok(None);
        }
        let text = format!(
            "select {outer}, max(id) as last from (select {key} as id, {inner} {from} and {key} > $1 order by {key} limit $2) page",
            key = self.key,
            from = self.from,
        );
        let mut values = vec![Value::Int(self.after), Value::Int(self.page)];
        values.extend(self.values.iter().cloned());
        let row = Sql { text, values }.query()?.fetch_one(executor).await?;
        let last: Option<i64> = row.try_get("last")?;
        let Some(last) = last else {
            self.done = true;
            return Ok(None);
        };
        let rows: i64 = row.try_get("n")?;
        self.done = rows < self.page;
        self.after = last;
        Ok(Some(row))
    }
}

/// One page of [`JsonPages::next_columns`]: a JSON array per column. Every array was gathered
/// from the same rows in the same pass, so position `n` of each belongs to the same row.
pub struct Columns {
    arrays: Vec<String>,
    rows: usize,
}

impl Columns {
    /// Rows in the page.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The values of column `i`, in row order.
    pub fn column<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<Vec<T>> {
        let text = self.arrays.get(i).ok_or_else(|| decode_err(&format!("c{i}"), "no such column in the page".to_string()))?;
        let values: Vec<T> = serde_json::from_str(text).map_err(|e| decode_err(&format!("c{i}"), e.to_string()))?;
        if values.len() != self.rows {
            return Err(decode_err(&format!("c{i}"), format!("{} values for {} rows", values.len(), self.rows)));
        }
        Ok(values)
    }
}

/// A stored value that does not parse, named by its column.
pub fn decode_err(column: &str, message: String) -> DbError {
    DbError::Sqlx(sqlx::Error::ColumnDecode { index: column.to_string(), source: message.into() })
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl FromStr for Backend {
    type Err = DbError;
    fn from_str(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl(url.to_string()))
        }
    }
}
