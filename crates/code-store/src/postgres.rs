//! [`PostgresStore`]: the backend for fleets served by several server instances sharing one
//! PostgreSQL database.
//!
//! Atomicity: every change is one transaction that first takes a transaction-scoped advisory lock
//! on the device (`pg_advisory_xact_lock(hashtextextended(udid, 0))`), then reads, decides and
//! writes; writers of the same device queue on the lock, writers of other devices do not wait.
//! The lock also covers devices that have no row yet, which `SELECT ... FOR UPDATE` cannot.
//! Durability: PostgreSQL's commit (WAL flushed, `synchronous_commit` as the server sets it).

use deadpool_postgres::{Pool, Runtime};
use tokio_postgres::{NoTls, Row, types::ToSql};

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
    enrolled_at BIGINT,
    device_code BYTEA,
    device_code_at BIGINT,
    server_code BYTEA,
    server_code_at BIGINT,
    unlock_token BYTEA,
    unlock_token_at BIGINT,
    last_unlock_code TEXT,
    last_unlock_outcome TEXT,
    last_unlock_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX devices_serial_number ON devices (serial_number);
CREATE TABLE history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    udid TEXT NOT NULL,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT,
    secret BYTEA
);
CREATE INDEX history_udid ON history (udid, seq);
CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'history is append-only'; END $$;
CREATE TRIGGER history_no_change BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION history_append_only();
",
    "
CREATE TABLE store_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
",
    "
ALTER TABLE devices ADD COLUMN server_code_state TEXT;
ALTER TABLE devices ADD COLUMN server_code_state_at BIGINT;
ALTER TABLE devices ADD COLUMN server_code_status TEXT;
ALTER TABLE devices ADD COLUMN accepted_server_code BYTEA;
ALTER TABLE devices ADD COLUMN accepted_server_code_at BIGINT;
ALTER TABLE devices ADD COLUMN accepted_at BIGINT;
CREATE TABLE store_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);
",
    "
ALTER TABLE devices ADD COLUMN commands TEXT;
ALTER TABLE devices ADD COLUMN ask_due_at BIGINT;
CREATE INDEX devices_ask_due_at ON devices (ask_due_at);
",
];

/// Whether any secret column of the store holds a sealed value (tag 1): asked when a store made
/// before modes were recorded is first opened in cleartext mode.
const HOLDS_SEALED: &str = "SELECT EXISTS (SELECT 1 FROM devices WHERE \
    substring(device_code FROM 1 FOR 1) = '\\x01'::bytea \
    OR substring(server_code FROM 1 FOR 1) = '\\x01'::bytea \
    OR substring(accepted_server_code FROM 1 FOR 1) = '\\x01'::bytea \
    OR substring(unlock_token FROM 1 FOR 1) = '\\x01'::bytea) \
    OR EXISTS (SELECT 1 FROM history WHERE substring(secret FROM 1 FOR 1) = '\\x01'::bytea) \
    OR EXISTS (SELECT 1 FROM store_secrets WHERE substring(value FROM 1 FOR 1) = '\\x01'::bytea)";

/// The advisory lock key that serialises migrations of one database.
const MIGRATION_LOCK: i64 = 0x616c_625f_7374_6f72;

/// A store in a PostgreSQL database, through a connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    sealing: Sealing,
    pool: Pool,
}

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("sealing", &self.sealing)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port][,host2...]/database`, hosts
    /// by name, address or Unix socket directory, also as `?host=`), and migrates the schema to
    /// the newest version. The password is the URL's, else `PGPASSWORD`'s, else the password
    /// file's (`PGPASSFILE`, else `~/.pgpass`), as with libpq.
    ///
    /// TLS: `?sslmode=verify-full` (optionally `&sslrootcert=CA.pem`) connects over TLS and
    /// verifies the server's certificate and name. Without `sslmode` the connection is plain
    /// text, and only allowed when every host is loopback (`localhost`, `127.0.0.0/8`, `::1`) or
    /// a Unix socket; `sslmode=disable` asks for plain text to any host. `require`, `verify-ca`,
    /// `prefer` and `allow` are refused: none of them makes sure who answers.
    ///
    /// # Errors
    /// [`StoreError::Url`], [`StoreError::PlainTextToRemoteHost`] (before anything is
    /// contacted), [`StoreError::PasswordsDiffer`], connection and SQL failures (in a
    /// [`StoreError::PasswordFileIgnored`] when a password file was ignored),
    /// [`StoreError::SchemaTooNew`], [`StoreError::ModeMismatch`] when `protection` contradicts
    /// the store's recorded mode.
    pub async fn connect(url: &str, protection: Protection) -> Result<Self, StoreError> {
        Self::connect_with_env(url, protection, |name| std::env::var_os(name)).await
    }

    /// Like [`PostgresStore::connect`], reading `PGPASSWORD`, `PGPASSFILE`, `HOME` and `USER`
    /// through `env` instead of the process environment.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_with_env<E>(
        url: &str,
        protection: Protection,
        env: E,
    ) -> Result<Self, StoreError>
    where
        E: Fn(&str) -> Option<std::ffi::OsString>,
    {
        use crate::postgres_url::{StoreUrl, Transport};
        use deadpool_postgres::{Manager, ManagerConfig};

        let mut target = StoreUrl::parse(url)?;
        let ignored = crate::credentials::complete(&mut target, &env)?;
        let manager = match target.transport {
            Transport::Verified { root_cert } => Manager::from_config(
                target.config,
                crate::VerifiedTls::new(root_cert.as_deref())?,
                ManagerConfig::default(),
            ),
            Transport::Plain => {
                Manager::from_config(target.config, NoTls, ManagerConfig::default())
            }
        };
        let pool = Pool::builder(manager)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let sealing = migrate(&pool, protection)
            .await
            .map_err(|e| match ignored {
                Some(ignored) => ignored.explain(e),
                None => e,
            })?;
        Ok(Self { sealing, pool })
    }

    /// Whether this store's connections to the server are encrypted (`pg_stat_ssl`).
    ///
    /// # Errors
    /// Connection and SQL failures.
    pub async fn connection_is_encrypted(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The newest schema version this program knows.
    #[must_use]
    pub fn schema_version() -> i64 {
        i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        pooled(&self.pool).await
    }
}

async fn pooled(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Pool(other.to_string()),
    })
}

/// Migrates the schema and settles the store's mode, in one transaction under the migration
/// lock (so concurrent first openers agree).
async fn migrate(pool: &Pool, protection: Protection) -> Result<Sealing, StoreError> {
    let mut client = pooled(pool).await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let supported = PostgresStore::schema_version();
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    for (version, sql) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&version, &Timestamp::now().unix()],
        )
        .await?;
    }
    let recorded: Option<String> = tx
        .query_opt(
            "SELECT value FROM store_settings WHERE name = $1",
            &[&mode::MODE_SETTING],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let recorded = recorded
        .map(|name| {
            StoreMode::from_name(&name).ok_or_else(|| StoreError::Corrupt {
                udid: String::new(),
                field: "store_settings.protection",
                reason: format!("unknown mode {name:?}"),
            })
        })
        .transpose()?;
    // Asked only when a cleartext opener would decide the mode of an older store.
    let holds_sealed = if recorded.is_none() && matches!(protection, Protection::Cleartext) {
        tx.query_one(HOLDS_SEALED, &[])
            .await?
            .try_get::<_, bool>(0)?
    } else {
        false
    };
    let (to_record, sealing) = mode::settle(protection, recorded, || Ok(holds_sealed))?;
    if let Some(mode) = to_record {
        tx.execute(
            "INSERT INTO store_settings (name, value) VALUES ($1, $2)",
            &[&mode::MODE_SETTING, &mode.as_str()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(sealing)
}

impl ValueRef<'_> {
    /// The value as a PostgreSQL parameter.
    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(text) => text,
            Self::Int(int) => int,
            Self::Blob(blob) => blob,
        }
    }
}

/// Reads one column of a row as the table declares it.
fn read_value(r: &Row, index: usize, kind: Kind) -> Result<Value, tokio_postgres::Error> {
    Ok(match kind {
        Kind::Text => Value::Text(r.try_get(index)?),
        Kind::Int => Value::Int(r.try_get(index)?),
        Kind::Blob => Value::Blob(r.try_get(index)?),
    })
}

fn mismatch(e: &table::ColumnMismatch) -> StoreError {
    StoreError::Corrupt {
        udid: String::new(),
        field: e.column,
        reason: "unexpected NULL".to_owned(),
    }
}

fn read_record(r: &Row) -> Result<SealedRecord, StoreError> {
    SealedRecord::from_values(|i, kind| read_value(r, i, kind))?.map_err(|e| mismatch(&e))
}

fn read_event(r: &Row) -> Result<SealedEvent, StoreError> {
    SealedEvent::from_values(|i, kind| read_value(r, i, kind))?.map_err(|e| mismatch(&e))
}

fn params<'a>(values: &'a [ValueRef<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(ValueRef::as_param).collect()
}

/// The most rows one multi-row statement writes (PostgreSQL takes at most 65,535 parameters).
const ROWS_PER_STATEMENT: usize = 512;

/// A group's writes not yet sent: the last state of each row written (`None`: deleted), and the
/// history events in order. Sent as one multi-row statement per table.
#[derive(Default)]
struct Pending {
    rows: Vec<(String, Option<SealedRecord>)>,
    events: Vec<SealedEvent>,
}

impl Pending {
    async fn flush(&mut self, tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
        let rows = core::mem::take(&mut self.rows);
        let deletes: Vec<String> = rows
            .iter()
            .filter(|(_, row)| row.is_none())
            .map(|(udid, _)| udid.clone())
            .collect();
        if !deletes.is_empty() {
            tx.execute("DELETE FROM devices WHERE udid = ANY($1)", &[&deletes])
                .await?;
        }
        let upserts: Vec<SealedRecord> = rows.into_iter().filter_map(|(_, row)| row).collect();
        for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<Vec<ValueRef<'_>>> = chunk.iter().map(SealedRecord::values).collect();
            let bound: Vec<&(dyn ToSql + Sync)> = values.iter().flat_map(|v| params(v)).collect();
            let sql = table::upsert_records_sql(chunk.len(), |i| format!("${i}"));
            tx.execute(sql.as_str(), &bound).await?;
        }
        let events = core::mem::take(&mut self.events);
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<Vec<ValueRef<'_>>> =
                chunk.iter().map(SealedEvent::insert_values).collect();
            let bound: Vec<&(dyn ToSql + Sync)> = values.iter().flat_map(|v| params(v)).collect();
            let sql = table::insert_events_sql(chunk.len(), |i| format!("${i}"));
            tx.execute(sql.as_str(), &bound).await?;
        }
        Ok(())
    }
}

impl Backend for PostgresStore {
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Transaction-scoped advisory locks on every key of every scope, taken up front in one
        // global order (sorted), as every writer takes them: they also cover rows that do not
        // exist yet, which `SELECT ... FOR UPDATE` cannot, and two groups cannot deadlock. The
        // rows read are locked as well, for writers that reach them through another key (a
        // device found by its serial number). One statement takes them all, in array order.
        let mut keys: Vec<String> = scopes.iter().flat_map(Scope::lock_keys).collect();
        keys.sort_unstable();
        keys.dedup();
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) \
             FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
            &[&keys],
        )
        .await?;
        // The rows of every UDID named, read (and locked) in one statement; the group's own
        // writes are applied to this copy as it goes, so each member sees those before it, and
        // written in one statement each at the end (or before a serial-number query).
        let select = table::select_records_sql();
        let udids: Vec<String> = scopes
            .iter()
            .filter_map(|s| s.udid.as_ref().map(Udid::to_string))
            .collect();
        let mut rows: std::collections::HashMap<String, Option<SealedRecord>> =
            udids.iter().map(|u| (u.clone(), None)).collect();
        for row in tx
            .query(
                &format!("{select} WHERE udid = ANY($1) FOR UPDATE"),
                &[&udids],
            )
            .await?
        {
            let record = read_record(&row)?;
            rows.insert(record.udid.clone(), Some(record));
        }
        let by_serial = tx
            .prepare_cached(&format!(
                "{select} WHERE (serial_number = $1 OR udid = $2) AND udid <> $3 \
                 ORDER BY udid COLLATE \"C\" FOR UPDATE"
            ))
            .await?;
        let mut pending = Pending::default();
        let mut results = Vec::with_capacity(scopes.len());
        for (index, scope) in scopes.iter().enumerate() {
            let target = scope
                .udid
                .as_ref()
                .and_then(|udid| rows.get(udid.as_str()).cloned().flatten());
            let peers = match &scope.serial {
                Some(serial) => {
                    // The query must see the group's writes so far.
                    pending.flush(&tx).await?;
                    let placeholder = crate::device::placeholder_key(serial);
                    let target = scope.udid.as_ref().map_or("", Udid::as_str);
                    tx.query(&by_serial, &[&serial.as_str(), &placeholder, &target])
                        .await?
                        .iter()
                        .map(read_record)
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => Vec::new(),
            };
            let transition = decide(index, Rows { target, peers })?;
            for row in transition.upserts {
                rows.insert(row.udid.clone(), Some(row.clone()));
                pending.rows.retain(|(udid, _)| *udid != row.udid);
                pending.rows.push((row.udid.clone(), Some(row)));
            }
            for udid in transition.deletes {
                rows.insert(udid.clone(), None);
                pending.rows.retain(|(u, _)| *u != udid);
                pending.rows.push((udid, None));
            }
            pending.events.extend(transition.events);
            results.push(transition.result);
        }
        pending.flush(&tx).await?;
        tx.commit().await?;
        Ok(results)
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!("{} WHERE udid = $1", table::select_records_sql()))
            .await?;
        client
            .query_opt(&select, &[&udid.as_str()])
            .await?
            .map(|r| read_record(&r))
            .transpose()
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        let client = self.client().await?;
        let (condition, arg) = filter.sql("$1");
        let sql = format!(
            "{} WHERE {condition} ORDER BY udid COLLATE \"C\"",
            table::select_records_sql()
        );
        let rows = match arg {
            Some(arg) => client.query(&sql, &[&arg]).await?,
            None => client.query(&sql, &[]).await?,
        };
        rows.iter().map(read_record).collect()
    }

    async fn history_rows(&self, udid: &Udid) -> Result<Vec<SealedEvent>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{} WHERE udid = $1 ORDER BY seq",
                    table::select_events_sql()
                ),
                &[&udid.as_str()],
            )
            .await?;
        rows.iter().map(read_event).collect()
    }

    async fn put_secret_row(&self, name: &str, sealed: Vec<u8>, at: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO store_secrets (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
                &[&name, &sealed, &at],
            )
            .await?;
        Ok(())
    }

    async fn secret_row(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT value FROM store_secrets WHERE name = $1", &[&name])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }
}
