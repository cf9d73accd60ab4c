//! [`TempPostgres`], a throw-away PostgreSQL cluster started by a test.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use alb_test_support::TempPostgres;
//!
//! let server = TempPostgres::start()?; // initdb + pg_ctl start on a free loopback port
//! let url = server.create_database("conformance").await?;
//! assert!(url.starts_with("postgres://postgres@127.0.0.1:"));
//! # Ok(()) }
//! // Dropping `server` stops the cluster and removes its directory.
//! ```

use std::{
    net::TcpListener,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use core::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

/// The environment variable that lets PostgreSQL tests be skipped (`ALB_SKIP_POSTGRES=1`).
pub const SKIP_VARIABLE: &str = "ALB_SKIP_POSTGRES";

/// Why the throw-away cluster could not be started or set up.
#[derive(Debug, thiserror::Error)]
#[error("throw-away PostgreSQL server: {0}")]
pub struct TempPostgresError(String);

impl From<tokio_postgres::Error> for TempPostgresError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self(format!("SQL: {error}"))
    }
}

/// Whether the caller asked to skip PostgreSQL tests (`ALB_SKIP_POSTGRES=1`).
#[must_use]
pub fn skip_requested() -> bool {
    std::env::var(SKIP_VARIABLE).is_ok_and(|v| v == "1")
}

/// How a role made by [`TempPostgres::create_password_role`] authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordAuth {
    /// SCRAM-SHA-256 (`password_encryption = scram-sha-256`, `pg_hba` method `scram-sha-256`).
    ScramSha256,
    /// MD5 (`password_encryption = md5`, `pg_hba` method `md5`).
    Md5,
}

impl PasswordAuth {
    /// The group role whose members authenticate this way, and the server's name for it.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::ScramSha256 => ("alb_scram_login", "scram-sha-256"),
            Self::Md5 => ("alb_md5_login", "md5"),
        }
    }
}

/// A PostgreSQL cluster in a temporary directory, listening on `127.0.0.1` on a free port and on
/// a Unix socket in that directory, trusting local connections as user `postgres` (roles made by
/// [`TempPostgres::create_password_role`] must give their password). Stopped and removed on
/// drop.
#[derive(Debug)]
pub struct TempPostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    ca_file: Option<PathBuf>,
    options: String,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

impl TempPostgres {
    /// Runs `initdb` and `pg_ctl start` (with `fsync=off`: tests need no durability). As root, both run as the `postgres` OS user (initdb
    /// refuses root), through `runuser`.
    ///
    /// # Errors
    /// [`TempPostgresError`] saying which step failed and how (missing binaries included).
    pub fn start() -> Result<Self, TempPostgresError> {
        Self::start_with(false, false)
    }

    /// Like [`TempPostgres::start`], serving TLS too (`ssl=on`) with a server certificate for
    /// `127.0.0.1` and `localhost` issued by a fresh test CA ([`TempPostgres::ca_file`]).
    ///
    /// # Errors
    /// As [`TempPostgres::start`], and certificate generation failures.
    pub fn start_tls() -> Result<Self, TempPostgresError> {
        Self::start_with(false, true)
    }

    /// Like [`TempPostgres::start`], with `fsync` on: commits reach the disk, as in production
    /// (for benchmarks that compare durable backends).
    ///
    /// # Errors
    /// As [`TempPostgres::start`].
    pub fn start_durable() -> Result<Self, TempPostgresError> {
        Self::start_with(true, false)
    }

    fn start_with(fsync: bool, tls: bool) -> Result<Self, TempPostgresError> {
        let bin = find_binaries()?;
        let as_postgres_user = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = tempfile::Builder::new()
            .prefix("alb-pg-")
            .tempdir()
            .map_err(|e| TempPostgresError(format!("temporary directory: {e}")))?;
        if as_postgres_user {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "chown postgres",
            )?;
        }
        let data = dir.path().join("data");
        let mut server = Self {
            dir,
            bin,
            port: 0,
            as_postgres_user,
            ca_file: None,
            options: String::new(),
        };
        run(
            server.command("initdb").arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]),
            "initdb",
        )?;
        server.require_passwords(&data)?;
        let tls_options = if tls {
            server.write_certificates()?
        } else {
            String::new()
        };
        let mut last_error = None;
        for _ in 0..5 {
            server.port = free_port()?;
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={}{tls_options}",
                server.port,
                server.dir.path().display(),
                if fsync { "on" } else { "off" }
            );
            server.options = options;
            match server.start_again() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| TempPostgresError("pg_ctl start failed".into())))
    }

    /// Stops the server (`pg_ctl stop -m fast`): connections are closed, the data kept, so
    /// [`start_again`](Self::start_again) brings it back on the same port (to test how clients
    /// live through an outage).
    ///
    /// # Errors
    /// When `pg_ctl stop` fails.
    pub fn stop(&self) -> Result<(), TempPostgresError> {
        run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        )
        .map(drop)
    }

    /// Starts the server (again) with its options and port (`pg_ctl start -w`).
    ///
    /// # Errors
    /// When `pg_ctl start` fails (the server log is included).
    pub fn start_again(&self) -> Result<(), TempPostgresError> {
        let log = self.dir.path().join("log");
        run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-o", &self.options, "-l"])
                .arg(&log)
                .args(["-w", "start"]),
            "pg_ctl start",
        )
        .map(drop)
        .map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            TempPostgresError(format!("{}; server log: {log}", e.0))
        })
    }

    /// The PEM file of the test CA that issued the server's certificate (servers started with
    /// [`TempPostgres::start_tls`]).
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Writes the test PKI's server CA and server certificate (for `127.0.0.1` and
    /// `localhost`); returns the `-c ssl...` server options.
    fn write_certificates(&mut self) -> Result<String, TempPostgresError> {
        let pki = crate::TestPki::new();
        let dir = self.dir.path();
        let (ca_path, cert_path, key_path) = (
            dir.join("ca.pem"),
            dir.join("server.crt"),
            dir.join("server.key"),
        );
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text)
                .map_err(|e| TempPostgresError(format!("{}: {e}", path.display())))
        };
        write(&ca_path, &pki.server_ca.cert_pem)?;
        write(&cert_path, &pki.server.cert_pem)?;
        write(&key_path, &pki.server.key_pem)?;
        // The server refuses a key file others can read.
        run(
            Command::new("chmod").arg("600").arg(&key_path),
            "chmod server.key",
        )?;
        if self.as_postgres_user {
            run(
                Command::new("chown")
                    .arg("postgres:")
                    .arg(&cert_path)
                    .arg(&key_path),
                "chown certificates",
            )?;
        }
        self.ca_file = Some(ca_path);
        Ok(format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert_path.display(),
            key_path.display()
        ))
    }

    /// Puts `pg_hba.conf` lines first that make the members of each [`PasswordAuth`] group
    /// authenticate with a password, over TCP and the Unix socket; everyone else is trusted, as
    /// before. Written before the server starts, so no reload can race a connection.
    fn require_passwords(&self, data: &Path) -> Result<(), TempPostgresError> {
        let path = data.join("pg_hba.conf");
        let failed = |e: std::io::Error| TempPostgresError(format!("{}: {e}", path.display()));
        let trusted = std::fs::read_to_string(&path).map_err(failed)?;
        let mut lines = String::from("# TempPostgres::create_password_role\n");
        for auth in [PasswordAuth::ScramSha256, PasswordAuth::Md5] {
            let (group, method) = auth.names();
            lines.push_str(&format!(
                "local all +{group} {method}\n\
                 host all +{group} 127.0.0.1/32 {method}\n\
                 host all +{group} ::1/128 {method}\n"
            ));
        }
        std::fs::write(&path, lines + &trusted).map_err(failed)
    }

    /// The directory of the server's Unix socket (`.s.PGSQL.<port>`).
    #[must_use]
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates the login role `name` (lower-case ASCII letters, digits and `_`) with
    /// `password`, which it must give to connect, checked with `auth`.
    ///
    /// # Errors
    /// [`TempPostgresError`] for a name or password that cannot be used;
    /// connection and SQL failures.
    pub async fn create_password_role(
        &self,
        name: &str,
        password: &str,
        auth: PasswordAuth,
    ) -> Result<(), TempPostgresError> {
        let invalid =
            |field: &str, reason: &str| TempPostgresError(format!("invalid {field}: {reason}"));
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid("role name", "use a-z, 0-9 and _"));
        }
        if password.is_empty() || password.chars().any(char::is_control) {
            return Err(invalid("role password", "empty or has control characters"));
        }
        let (group, method) = auth.names();
        let password = zeroize::Zeroizing::new(password.replace('\'', "''"));
        let sql = zeroize::Zeroizing::new(format!(
            "DO $$ BEGIN CREATE ROLE {group} NOLOGIN; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             SET password_encryption = '{method}'; \
             CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE {group};",
            password = &*password
        ));
        self.superuser_sql(&sql).await
    }

    /// Creates a fresh database named `<prefix>_<n>` owned by `owner` (who may then create its
    /// tables) and returns its URL for `owner`, without a password.
    ///
    /// # Errors
    /// When connecting or `CREATE DATABASE` fails.
    pub async fn create_database_owned_by(
        &self,
        prefix: &str,
        owner: &str,
    ) -> Result<String, TempPostgresError> {
        let name = self.new_database(prefix, Some(owner)).await?;
        Ok(format!("postgres://{owner}@127.0.0.1:{}/{name}", self.port))
    }

    async fn new_database(
        &self,
        prefix: &str,
        owner: Option<&str>,
    ) -> Result<String, TempPostgresError> {
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let name: String = format!("{prefix}_{n}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let owner = owner
            .map(|o| format!(" OWNER \"{}\"", o.replace('"', "\"\"")))
            .unwrap_or_default();
        self.superuser_sql(&format!("CREATE DATABASE {name}{owner}"))
            .await?;
        Ok(name)
    }

    /// Runs `sql` as `postgres` in the `postgres` database.
    async fn superuser_sql(&self, sql: &str) -> Result<(), TempPostgresError> {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls).await?;
        let task = tokio::spawn(connection);
        let result = client.batch_execute(sql).await;
        drop(client);
        let _ = task.await;
        Ok(result?)
    }

    /// The port the server listens on (on `127.0.0.1`).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server.
    #[must_use]
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a fresh database named `<prefix>_<n>` and returns its URL.
    ///
    /// # Errors
    /// When connecting or `CREATE DATABASE` fails.
    pub async fn create_database(&self, prefix: &str) -> Result<String, TempPostgresError> {
        let name = self.new_database(prefix, None).await?;
        Ok(self.url(&name))
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(command: &mut Command, step: &str) -> Result<Output, TempPostgresError> {
    let output = command.output().map_err(|e| {
        TempPostgresError(format!(
            "{step}: cannot run {:?}: {e}",
            command.get_program()
        ))
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(TempPostgresError(format!(
            "{step} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

fn free_port() -> Result<u16, TempPostgresError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TempPostgresError(format!("no free loopback port: {e}")))
}

const MISSING: &str = "install the `postgresql` package (apt-get install postgresql), set PG_BIN \
     to its bin directory, or set ALB_SKIP_POSTGRES=1 to skip the PostgreSQL tests";

/// `$PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`, else the directory of
/// `initdb` on `$PATH`.
fn find_binaries() -> Result<PathBuf, TempPostgresError> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
        return Err(TempPostgresError(format!(
            "PG_BIN={} holds no initdb; {MISSING}",
            dir.display()
        )));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| Path::new(dir).join("initdb").is_file())
        .ok_or_else(|| {
            TempPostgresError(format!(
                "the PostgreSQL server binaries (initdb, pg_ctl) were not found in \
                 /usr/lib/postgresql/*/bin or $PATH; {MISSING}"
            ))
        })
}
