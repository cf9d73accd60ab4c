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
"];

/// The advisory lock key that serialises migrations of one database.
const MIGRATION_LOCK: i64 = 0x616c_625f_7374_6f72;

/// A store in a PostgreSQL database, through a connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    protection: Protection,
    pool: Pool,
}

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("protection", &self.protection)
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
    /// [`StoreError::SchemaTooNew`].
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
        let store = Self { protection, pool };
        store.migrate().await.map_err(|e| match ignored {
            Some(ignored) => ignored.explain(e),
            None => e,
        })?;
        Ok(store)
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
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Pool(other.to_string()),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
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
        let supported = Self::schema_version();
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
        tx.commit().await?;
        Ok(())
    }
}

fn read_record(r: &Row) -> Result<SealedRecord, tokio_postgres::Error> {
    Ok(SealedRecord {
        udid: r.try_get(0)?,
        serial_number: r.try_get(1)?,
        product_type: r.try_get(2)?,
        imei: r.try_get(3)?,
        imei2: r.try_get(4)?,
        meid: r.try_get(5)?,
        enrolled_at: r.try_get(6)?,
        device_code: r.try_get(7)?,
        device_code_at: r.try_get(8)?,
        server_code: r.try_get(9)?,
        server_code_at: r.try_get(10)?,
        unlock_token: r.try_get(11)?,
        unlock_token_at: r.try_get(12)?,
        last_unlock_code: r.try_get(13)?,
        last_unlock_outcome: r.try_get(14)?,
        last_unlock_at: r.try_get(15)?,
        created_at: r.try_get(16)?,
        updated_at: r.try_get(17)?,
    })
}

fn record_params(r: &SealedRecord) -> [&(dyn ToSql + Sync); 18] {
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

impl Backend for PostgresStore {
    fn protection(&self) -> &Protection {
        &self.protection
    }

    async fn update<F>(&self, udid: &Udid, decide: F) -> Result<Outcome, StoreError>
    where
        F: FnOnce(Option<SealedRecord>) -> Result<Transition, StoreError> + Send + 'static,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let key = udid.as_str();
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
        .await?;
        let select = tx
            .prepare_cached(&format!("{} WHERE udid = $1", row::select_sql()))
            .await?;
        let stored = tx
            .query_opt(&select, &[&key])
            .await?
            .map(|r| read_record(&r))
            .transpose()?;
        let transition = decide(stored)?;
        if let Some((record, events)) = &transition.write {
            let upsert = tx
                .prepare_cached(&row::upsert_sql(|i| format!("${i}")))
                .await?;
            tx.execute(&upsert, &record_params(record)).await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO history (udid, at, event, detail, secret) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await?;
            for e in events {
                tx.execute(&insert, &[&e.udid, &e.at, &e.event, &e.detail, &e.secret])
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(transition.outcome)
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        let client = self.client().await?;
        let select = client
            .prepare_cached(&format!("{} WHERE udid = $1", row::select_sql()))
            .await?;
        Ok(client
            .query_opt(&select, &[&udid.as_str()])
            .await?
            .map(|r| read_record(&r))
            .transpose()?)
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        let client = self.client().await?;
        let (condition, arg) = match &filter {
            Filter::All => ("TRUE", None),
            Filter::Serial(serial) => ("serial_number = $1", Some(serial.as_str())),
            Filter::WithoutDeviceCode => ("device_code IS NULL", None),
            Filter::LastUnlockFailed => ("last_unlock_outcome <> 'unlocked'", None),
        };
        let sql = format!(
            "{} WHERE {condition} ORDER BY udid COLLATE \"C\"",
            row::select_sql()
        );
        let rows = match arg {
            Some(arg) => client.query(&sql, &[&arg]).await?,
            None => client.query(&sql, &[]).await?,
        };
        Ok(rows.iter().map(read_record).collect::<Result<_, _>>()?)
    }

    async fn history_rows(&self, udid: &Udid) -> Result<Vec<SealedEvent>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, udid, at, event, detail, secret FROM history \
                 WHERE udid = $1 ORDER BY seq",
                &[&udid.as_str()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedEvent {
                    seq: r.try_get(0)?,
                    udid: r.try_get(1)?,
                    at: r.try_get(2)?,
                    event: r.try_get(3)?,
                    detail: r.try_get(4)?,
                    secret: r.try_get(5)?,
                })
            })
            .collect()
    }
}
