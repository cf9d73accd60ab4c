//! The conformance suite on each backend, and what only a real database file can show.

use std::path::PathBuf;

use alb_test_support::TempPostgres;
use code_store::{
    Change, CodeStore, MemoryStore, PostgresStore, Protection, SqliteStore, StoreError, Timestamp,
    UnlockToken,
};
use tempfile::TempDir;

use crate::conformance::{self, Backend, code, encrypted, udid};

struct Memory;

impl Backend for Memory {
    type Store = MemoryStore;
    async fn fresh(&mut self, protection: Protection) -> MemoryStore {
        MemoryStore::new(protection)
    }
    async fn try_reopen(&mut self, _protection: Protection) -> Result<MemoryStore, StoreError> {
        unreachable!("memory stores cannot be reopened")
    }
}

struct Sqlite {
    dir: TempDir,
    n: u32,
}

impl Sqlite {
    fn path(&self) -> PathBuf {
        self.dir.path().join(format!("store-{}.sqlite3", self.n))
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    async fn fresh(&mut self, protection: Protection) -> SqliteStore {
        self.n += 1;
        SqliteStore::open(self.path(), protection).await.unwrap()
    }
    async fn try_reopen(&mut self, protection: Protection) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(self.path(), protection).await
    }
}

struct Postgres {
    server: TempPostgres,
    url: String,
}

impl Backend for Postgres {
    type Store = PostgresStore;
    async fn fresh(&mut self, protection: Protection) -> PostgresStore {
        self.url = self.server.create_database("conformance").await.unwrap();
        PostgresStore::connect(&self.url, protection).await.unwrap()
    }
    async fn try_reopen(&mut self, protection: Protection) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect(&self.url, protection).await
    }
}

/// The PostgreSQL server for a test, or `None` when `ALB_SKIP_POSTGRES=1`. Missing binaries
/// fail the test.
pub(crate) fn postgres() -> Option<TempPostgres> {
    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: skipping a PostgreSQL test");
        return None;
    }
    Some(TempPostgres::start().unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_conformance() {
    // Every check but key rotation, which needs a reopen.
    conformance::suite_memory(&mut Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() {
    let mut b = Sqlite {
        dir: tempfile::tempdir().unwrap(),
        n: 0,
    };
    conformance::suite(&mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conformance() {
    let Some(server) = postgres() else { return };
    let mut b = Postgres {
        server,
        url: String::new(),
    };
    conformance::suite(&mut b).await;
}

#[tokio::test]
async fn sqlite_file_has_no_secret_in_clear_and_rows_are_bound_to_devices() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let store = SqliteStore::open(&path, encrypted("k1", 1)).await.unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a new store file is private");
    }
    let (a, b) = (udid("CLEAR-A"), udid("CLEAR-B"));
    let token = UnlockToken::new(b"TOKEN-PLAINTEXT-MARKER".to_vec()).unwrap();
    let server = code(0x42);
    let escrow_key = server.escrow_key();
    let t = Timestamp::now();
    store
        .apply(&a, Change::DeviceCode(Some(code(0x41))), t)
        .await
        .unwrap();
    store
        .apply(&a, Change::UnlockToken(Some(token)), t)
        .await
        .unwrap();
    store
        .apply(
            &a,
            Change::ServerCode {
                code: server.clone(),
                escrow_key: escrow_key.clone(),
            },
            t,
        )
        .await
        .unwrap();
    store
        .apply(&b, Change::DeviceCode(Some(code(0x43))), t)
        .await
        .unwrap();
    drop(store);

    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(dir.path().join("s.sqlite3-wal")).unwrap_or_default());
    let needles: Vec<Vec<u8>> = vec![
        code(0x41).to_string().into_bytes(),
        code(0x41).as_bytes().to_vec(),
        server.to_string().into_bytes(),
        server.as_bytes().to_vec(),
        escrow_key.as_bytes().to_vec(),
        escrow_key.to_string().into_bytes(),
        b"TOKEN-PLAINTEXT-MARKER".to_vec(),
    ];
    for needle in needles {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
            "a secret is in clear"
        );
    }

    // Copy A's sealed device code into B's row: B's record must refuse it.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE devices SET device_code = (SELECT device_code FROM devices WHERE udid = 'CLEAR-A') \
         WHERE udid = 'CLEAR-B'",
        [],
    )
    .unwrap();
    drop(db);
    let store = SqliteStore::open(&path, encrypted("k1", 1)).await.unwrap();
    let err = store.record(&b).await.unwrap_err();
    assert!(matches!(err, StoreError::Authentication { .. }), "{err}");
    assert!(err.to_string().contains("CLEAR-B"));
    assert!(store.record(&a).await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_open_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database file should be.
    let err = SqliteStore::open(dir.path(), Protection::Cleartext)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

/// Someone with write access to the database plants values: a code in clear in an encrypted
/// store, a sealed code with trailing bytes. Each is an error naming the device and the field,
/// never a code; every other record still reads, and `records_each` (backups) names the bad one.
#[tokio::test]
async fn sqlite_planted_values_are_errors_and_the_other_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planted.sqlite3");
    let store = SqliteStore::open(&path, encrypted("k1", 1)).await.unwrap();
    let t = Timestamp::now();
    for (name, byte) in [("PLANT-A", 1), ("PLANT-B", 2), ("PLANT-C", 3)] {
        store
            .apply(&udid(name), Change::DeviceCode(Some(code(byte))), t)
            .await
            .unwrap();
    }
    let db = rusqlite::Connection::open(&path).unwrap();
    // A known code, in the cleartext layout (tag 0 and the 16 bytes).
    let mut planted = vec![0u8];
    planted.extend_from_slice(code(0x66).as_bytes());
    db.execute(
        "UPDATE devices SET device_code = ?1 WHERE udid = 'PLANT-B'",
        [&planted],
    )
    .unwrap();
    for protection in [encrypted("k1", 1), Protection::NoKey] {
        let reader = SqliteStore::open(&path, protection).await.unwrap();
        let err = reader.record(&udid("PLANT-B")).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { udid, field: "device_code", .. } if udid == "PLANT-B"),
            "{err}"
        );
    }
    // The same planted value under --cleartext: the store is encrypted, so that is refused.
    assert!(matches!(
        SqliteStore::open(&path, Protection::Cleartext).await,
        Err(StoreError::ModeMismatch { .. })
    ));

    // A sealed 17-byte value (a valid seal of the code plus one byte) is not a code either.
    let sealing = encrypted("k1", 1);
    let mut long = code(4).as_bytes().to_vec();
    long.push(0);
    let sealed = sealing
        .seal(&udid("PLANT-C"), "device_code", &long)
        .unwrap();
    db.execute(
        "UPDATE devices SET device_code = ?1 WHERE udid = 'PLANT-C'",
        [&sealed],
    )
    .unwrap();
    let err = store.record(&udid("PLANT-C")).await.unwrap_err();
    assert!(
        err.to_string().contains("expected 16 bytes, found 17"),
        "{err}"
    );

    let each = store.records_each().await.unwrap();
    assert_eq!(each.len(), 3);
    assert_eq!(each[0].as_ref().unwrap().udid, udid("PLANT-A"));
    for (result, name) in each[1..].iter().zip(["PLANT-B", "PLANT-C"]) {
        let err = result.as_ref().unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
    assert!(store.records().await.is_err());
}

/// Several openers of one new file at the same moment (many `alb` processes on a new machine):
/// each gets the store, migrated once.
#[test]
fn sqlite_opened_by_many_at_once_is_created_and_migrated_once() {
    opened_by_many_at_once(|_| {});
}

/// The same with a file that exists in SQLite's default rollback-journal mode (made by another
/// tool, or an empty file): switching it to WAL is the statement that returned `SQLITE_BUSY`
/// without waiting when several connections tried at once.
#[test]
fn sqlite_rollback_journal_file_opened_by_many_at_once_is_switched_to_wal_once() {
    opened_by_many_at_once(|path| {
        let db = rusqlite::Connection::open(path).unwrap();
        db.execute_batch("CREATE TABLE unrelated (x INTEGER)")
            .unwrap();
        let mode: String = db
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    });
}

fn opened_by_many_at_once(prepare: impl Fn(&std::path::Path)) {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("race-{round}.sqlite3"));
        prepare(&path);
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .build()
                            .unwrap();
                        start.wait();
                        runtime.block_on(SqliteStore::open(&path, Protection::Cleartext))
                    })
                })
                .collect();
            for opener in openers {
                opener.join().unwrap().unwrap();
            }
        });
        let db = rusqlite::Connection::open(&path).unwrap();
        let versions: i64 = db
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, SqliteStore::schema_version());
        let mode: String = db
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn sqlite_history_is_append_only_and_schema_is_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    let store = SqliteStore::open(&path, Protection::Cleartext)
        .await
        .unwrap();
    store
        .apply(
            &udid("H"),
            Change::DeviceCode(Some(code(1))),
            Timestamp::now(),
        )
        .await
        .unwrap();
    drop(store);
    let db = rusqlite::Connection::open(&path).unwrap();
    assert!(db.execute("DELETE FROM history", []).is_err());
    assert!(db.execute("UPDATE history SET event = 'x'", []).is_err());
    let version: i64 = db
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    // A newer schema than this program knows is refused, not misread.
    db.execute("INSERT INTO schema_migrations VALUES (999, 0)", [])
        .unwrap();
    drop(db);
    let err = SqliteStore::open(&path, Protection::Cleartext)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_rows_are_bound_to_devices_and_hold_no_secret_in_clear() {
    let Some(server) = postgres() else { return };
    let url = server.create_database("binding").await.unwrap();
    let store = PostgresStore::connect(&url, encrypted("k1", 1))
        .await
        .unwrap();
    let (a, b) = (udid("PG-A"), udid("PG-B"));
    let t = Timestamp::now();
    store
        .apply(&a, Change::DeviceCode(Some(code(0x51))), t)
        .await
        .unwrap();
    store
        .apply(&b, Change::DeviceCode(Some(code(0x52))), t)
        .await
        .unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let stored: Vec<u8> = client
        .query_one("SELECT device_code FROM devices WHERE udid = 'PG-A'", &[])
        .await
        .unwrap()
        .get(0);
    let raw = code(0x51);
    assert!(!stored.windows(16).any(|w| w == raw.as_bytes()));
    client
        .execute(
            "UPDATE devices SET device_code = $1 WHERE udid = 'PG-B'",
            &[&stored],
        )
        .await
        .unwrap();
    let err = store.record(&b).await.unwrap_err();
    assert!(matches!(err, StoreError::Authentication { .. }), "{err}");
    assert!(client.execute("DELETE FROM history", &[]).await.is_err());
    // Two servers opening the same database at once migrate it once.
    let (x, y) = tokio::join!(
        PostgresStore::connect(&url, encrypted("k1", 1)),
        PostgresStore::connect(&url, Protection::NoKey)
    );
    x.unwrap();
    y.unwrap();
    // The store is encrypted: it cannot be opened in cleartext mode.
    let err = PostgresStore::connect(&url, Protection::Cleartext)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ModeMismatch { .. }), "{err}");
}

#[tokio::test]
async fn postgres_over_verified_tls() {
    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: skipping a PostgreSQL test");
        return;
    }
    let server = TempPostgres::start_tls().unwrap_or_else(|e| panic!("{e}"));
    let url = server.create_database("tls").await.unwrap();
    let ca = server.ca_file().unwrap().display().to_string();

    let tls = PostgresStore::connect(
        &format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
        encrypted("k1", 1),
    )
    .await
    .unwrap();
    assert!(tls.connection_is_encrypted().await.unwrap());
    let d = udid("TLS-1");
    tls.apply(&d, Change::DeviceCode(Some(code(9))), Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        tls.record(&d)
            .await
            .unwrap()
            .unwrap()
            .device_code
            .unwrap()
            .code,
        code(9)
    );

    let plain = PostgresStore::connect(&url, encrypted("k1", 1))
        .await
        .unwrap();
    assert!(!plain.connection_is_encrypted().await.unwrap());

    // A server whose certificate does not chain to the trusted roots is refused.
    let untrusted =
        PostgresStore::connect(&format!("{url}?sslmode=verify-full"), Protection::NoKey).await;
    let err = untrusted.unwrap_err().to_string();
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    // Encryption without verification is not offered.
    let err = PostgresStore::connect(&format!("{url}?sslmode=require"), Protection::NoKey)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Url { .. }), "{err}");
}
