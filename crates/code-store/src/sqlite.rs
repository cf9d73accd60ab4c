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

use rusqlite::{Connection, OptionalExtension, Row, ToSql, TransactionBehavior, params};

use crate::{
    Outcome, Protection, StoreError, Timestamp, Udid,
    row::{self, SealedEvent, SealedRecord, Transition},
    store::{Filter, sealed::Backend},
};

/// The schema, one entry per version (version = index + 1). Never edit a released entry: add one.
const MIGRATIONS: &[&str] = &["
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
"];

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    protection: Protection,
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the store at `path`, and migrates its
    /// schema to the newest version.
    ///
    /// # Errors
    /// I/O and SQLite failures; [`StoreError::SchemaTooNew`].
    pub async fn open(path: impl AsRef<Path>, protection: Protection) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let opened = path.clone();
        let connection = blocking(move || open_connection(&opened)).await?;
        Ok(Self {
            protection,
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

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
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
    migrate(&mut connection)?;
    Ok(connection)
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

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
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
            params![version, Timestamp::now().unix()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn read_record(r: &Row<'_>) -> rusqlite::Result<SealedRecord> {
    Ok(SealedRecord {
        udid: r.get(0)?,
        serial_number: r.get(1)?,
        product_type: r.get(2)?,
        imei: r.get(3)?,
        imei2: r.get(4)?,
        meid: r.get(5)?,
        enrolled_at: r.get(6)?,
        device_code: r.get(7)?,
        device_code_at: r.get(8)?,
        server_code: r.get(9)?,
        server_code_at: r.get(10)?,
        unlock_token: r.get(11)?,
        unlock_token_at: r.get(12)?,
        last_unlock_code: r.get(13)?,
        last_unlock_outcome: r.get(14)?,
        last_unlock_at: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

fn record_params(r: &SealedRecord) -> [&dyn ToSql; 18] {
    [
        &r.udid,
        &r.serial_number,
        &r.product_type,
        &r.imei,
        &r.imei2,
        &r.meid,
        &r.enrolled_at,
        &r.device_code,
        &r.device_code_at,
        &r.server_code,
        &r.server_code_at,
        &r.unlock_token,
        &r.unlock_token_at,
        &r.last_unlock_code,
        &r.last_unlock_outcome,
        &r.last_unlock_at,
        &r.created_at,
        &r.updated_at,
    ]
}

impl Backend for SqliteStore {
    fn protection(&self) -> &Protection {
        &self.protection
    }

    async fn update<F>(&self, udid: &Udid, decide: F) -> Result<Outcome, StoreError>
    where
        F: FnOnce(Option<SealedRecord>) -> Result<Transition, StoreError> + Send + 'static,
    {
        let udid = udid.to_string();
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stored = tx
                .query_row(
                    &format!("{} WHERE udid = ?1", row::select_sql()),
                    [&udid],
                    read_record,
                )
                .optional()?;
            let transition = decide(stored)?;
            if let Some((record, events)) = &transition.write {
                tx.prepare_cached(&row::upsert_sql(|i| format!("?{i}")))?
                    .execute(&record_params(record)[..])?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO history (udid, at, event, detail, secret) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for e in events {
                    insert.execute(params![e.udid, e.at, e.event, e.detail, e.secret])?;
                }
            }
            tx.commit()?;
            Ok(transition.outcome)
        })
        .await
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        let udid = udid.to_string();
        self.with(move |c| {
            Ok(
                c.prepare_cached(&format!("{} WHERE udid = ?1", row::select_sql()))?
                    .query_row([&udid], read_record)
                    .optional()?,
            )
        })
        .await
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        self.with(move |c| {
            let (condition, arg) = match &filter {
                Filter::All => ("1 = 1", None),
                Filter::Serial(serial) => ("serial_number = ?1", Some(serial.clone())),
                Filter::WithoutDeviceCode => ("device_code IS NULL", None),
                Filter::LastUnlockFailed => ("last_unlock_outcome <> 'unlocked'", None),
            };
            let sql = format!("{} WHERE {condition} ORDER BY udid", row::select_sql());
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
            let mut statement = c.prepare_cached(
                "SELECT seq, udid, at, event, detail, secret FROM history \
                 WHERE udid = ?1 ORDER BY seq",
            )?;
            let rows = statement
                .query_map([&udid], |r| {
                    Ok(SealedEvent {
                        seq: r.get(0)?,
                        udid: r.get(1)?,
                        at: r.get(2)?,
                        event: r.get(3)?,
                        detail: r.get(4)?,
                        secret: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }
}
