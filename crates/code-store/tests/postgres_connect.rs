//! How a PostgreSQL store is connected to: plain text only to loopback hosts, no password in any
//! message, and passwords from `PGPASSWORD` and password files as libpq reads them. The
//! environment is given to each connection, never set in the process: tests run in parallel.

use alb_test_support::{PasswordAuth, TempPostgres};
use std::{
    collections::HashMap,
    ffi::OsString,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use code_store::{
    Change, CodeStore, PostgresStore, Protection, StoreError, StoreLocation, Timestamp, redact_url,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tempfile::TempDir;

use crate::{
    backends::postgres,
    conformance::{code, udid},
};

/// A password with every character the URL and password-file syntaxes treat specially.
const PASSWORD: &str = r"Pa:ss\w@rd #1&?=/%";
/// A wrong password, distinctive enough to search messages for.
const WRONG: &str = "Wr0ng-Pa55word-Marker";

/// An environment holding only `vars`.
fn env(vars: &[(&str, &OsString)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).clone()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn os(text: impl Into<OsString>) -> OsString {
    text.into()
}

fn encoded(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `text` escaped for a password file field.
fn escaped(text: &str) -> String {
    text.replace('\\', r"\\").replace(':', r"\:")
}

/// Connects through `env`; the error (its `Display` and `Debug`) on failure.
async fn connect(
    url: &str,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<PostgresStore, String> {
    PostgresStore::connect_with_env(url, Protection::Cleartext, env)
        .await
        .map_err(|e| {
            let text = format!("{e} / {e:?}");
            for secret in [PASSWORD, WRONG, &encoded(PASSWORD), &encoded(WRONG)] {
                assert!(!text.contains(secret), "{url}: {text}");
            }
            text
        })
}

/// The store works: a write and a read through it.
async fn works(store: &PostgresStore, device: &str) {
    let d = udid(device);
    store
        .apply(&d, Change::DeviceCode(Some(code(7))), Timestamp::now())
        .await
        .unwrap();
    let record = store.record(&d).await.unwrap().unwrap();
    assert_eq!(record.device_code.unwrap().code, code(7));
    assert!(!store.connection_is_encrypted().await.unwrap());
}

/// Writes a password file with `mode`.
fn passfile(path: &Path, lines: &str, mode: u32) -> OsString {
    std::fs::write(path, lines).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.as_os_str().to_owned()
}

#[tokio::test]
async fn plain_text_to_a_remote_host_is_refused_before_anything_is_contacted() {
    // Were anything contacted, the first host would be: this watcher, which counts (and hangs
    // up on) every connection until told to stop. `connect_timeout` only keeps a regression from
    // hanging on the silent TEST-NET hosts.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let watcher = std::thread::spawn(move || {
        let mut contacts = 0;
        for stream in listener.incoming() {
            let mut first = [0; 4];
            if stream.unwrap().read_exact(&mut first).is_ok() && &first == b"stop" {
                return contacts;
            }
            contacts += 1;
        }
        contacts
    });
    let dir = TempDir::new().unwrap();
    let file = passfile(&dir.path().join("pgpass"), "*:*:*:*:x\n", 0o600);
    for (url, host) in [
        (
            format!("postgres://alb@127.0.0.1:{port},192.0.2.1:{port}/alb?connect_timeout=10"),
            "192.0.2.1",
        ),
        (
            format!(
                "postgres://alb:{WRONG}@127.0.0.1:{port}/alb?host=192.0.2.2&password={WRONG}&connect_timeout=10"
            ),
            "192.0.2.2",
        ),
        (
            format!("postgres://alb@localhost:{port}/alb?hostaddr=192.0.2.3&connect_timeout=10"),
            "192.0.2.3",
        ),
        (
            format!(
                "postgresql://alb@127.0.0.1:{port},[2001:db8::1]:{port}/alb?connect_timeout=10"
            ),
            "2001:db8::1",
        ),
        (
            format!(
                "postgres://alb@127.0.0.1:{port},db.example:{port}/alb?pass%77ord={WRONG}&connect_timeout=10"
            ),
            "db.example",
        ),
    ] {
        for env in [env(&[]), env(&[("PGPASSFILE", &file)])] {
            let err = PostgresStore::connect_with_env(&url, Protection::NoKey, env)
                .await
                .unwrap_err();
            let text = format!("{err} / {err:?}");
            assert!(
                matches!(&err, StoreError::PlainTextToRemoteHost { host: h, .. } if h == host),
                "{text}"
            );
            assert!(text.contains("sslmode=verify-full") && text.contains("sslmode=disable"));
            assert!(!text.contains(WRONG), "{text}");
        }
        let err = code_store::open(&url, Protection::NoKey).await.unwrap_err();
        assert!(
            matches!(err, StoreError::PlainTextToRemoteHost { .. }),
            "{err}"
        );
    }
    TcpStream::connect(("127.0.0.1", port))
        .unwrap()
        .write_all(b"stop")
        .unwrap();
    assert_eq!(watcher.join().unwrap(), 0, "a server was contacted");
}

#[test]
fn every_password_form_is_redacted() {
    let p = WRONG;
    let e = encoded(WRONG);
    for url in [
        format!("postgres://alb:{p}@db.example/alb"),
        format!("postgresql://alb:{e}@db.example:5433/alb?sslmode=verify-full"),
        format!("postgres://alb@db.example/alb?password={p}"),
        format!("postgres://alb@db.example/alb?sslmode=verify-full&password={e}"),
        format!("postgres://alb@db.example/alb?pass%77ord={p}&connect_timeout=5"),
        format!("postgres://alb@db.example/alb?%70assword={p}"),
        format!("postgres://alb:a@b{p}@db.example/alb"),
        format!("postgres://alb:a?b{p}@db.example/alb"),
        format!("postgres://alb@db.example/alb?application_name=x@y&password={p}"),
        format!("host=db.example password={p}"),
    ] {
        let redacted = redact_url(&url);
        assert!(!redacted.contains(p), "{url} -> {redacted}");
        if url.starts_with("postgres") {
            let location = StoreLocation::parse(&url).unwrap();
            let debug = format!("{location:?}");
            assert!(!debug.contains(p) && debug.contains("***"), "{debug}");
        }
    }
    let err = StoreLocation::parse(&format!("mysql://alb:{p}@db/alb?password={p}")).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(p), "{err}");
}

#[tokio::test]
async fn passwords_never_appear_in_error_text() {
    // Errors found before connecting: `connect` checks every message for the passwords.
    for url in [
        format!("postgres://alb:{WRONG}@localhost:notaport/alb"),
        format!("postgres://alb@localhost/alb?password={WRONG}&bogus=1"),
        format!("postgres://alb@localhost/alb?password={WRONG}&sslmode=require"),
        format!("postgres://alb:{WRONG}@localhost/alb?sslmode=verify-ca"),
        format!("postgres://alb:{WRONG}@localhost/alb?sslrootcert=/ca.pem"),
        format!(
            "postgres://alb@localhost/alb?password={WRONG}&sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"
        ),
        format!("postgres://alb@localhost/alb?password={WRONG}&port=x"),
    ] {
        let text = connect(&url, env(&[])).await.unwrap_err();
        assert!(text.contains("***") || text.contains("ca.pem"), "{text}");
    }
    // And from a real server refusing the password.
    let Some(server) = postgres() else { return };
    server
        .create_password_role("alb_wrong", PASSWORD, PasswordAuth::ScramSha256)
        .await
        .unwrap();
    let url = server
        .create_database_owned_by("wrong", "alb_wrong")
        .await
        .unwrap();
    let (user_url, query_url) = (
        url.replacen("alb_wrong@", &format!("alb_wrong:{WRONG}@"), 1),
        format!("{url}?password={WRONG}"),
    );
    for url in [user_url, query_url] {
        let text = connect(&url, env(&[])).await.unwrap_err();
        assert!(text.contains("password authentication failed"), "{text}");
    }
    let text = connect(&url, env(&[("PGPASSWORD", &os(WRONG))]))
        .await
        .unwrap_err();
    assert!(text.contains("password authentication failed"), "{text}");
}

#[tokio::test]
async fn password_from_the_url_or_pgpassword() {
    let Some(server) = postgres() else { return };
    for (role, auth) in [
        ("alb_scram", PasswordAuth::ScramSha256),
        ("alb_md5", PasswordAuth::Md5),
    ] {
        server
            .create_password_role(role, PASSWORD, auth)
            .await
            .unwrap();
        let url = server.create_database_owned_by(role, role).await.unwrap();
        // Without a password the server says no: authentication is really required.
        let text = connect(&url, env(&[])).await.unwrap_err();
        assert!(text.contains("password missing"), "{text}");

        let store = connect(&url, env(&[("PGPASSWORD", &os(PASSWORD))]))
            .await
            .unwrap();
        works(&store, &format!("{role}-env")).await;

        // The URL's password comes first, in either form.
        let wrong = env(&[("PGPASSWORD", &os(WRONG))]);
        let in_user = url.replacen(
            &format!("{role}@"),
            &format!("{role}:{}@", encoded(PASSWORD)),
            1,
        );
        connect(&in_user, &wrong).await.unwrap();
        let in_query = format!("{url}?password={}", encoded(PASSWORD));
        connect(&in_query, &wrong).await.unwrap();
        // An empty one counts as none.
        let empty = url.replacen(&format!("{role}@"), &format!("{role}:@"), 1);
        connect(&empty, env(&[("PGPASSWORD", &os(PASSWORD))]))
            .await
            .unwrap();
    }
}

/// A role, its database and a directory for password files.
struct PassfileCase {
    server: TempPostgres,
    url: String,
    database: String,
    dir: TempDir,
}

async fn passfile_case() -> Option<PassfileCase> {
    let server = postgres()?;
    server
        .create_password_role("alb_file", PASSWORD, PasswordAuth::ScramSha256)
        .await
        .unwrap();
    let url = server
        .create_database_owned_by("file", "alb_file")
        .await
        .unwrap();
    let database = url.rsplit('/').next().unwrap().to_owned();
    Some(PassfileCase {
        server,
        url,
        database,
        dir: TempDir::new().unwrap(),
    })
}

#[tokio::test]
async fn password_from_a_password_file() {
    let Some(case) = passfile_case().await else {
        return;
    };
    let (port, db, pw) = (case.server.port(), &case.database, escaped(PASSWORD));
    let lines = format!(
        "# hostname:port:database:username:password\n\
         127.0.0.1:{port}:{db}:someone_else:{WRONG}\n\
         127.0.0.1:1:{db}:alb_file:{WRONG}\n\
         localhost:{port}:{db}:alb_file:{WRONG}\n\
         127.0.0.1:{port}:*:alb_file:{pw}\r\n\
         *:*:*:*:{WRONG}\n"
    );
    let path = case.dir.path().join("pgpass");
    let file = passfile(&path, &lines, 0o600);
    let store = connect(&case.url, env(&[("PGPASSFILE", &file)]))
        .await
        .unwrap();
    works(&store, "passfile").await;

    // `PGPASSWORD` comes before the file, which is then not read.
    let text = connect(
        &case.url,
        env(&[("PGPASSFILE", &file), ("PGPASSWORD", &os(WRONG))]),
    )
    .await
    .unwrap_err();
    assert!(text.contains("password authentication failed"), "{text}");

    // Without PGPASSFILE, `$HOME/.pgpass`.
    let home = case.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    passfile(&home.join(".pgpass"), &lines, 0o600);
    connect(&case.url, env(&[("HOME", &os(&home))]))
        .await
        .unwrap();

    // The database defaults to the user: authentication passes, the database is missing.
    let no_database = format!("postgres://alb_file@127.0.0.1:{port}");
    let only_default = passfile(
        &case.dir.path().join("default-db"),
        &format!("127.0.0.1:{port}:alb_file:alb_file:{pw}\n"),
        0o600,
    );
    let text = connect(&no_database, env(&[("PGPASSFILE", &only_default)]))
        .await
        .unwrap_err();
    assert!(
        text.contains("database \"alb_file\" does not exist"),
        "{text}"
    );

    // The Unix socket, named as written, in the authority or as `?host=`.
    let socket = case.server.socket_dir().to_str().unwrap().to_owned();
    let by_socket = passfile(
        &case.dir.path().join("socket"),
        &format!("{}:{port}:{db}:alb_file:{pw}\n", escaped(&socket)),
        0o600,
    );
    for url in [
        format!("postgres://alb_file@{}:{port}/{db}", encoded(&socket)),
        format!("postgres:///{db}?host={socket}&port={port}&user=alb_file"),
    ] {
        let store = connect(&url, env(&[("PGPASSFILE", &by_socket)]))
            .await
            .unwrap();
        works(&store, "socket").await;
    }

    // Several hosts: one password is sent to all, so the file must give it for each.
    let two_hosts = format!("postgres://alb_file@127.0.0.1:{port},localhost:{port}/{db}");
    let one_host = passfile(
        &case.dir.path().join("one"),
        &format!("127.0.0.1:{port}:{db}:alb_file:{pw}\n"),
        0o600,
    );
    let text = connect(&two_hosts, env(&[("PGPASSFILE", &one_host)]))
        .await
        .unwrap_err();
    assert!(
        text.contains("does not give one password for every host"),
        "{text}"
    );
    let both = passfile(
        &case.dir.path().join("both"),
        &format!("127.0.0.1:{port}:{db}:alb_file:{pw}\nlocalhost:{port}:{db}:alb_file:{pw}\n"),
        0o600,
    );
    connect(&two_hosts, env(&[("PGPASSFILE", &both)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_password_file_others_may_read_is_ignored() {
    let Some(case) = passfile_case().await else {
        return;
    };
    let (port, db) = (case.server.port(), &case.database);
    let path: PathBuf = case.dir.path().join("pgpass");
    let lines = format!("127.0.0.1:{port}:{db}:alb_file:{}\n", escaped(PASSWORD));
    for mode in [0o644, 0o640, 0o660, 0o604] {
        let file = passfile(&path, &lines, mode);
        let err = PostgresStore::connect_with_env(
            &case.url,
            Protection::Cleartext,
            env(&[("PGPASSFILE", &file)]),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        let StoreError::PasswordFileIgnored { path: p, error, .. } = err else {
            panic!("{text}");
        };
        assert_eq!(Path::new(&p), path);
        assert!(error.to_string().contains("password missing"), "{error}");
        assert!(
            text.contains(&format!("{mode:04o}")) && text.contains("chmod 600"),
            "{text}"
        );
        assert!(!text.contains(PASSWORD), "{text}");
    }
    let file = passfile(&path, &lines, 0o600);
    connect(&case.url, env(&[("PGPASSFILE", &file)]))
        .await
        .unwrap();

    // A file PGPASSFILE names that is not there is mentioned too.
    let missing = os(case.dir.path().join("missing"));
    let text = connect(&case.url, env(&[("PGPASSFILE", &missing)]))
        .await
        .unwrap_err();
    assert!(
        text.contains("does not exist") && text.contains("password missing"),
        "{text}"
    );
}
