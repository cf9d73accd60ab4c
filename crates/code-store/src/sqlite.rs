//! [`SqliteStore`]: the embedded default backend, one SQLite file.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a transaction that returned is on disk
//! and survives a killed process or a power cut. Atomicity: every change is one `BEGIN
//! IMMEDIATE` transaction (the write lock is taken before the row is read), so writers in other
//! tasks or other processes cannot interleave between the read and the write.

use alloc::sync::Arc;
use core::time::Duration;
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use rusqlite::{
    Connection, OptionalExtension, Row, ToSql, TransactionBehavior,
    types::{ToSqlOutput, ValueRef as SqlValueRef},
};

use crate::{
    Protection, StoreError, Timestamp, Udid,
    mode::{self, Sealing, StoreMode},
    store::{
        Filter,
        sealed::{Backend, Rows, Scope, Transition},
    },
    table::{self, Kind, SealedEvent, SealedRecord, Value, ValueRef},
};

/// The schema, one entry per version (version = index + 1). Never edit a released entry: add one.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE devices (
    udid TEXT PRIMARY KEY NOT NULL,
    serial_number TEXT,
    product_type TEXT,
    imei TEXT,
    imei2 TEXT,
    meid TEXT,
    enrolled_at INTEGER,
    device_code BLOB,
    device_code_at INTEGER,
    server_code BLOB,
    server_code_at INTEGER,
    unlock_token BLOB,
    unlock_token_at INTEGER,
    last_unlock_code TEXT,
    last_unlock_outcome TEXT,
    last_unlock_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX devices_serial_number ON devices (serial_number);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    udid TEXT NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    detail TEXT,
    secret BLOB
);
CREATE INDEX history_udid ON history (udid, seq);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
",
    "
CREATE TABLE store_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
",
    "
ALTER TABLE devices ADD COLUMN server_code_state TEXT;
ALTER TABLE devices ADD COLUMN server_code_state_at INTEGER;
ALTER TABLE devices ADD COLUMN server_code_status TEXT;
ALTER TABLE devices ADD COLUMN accepted_server_code BLOB;
ALTER TABLE devices ADD COLUMN accepted_server_code_at INTEGER;
ALTER TABLE devices ADD COLUMN accepted_at INTEGER;
CREATE TABLE store_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
",
    "
ALTER TABLE devices ADD COLUMN commands TEXT;
ALTER TABLE devices ADD COLUMN ask_due_at INTEGER;
CREATE INDEX devices_ask_due_at ON devices (ask_due_at);
",
];

/// Whether any secret column of the store holds a sealed value (tag 1): asked when a store made
/// before modes were recorded is first opened in cleartext mode.
const HOLDS_SEALED: &str = "SELECT EXISTS (SELECT 1 FROM devices WHERE \
    substr(device_code, 1, 1) = x'01' OR substr(server_code, 1, 1) = x'01' \
    OR substr(accepted_server_code, 1, 1) = x'01' OR substr(unlock_token, 1, 1) = x'01') \
    OR EXISTS (SELECT 1 FROM history WHERE substr(secret, 1, 1) = x'01') \
    OR EXISTS (SELECT 1 FROM store_secrets WHERE substr(value, 1, 1) = x'01')";

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    sealing: Sealing,
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the store at `path`, and migrates its
    /// schema to the newest version.
    ///
    /// # Errors
    /// I/O and SQLite failures; [`StoreError::SchemaTooNew`]; [`StoreError::ModeMismatch`] when
    /// `protection` contradicts the mode the store recorded.
    pub async fn open(path: impl AsRef<Path>, protection: Protection) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let (connection, sealing) = blocking(move || open_connection(&opened, protection)).await?;
        Ok(Self {
            sealing,
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's `PRAGMA integrity_check` on the whole file.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] with SQLite's report when the file is damaged; SQLite failures.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        self.with(|c| {
            let report: Vec<String> = c
                .prepare("PRAGMA integrity_check")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if report == ["ok"] {
                Ok(())
            } else {
                Err(StoreError::Corrupt {
                    udid: String::new(),
                    field: "database file",
                    reason: report.join("; "),
                })
            }
        })
        .await
    }

    /// The newest schema version this program knows.
    #[must_use]
    pub fn schema_version() -> i64 {
        i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
    }

    /// Runs `work` on the connection in a blocking thread.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut guard)
        })
        .await
    }
}

async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn open_connection(
    path: &Path,
    protection: Protection,
) -> Result<(Connection, Sealing), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    // A new store file is readable by its owner only (SQLite gives the -wal and -shm files the
    // same mode): codes are sealed, but UDIDs and serial numbers are not.
    // Another process may create it at the same moment: whoever wins, the file exists.
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
    let mut connection = Connection::open(path).map_err(|e| StoreError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode = enter_wal_mode(&connection)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt {
            udid: String::new(),
            field: "journal_mode",
            reason: format!("SQLite refused WAL mode ({mode})"),
        });
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    let sealing = migrate(&mut connection, protection)?;
    Ok((connection, sealing))
}

/// How long a statement waits for another connection's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Switches the file to WAL journaling (a no-op when it already is) and returns the mode SQLite
/// reports.
///
/// Switching a rollback-journal file to WAL reads the header under a shared lock and then
/// upgrades to an exclusive one. When several connections do that at once, SQLite refuses the
/// upgrade with `SQLITE_BUSY` *without* calling the busy handler (waiting would deadlock: each
/// holds the shared lock the other waits on), so `busy_timeout` does not cover this statement.
/// The remedy SQLite documents is to end the statement, which releases the shared lock, and run
/// it again; this does that, with a short sleep, within the same budget as the busy timeout.
fn enter_wal_mode(connection: &Connection) -> Result<String, StoreError> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

/// Migrates the schema and settles the store's mode, in one transaction.
fn migrate(connection: &mut Connection, protection: Protection) -> Result<Sealing, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let supported = SqliteStore::schema_version();
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, Timestamp::now().unix()],
        )?;
    }
    let recorded: Option<String> = tx
        .query_row(
            "SELECT value FROM store_settings WHERE name = ?1",
            [mode::MODE_SETTING],
            |r| r.get(0),
        )
        .optional()?;
    let recorded = recorded
        .map(|name| {
            StoreMode::from_name(&name).ok_or_else(|| StoreError::Corrupt {
                udid: String::new(),
                field: "store_settings.protection",
                reason: format!("unknown mode {name:?}"),
            })
        })
        .transpose()?;
    let (to_record, sealing) = mode::settle(protection, recorded, || {
        Ok(tx.query_row(HOLDS_SEALED, [], |r| r.get::<_, bool>(0))?)
    })?;
    if let Some(mode) = to_record {
        tx.execute(
            "INSERT INTO store_settings (name, value) VALUES (?1, ?2)",
            [mode::MODE_SETTING, mode.as_str()],
        )?;
    }
    tx.commit()?;
    Ok(sealing)
}

impl ToSql for ValueRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Self::Text(Some(text)) => SqlValueRef::Text(text.as_bytes()),
            Self::Int(Some(int)) => SqlValueRef::Integer(int),
            Self::Blob(Some(blob)) => SqlValueRef::Blob(blob),
            Self::Text(None) | Self::Int(None) | Self::Blob(None) => SqlValueRef::Null,
        }))
    }
}

/// Reads one column of a row as the table declares it.
fn read_value(r: &Row<'_>, index: usize, kind: Kind) -> rusqlite::Result<Value> {
    Ok(match kind {
        Kind::Text => Value::Text(r.get(index)?),
        Kind::Int => Value::Int(r.get(index)?),
        Kind::Blob => Value::Blob(r.get(index)?),
    })
}

fn read_record(r: &Row<'_>) -> rusqlite::Result<SealedRecord> {
    SealedRecord::from_values(|i, kind| read_value(r, i, kind))?.map_err(mismatch)
}

fn read_event(r: &Row<'_>) -> rusqlite::Result<SealedEvent> {
    SealedEvent::from_values(|i, kind| read_value(r, i, kind))?.map_err(mismatch)
}

fn mismatch(e: table::ColumnMismatch) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, e.column.to_owned(), rusqlite::types::Type::Null)
}

fn bind<'a>(values: &'a [ValueRef<'a>]) -> Vec<&'a dyn ToSql> {
    values.iter().map(|v| -> &'a dyn ToSql { v }).collect()
}

impl Backend for SqliteStore {
    fn sealing(&self) -> &Sealing {
        &self.sealing
    }

    async fn update_many<T, F>(
        &self,
        scopes: Vec<Scope>,
        mut decide: F,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(usize, Rows) -> Result<Transition<T>, StoreError> + Send + 'static,
    {
        self.with(move |connection| {
            // The write lock is taken before anything is read: the rows cannot change under us.
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let select = table::select_records_sql();
            let mut results = Vec::with_capacity(scopes.len());
            for (index, scope) in scopes.iter().enumerate() {
                let target = match &scope.udid {
                    Some(udid) => tx
                        .prepare_cached(&format!("{select} WHERE udid = ?1"))?
                        .query_row([udid.as_str()], read_record)
                        .optional()?,
                    None => None,
                };
                let peers = match &scope.serial {
                    Some(serial) => tx
                        .prepare_cached(&format!(
                            "{select} WHERE (serial_number = ?1 OR udid = ?2) AND udid <> ?3"
                        ))?
                        .query_map(
                            [
                                serial.as_str(),
                                &crate::device::placeholder_key(serial),
                                scope.udid.as_ref().map_or("", Udid::as_str),
                            ],
                            read_record,
                        )?
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                    None => Vec::new(),
                };
                let transition = decide(index, Rows { target, peers })?;
                let mut upsert =
                    tx.prepare_cached(&table::upsert_record_sql(|i| format!("?{i}")))?;
                for row in &transition.upserts {
                    upsert.execute(&bind(&row.values())[..])?;
                }
                let mut delete =
                    tx.prepare_cached(&table::delete_record_sql(|i| format!("?{i}")))?;
                for udid in &transition.deletes {
                    delete.execute([udid])?;
                }
                let mut insert =
                    tx.prepare_cached(&table::insert_event_sql(|i| format!("?{i}")))?;
                for event in &transition.events {
                    insert.execute(&bind(&event.insert_values())[..])?;
                }
                results.push(transition.result);
            }
            tx.commit()?;
            Ok(results)
        })
        .await
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        let udid = udid.to_string();
        self.with(move |c| {
            Ok(
                c.prepare_cached(&format!("{} WHERE udid = ?1", table::select_records_sql()))?
                    .query_row([&udid], read_record)
                    .optional()?,
            )
        })
        .await
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        self.with(move |c| {
            let (condition, arg) = filter.sql("?1");
            let sql = format!(
                "{} WHERE {condition} ORDER BY udid",
                table::select_records_sql()
            );
            let mut statement = c.prepare_cached(&sql)?;
            let rows: rusqlite::Result<Vec<SealedRecord>> = match arg {
                Some(arg) => statement.query_map([arg], read_record)?.collect(),
                None => statement.query_map([], read_record)?.collect(),
            };
            Ok(rows?)
        })
        .await
    }

    async fn history_rows(&self, udid: &Udid) -> Result<Vec<SealedEvent>, StoreError> {
        let udid = udid.to_string();
        self.with(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "{} WHERE udid = ?1 ORDER BY seq",
                table::select_events_sql()
            ))?;
            let rows = statement
                .query_map([&udid], read_event)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn put_secret_row(&self, name: &str, sealed: Vec<u8>, at: i64) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.with(move |c| {
            c.execute(
                "INSERT INTO store_secrets (name, value, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
                rusqlite::params![name, sealed, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn secret_row(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT value FROM store_secrets WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }
}
