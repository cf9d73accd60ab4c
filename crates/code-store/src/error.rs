//! [`StoreError`]: why a store operation failed. Messages never contain a secret.

/// Why a store operation failed.
///
/// The `Display` form names what failed and where (device, field, key id, migration version); it
/// never contains a code, an escrow key, an unlock token or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A UDID, serial number or other identity field is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A secret was about to be written but the store has no key and was not opened in cleartext
    /// mode.
    #[error("refusing to store the {field} of device {udid}: the store was opened without its key")]
    KeyMissing {
        /// The device.
        udid: String,
        /// The secret field.
        field: &'static str,
    },
    /// A stored value is sealed under a key this store was not given.
    #[error(
        "the {field} of device {udid} is sealed under key id {key_id:?}, which was not given \
         (wrong key file?)"
    )]
    UnknownKey {
        /// The device.
        udid: String,
        /// The secret field.
        field: &'static str,
        /// The key id stored with the value.
        key_id: String,
    },
    /// A stored value is sealed but the store was opened without any key.
    #[error("the {field} of device {udid} is encrypted; a store key is needed to read it")]
    KeyRequired {
        /// The device.
        udid: String,
        /// The secret field.
        field: &'static str,
    },
    /// A sealed value failed authentication: wrong key material for its key id, a value moved
    /// from another device's row or field, or tampering.
    #[error(
        "the {field} of device {udid} failed authentication under key id {key_id:?} \
         (wrong key, tampered value, or a value copied from another device)"
    )]
    Authentication {
        /// The device.
        udid: String,
        /// The secret field.
        field: &'static str,
        /// The key id stored with the value.
        key_id: String,
    },
    /// The store is encrypted and was opened in cleartext mode, or holds secrets in clear and
    /// was opened with a key: a store keeps one mode for its whole life.
    #[error(
        "the store is {recorded}; it cannot be opened {}",
        match requested {
            crate::StoreMode::Encrypted => "with a key (it holds secrets in clear; export them \
                                           and import into a new, encrypted store)",
            crate::StoreMode::Cleartext => "in cleartext mode (give its key)",
        }
    )]
    ModeMismatch {
        /// The store's mode.
        recorded: crate::StoreMode,
        /// The mode the opener asked for.
        requested: crate::StoreMode,
    },
    /// Several enrolled devices share this serial number (a store from before serial numbers
    /// were unique): the UDID must say which.
    #[error("{count} devices have serial number {serial}; name the device by its UDID")]
    AmbiguousSerial {
        /// The serial number.
        serial: String,
        /// How many enrolled devices have it.
        count: usize,
    },
    /// The UDID given belongs to a device with another serial number.
    #[error("device {udid} has serial number {stored}, not {given}")]
    SerialMismatch {
        /// The device.
        udid: String,
        /// Its stored serial number.
        stored: String,
        /// The serial number given.
        given: String,
    },
    /// The serial number belongs to another enrolled device.
    #[error("serial number {serial} belongs to enrolled device {holder}, not to {udid}")]
    SerialTaken {
        /// The serial number.
        serial: String,
        /// The device that has it.
        holder: String,
        /// The device that claimed it.
        udid: String,
    },
    /// Apple accepted a server code for this device: a new one is refused unless asked for
    /// beside it (the accepted code stays and is tried at unlock).
    #[error(
        "Apple holds an accepted server code for device {udid}: it is kept; a new code is made \
         only when asked for beside it"
    )]
    ServerCodeAccepted {
        /// The device.
        udid: String,
    },
    /// A stored value is malformed.
    #[error("corrupt {field} for device {udid}: {reason}")]
    Corrupt {
        /// The device.
        udid: String,
        /// The field or column.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(getrandom::Error),
    /// The database schema is newer than this program understands.
    #[error("the database schema is version {found}, newer than this program's {supported}")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this program knows.
        supported: i64,
    },
    /// A store URL is not understood.
    #[error("invalid store URL {url:?}: {reason}")]
    Url {
        /// The URL, with any password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A PostgreSQL URL would send the password and every query in plain text to a host that is
    /// not loopback (`localhost`, `127.0.0.0/8`, `::1`) or a Unix socket.
    #[error(
        "refusing to talk to the PostgreSQL host {host:?} of {url:?} in plain text: it is not \
         loopback; add sslmode=verify-full (and sslrootcert=CA.pem for a private CA), or \
         sslmode=disable to send in clear on purpose"
    )]
    PlainTextToRemoteHost {
        /// The URL, with any password removed.
        url: String,
        /// The first host (or `hostaddr`) that is not loopback.
        host: String,
    },
    /// The password file gives different passwords (or a password for some hosts only) for the
    /// hosts of a URL, while one password is sent to every host.
    #[error(
        "the password file {path} does not give one password for every host of {url:?} \
         (one password is sent to each host): put it in the URL or PGPASSWORD, or make the \
         entries agree"
    )]
    PasswordsDiffer {
        /// The password file.
        path: String,
        /// The URL, with any password removed.
        url: String,
    },
    /// Connecting failed, and the password file was ignored (as libpq ignores it), which may be
    /// why.
    #[error("{error} (the password file {path} was ignored: {reason})")]
    PasswordFileIgnored {
        /// The password file.
        path: String,
        /// Why it was ignored.
        reason: String,
        /// The failure.
        error: Box<StoreError>,
    },
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL: {}", with_causes(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL connection pool failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// Opening a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// `error: cause: cause...`, for errors whose `Display` leaves out why (TLS, I/O).
#[cfg(feature = "postgres")]
fn with_causes(error: &dyn core::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
