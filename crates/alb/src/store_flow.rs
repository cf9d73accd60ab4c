//! The workflow around [`code_store`]: opening the operator's store, and the order of the
//! server-code journey — **a code is committed durably to the store before it is shown or its
//! escrow key leaves the process**.
//!
//! The command line (`alb generate --serial`, `alb show`, `alb ingest`...) is a thin layer over
//! these functions, so another MDM server can follow the same steps.

use std::{
    io,
    path::{Path, PathBuf},
};

use bypass_code::{BypassCode, EscrowKey};
use code_store::{
    AnyStore, Change, CodeStore, DeviceIdentity, KeyError, KeyRing, Protection, StoreError,
    Timestamp, Udid, export::ImportError,
};

/// The environment variable holding the store key (the text `alb keygen` prints).
pub const STORE_KEY_VARIABLE: &str = "ALB_STORE_KEY";

/// Why a store workflow step failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreFlowError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The key file cannot be read.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An input (the key file, a serial-number list) could not be read, or is too large.
    #[error("{0}")]
    Input(#[from] crate::input::InputError),
    /// The key file or the environment variable does not hold a valid key.
    #[error("store key from {origin}: {source}")]
    Key {
        /// `key file <path>` or `ALB_STORE_KEY`.
        origin: String,
        /// What is wrong (never the key).
        source: KeyError,
    },
    /// A line of a serial-number list is not valid.
    #[error("{file}:{line}: {reason}")]
    SerialList {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(bypass_code::getrandom::Error),
    /// An import line was refused.
    #[error("line {line}: {source}")]
    Import {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: ImportError,
    },
}

/// The default store: `sqlite:$XDG_DATA_HOME/alb/store.sqlite3`, else
/// `sqlite:$HOME/.local/share/alb/store.sqlite3`, else `sqlite:alb-store.sqlite3` in the current
/// directory.
#[must_use]
pub fn default_store_url() -> String {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".local/share"))
        });
    match base {
        Some(base) => format!("sqlite:{}", base.join("alb/store.sqlite3").display()),
        None => "sqlite:alb-store.sqlite3".to_owned(),
    }
}

/// The key file used with the default store when no key is given:
/// `$XDG_CONFIG_HOME/alb/store.key`, else `~/.config/alb/store.key` (kept apart from the data
/// directory, so a copy of the store alone does not carry its key).
#[must_use]
pub fn default_key_path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".config"))
        })
        .map_or_else(
            || PathBuf::from("alb-store.key"),
            |base| base.join("alb/store.key"),
        )
}

/// Writes a new random store key to `path`, a file that must not exist yet (mode 0600, synced),
/// creating its directory (mode 0700) when needed.
///
/// The key is written and synced under a temporary name first and then moved into place, so
/// `path` never exists half-written: a process that finds it (another `alb` started at the same
/// moment) reads a whole key.
///
/// # Errors
/// [`StoreFlowError::Key`] when no key can be made; [`StoreFlowError::KeyFile`] when the file
/// exists (its error kind is then [`io::ErrorKind::AlreadyExists`]) or cannot be written.
pub fn write_new_key_file(path: &Path) -> Result<(), StoreFlowError> {
    use std::{io::Write, os::unix::fs::DirBuilderExt};
    let key = code_store::StoreKey::generate().map_err(|source| StoreFlowError::Key {
        origin: path.display().to_string(),
        source,
    })?;
    let with_path = |source| StoreFlowError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(with_path)?;
    }
    let dir = dir.unwrap_or_else(|| Path::new("."));
    // A private (0600) file under a fresh random name, removed again if anything fails.
    let mut staging = tempfile::Builder::new()
        .prefix(".store-key-")
        .tempfile_in(dir)
        .map_err(with_path)?;
    writeln!(staging, "{}", key.to_text().as_str()).map_err(with_path)?;
    staging.as_file().sync_all().map_err(with_path)?;
    // Fails with `AlreadyExists` when another key got there first; that one stays.
    staging
        .persist_noclobber(path)
        .map_err(|e| with_path(e.error))?;
    // The new directory entry is durable too: a key lost in a crash loses every code.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(with_path)
}

/// How secrets are protected: the key ring from `key_file` if given, else from `env_key` (the
/// value of `ALB_STORE_KEY`), else cleartext when `cleartext`, else no key (secrets are neither
/// written nor read).
///
/// # Errors
/// [`StoreFlowError::KeyFile`] or [`StoreFlowError::Key`].
pub fn protection(
    key_file: Option<&Path>,
    env_key: Option<&str>,
    cleartext: bool,
) -> Result<Protection, StoreFlowError> {
    if let Some(path) = key_file {
        let origin = format!("key file {}", path.display());
        let bytes = crate::input::read_file(path, &origin, crate::input::MAX_KEY_FILE_BYTES)?;
        return Ok(Protection::encrypted(key_ring(&origin, &bytes)?));
    }
    if let Some(text) = env_key.filter(|t| !t.trim().is_empty()) {
        let ring = KeyRing::parse(text).map_err(|source| StoreFlowError::Key {
            origin: STORE_KEY_VARIABLE.to_owned(),
            source,
        })?;
        return Ok(Protection::encrypted(ring));
    }
    Ok(if cleartext {
        Protection::Cleartext
    } else {
        Protection::NoKey
    })
}

/// The key ring in the bytes of a key file read from `origin` (`key file PATH`): UTF-8 text,
/// one key per line (see [`KeyRing::parse`]).
///
/// # Errors
/// [`StoreFlowError::Input`] when the bytes are not UTF-8 (naming the line and column);
/// [`StoreFlowError::Key`] when they hold no valid key ring.
pub fn key_ring(origin: &str, bytes: &[u8]) -> Result<KeyRing, StoreFlowError> {
    let text = crate::input::utf8(origin, bytes)?;
    KeyRing::parse(text).map_err(|source| StoreFlowError::Key {
        origin: origin.to_owned(),
        source,
    })
}

/// Opens the store at `url` (migrating its schema).
///
/// # Errors
/// [`StoreFlowError::Store`].
pub async fn open_store(url: &str, protection: Protection) -> Result<AnyStore, StoreFlowError> {
    Ok(code_store::open(url, protection).await?)
}

/// A device to make a server code for: its serial number, and its UDID when known.
pub type Target = code_store::ServerCodeTarget;

/// Parses a list of devices (the bytes of a `--serials` file): one per line, `SERIAL` or
/// `SERIAL UDID` (space, tab or comma separated); blank lines and `#` comments are skipped.
///
/// # Errors
/// [`StoreFlowError::SerialList`] naming the first bad line (not UTF-8, too many fields, an
/// invalid serial number or UDID).
pub fn parse_targets(file: &str, bytes: &[u8]) -> Result<Vec<Target>, StoreFlowError> {
    let mut targets = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = match core::str::from_utf8(line) {
            Ok(line) => line.trim(),
            Err(error) => {
                return Err(StoreFlowError::SerialList {
                    file: file.to_owned(),
                    line: index + 1,
                    reason: format!(
                        "not UTF-8 (invalid byte at column {})",
                        error.valid_up_to() + 1
                    ),
                });
            }
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        let error = |reason: String| StoreFlowError::SerialList {
            file: file.to_owned(),
            line: index + 1,
            reason,
        };
        let target = match fields.as_slice() {
            [serial] => Target::new(serial, None),
            [serial, udid] => Target::new(serial, Some(udid)),
            _ => return Err(error("expected SERIAL or SERIAL UDID".to_owned())),
        }
        .map_err(|e| error(e.to_string()))?;
        targets.push(target);
    }
    Ok(targets)
}

/// The escrow keys (PBKDF2 hashes) of `codes`, in order: the one place `alb` computes them.
///
/// Uses the batch engine of `bypass-code` on every core (interleaved chains per core; see
/// `bypass_code::kdf`), identical to one-by-one [`BypassCode::escrow_key`].
#[must_use]
pub fn escrow_keys(codes: &[BypassCode]) -> Vec<EscrowKey> {
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); codes.len()];
    match bypass_code::kdf::escrow_keys_parallel(codes, &mut keys) {
        Ok(()) => keys,
        // Unreachable: both slices have the same length by construction.
        Err(_) => codes.iter().map(BypassCode::escrow_key).collect(),
    }
}

/// Fresh codes from the OS CSPRNG.
///
/// # Errors
/// [`StoreFlowError::Random`].
pub fn fresh_codes(n: usize) -> Result<Vec<BypassCode>, StoreFlowError> {
    (0..n)
        .map(|_| BypassCode::generate().map_err(StoreFlowError::Random))
        .collect()
}

/// A server code committed to the store for one device.
#[derive(Debug)]
pub struct IssuedCode {
    /// The record it was stored under.
    pub udid: Udid,
    /// The device's serial number.
    pub serial: String,
    /// The code.
    pub code: BypassCode,
    /// Its escrow key.
    pub escrow_key: EscrowKey,
}

/// Commits `code` (with its `escrow_key`) as `target`'s server code: to the device with the
/// UDID given, else to the one enrolled device with that serial number, else to the serial
/// number's placeholder (the store's rule, in one transaction). When this returns `Ok` the code
/// is durable (SQLite: fsynced WAL; PostgreSQL: committed) and may be shown or its escrow key
/// sent to Apple; not before.
///
/// # Errors
/// Resolution and store failures (nothing may be shown then).
pub async fn commit_server_code(
    store: &impl CodeStore,
    target: &Target,
    code: BypassCode,
    escrow_key: EscrowKey,
) -> Result<IssuedCode, StoreFlowError> {
    let committed = store
        .commit_server_code(target, code.clone(), escrow_key.clone(), Timestamp::now())
        .await?;
    Ok(IssuedCode {
        udid: committed.udid,
        serial: target.serial.clone(),
        code,
        escrow_key,
    })
}

/// Imports one export line (`alb import`): the record goes through the store's rules, so an
/// import never loses what is already stored. Returns the store's outcome.
///
/// # Errors
/// [`StoreFlowError::Import`] for a malformed or redacted line; store failures.
pub async fn import_line(
    store: &impl CodeStore,
    line_number: usize,
    line: &str,
) -> Result<code_store::Outcome, StoreFlowError> {
    let import = |source| StoreFlowError::Import {
        line: line_number,
        source,
    };
    let record = code_store::export::RecordJson::from_line(line)
        .map_err(import)?
        .into_record()
        .map_err(import)?;
    let udid = record.udid.clone();
    Ok(store
        .apply(&udid, Change::Restore(Box::new(record)), Timestamp::now())
        .await?)
}

/// What one ingested message was and what the store did with it.
#[derive(Debug)]
pub struct Ingested {
    /// The message kind, e.g. `Authenticate`, `TokenUpdate`, `ActivationLockBypassCode`.
    pub message: String,
    /// The device, when the message names one.
    pub udid: Option<Udid>,
    /// What each change did (empty when the message carries nothing the store keeps).
    pub outcomes: Vec<code_store::Outcome>,
}

impl Ingested {
    /// Human-readable lines: what changed, what the rules kept, or that nothing applied.
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for outcome in &self.outcomes {
            for event in &outcome.events {
                lines.push(match event {
                    code_store::Event::Created => "new device".to_owned(),
                    code_store::Event::IdentityChanged { fields } => {
                        format!("identity updated: {}", fields.join(", "))
                    }
                    code_store::Event::Enrolled { at } => format!("enrolled at {at}"),
                    code_store::Event::DeviceCodeStored { replaced: true, .. } => {
                        "device code replaced by a different code".to_owned()
                    }
                    code_store::Event::DeviceCodeStored { .. } => "device code stored".to_owned(),
                    code_store::Event::UnlockTokenStored { replaced: true, .. } => {
                        "unlock token replaced".to_owned()
                    }
                    code_store::Event::UnlockTokenStored { .. } => "unlock token stored".to_owned(),
                    // A server code comes with a device's report only from its placeholder.
                    code_store::Event::ServerCodeStored { .. } => {
                        "server code made before enrolment attached".to_owned()
                    }
                    code_store::Event::PlaceholderMerged { .. } => continue,
                    other => other.to_string(),
                });
            }
            for ignored in &outcome.ignored {
                lines.push(
                    match ignored {
                        code_store::Ignored::EmptyDeviceCode => {
                            "no device code in the response: stored code kept"
                        }
                        code_store::Ignored::SameDeviceCode => "same device code: unchanged",
                        code_store::Ignored::EmptyUnlockToken => {
                            "no unlock token: stored token kept"
                        }
                        code_store::Ignored::SameUnlockToken => "same unlock token: unchanged",
                        code_store::Ignored::SerialTaken => {
                            "serial number refused: it belongs to another enrolled device"
                        }
                        _ => "nothing newer: unchanged",
                    }
                    .to_owned(),
                );
            }
        }
        if lines.is_empty() {
            lines.push("nothing to store".to_owned());
        }
        lines
    }
}

/// Why an ingested message was skipped. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Not a valid MDM property list.
    #[error("{0}")]
    Parse(#[from] mdm_protocol::ParseError),
    /// A message about a device that names no device.
    #[error("{} names no device (no UDID or EnrollmentID)", printable::Escaped(.0))]
    NoDevice(String),
    /// An MDM command, not something a device sends.
    #[error("a command, not a device message: nothing to ingest")]
    Command,
    /// A value the store refuses (bad UDID, serial number, oversized token...).
    #[error("{0}")]
    Value(StoreError),
    /// The store failed (nothing was lost; the message can be ingested again).
    #[error("store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for IngestError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidField { .. } => Self::Value(error),
            other => Self::Store(other),
        }
    }
}

impl From<StoreFlowError> for IngestError {
    fn from(error: StoreFlowError) -> Self {
        match error {
            StoreFlowError::Store(e) => e.into(),
            other => Self::Store(StoreError::Task(other.to_string())),
        }
    }
}

fn device(identity: &mdm_protocol::Identity, message: &str) -> Result<Udid, IngestError> {
    let id = identity
        .device_id()
        .ok_or_else(|| IngestError::NoDevice(message.to_owned()))?;
    checked_udid(id)
}

/// A UDID reported by a device; the `serial:` prefix is reserved for devices not enrolled yet.
fn checked_udid(id: &str) -> Result<Udid, IngestError> {
    let udid = Udid::new(id)?;
    if udid.is_placeholder() {
        return Err(IngestError::Value(StoreError::InvalidField {
            field: "UDID",
            reason: "the serial: prefix is reserved".to_owned(),
        }));
    }
    Ok(udid)
}

/// Applies one device message (property list, XML or binary) to the store:
/// `Authenticate` (identity, enrolment time `now`), `TokenUpdate` (unlock token),
/// `DeviceInformation` responses (serial number, product type, IMEI/MEID per SIM slot) and
/// `ActivationLockBypassCode` responses (the retention rule). Other messages change nothing.
///
/// # Errors
/// [`IngestError`]: the message is skipped; nothing stored is lost.
pub async fn ingest(
    store: &impl CodeStore,
    bytes: &[u8],
    now: Timestamp,
) -> Result<Ingested, IngestError> {
    use mdm_protocol::{CheckinMessage, MdmMessage, ResponsePayload};

    let message = MdmMessage::parse(bytes, &mdm_protocol::Limits::DEFAULT)?;
    let mut changes = Vec::new();
    let (kind, udid) = match &message {
        MdmMessage::Command(_) => return Err(IngestError::Command),
        MdmMessage::Checkin(checkin) => {
            let kind = checkin.message_type().to_owned();
            match checkin {
                CheckinMessage::Authenticate(a) => {
                    let udid = device(&a.identity, &kind)?;
                    changes.push(Change::Identity(DeviceIdentity {
                        serial_number: a.serial_number.clone(),
                        product_type: a.product_name.clone(),
                        imei: non_blank(a.imei.as_deref()),
                        imei2: None,
                        meid: non_blank(a.meid.as_deref()),
                    }));
                    changes.push(Change::Enrolled { at: now });
                    (kind, Some(udid))
                }
                CheckinMessage::TokenUpdate(t) => {
                    let udid = device(&t.identity, &kind)?;
                    // The unlock token comes on the device channel only.
                    if t.identity.user_id.is_none() {
                        let token = match &t.unlock_token {
                            Some(token) if !token.is_empty() => {
                                Some(code_store::UnlockToken::new(token.as_bytes().to_vec())?)
                            }
                            _ => None,
                        };
                        changes.push(Change::UnlockToken(token));
                    }
                    (kind, Some(udid))
                }
                _ => (
                    kind,
                    checkin
                        .identity()
                        .and_then(|i| i.device_id())
                        .and_then(|d| Udid::new(d).ok()),
                ),
            }
        }
        MdmMessage::Response(response) => match &response.payload {
            ResponsePayload::ActivationLockBypassCode { code } => {
                let kind = "ActivationLockBypassCode".to_owned();
                let udid = device(&response.identity, &kind)?;
                changes.push(Change::DeviceCode(code.clone()));
                (kind, Some(udid))
            }
            ResponsePayload::DeviceInformation(info) => {
                let kind = "DeviceInformation".to_owned();
                let udid = match info.udid.as_deref() {
                    Some(id) if response.identity.device_id().is_none() => checked_udid(id)?,
                    _ => device(&response.identity, &kind)?,
                };
                let cellular = info.cellular_identity();
                changes.push(Change::Identity(DeviceIdentity {
                    serial_number: non_blank(info.serial_number.as_deref()),
                    product_type: non_blank(info.product_type()),
                    imei: cellular.imei,
                    imei2: cellular.imei2,
                    meid: cellular.meid,
                }));
                (kind, Some(udid))
            }
            _ => (
                format!("{} response", response.status.as_str()),
                response
                    .identity
                    .device_id()
                    .and_then(|d| Udid::new(d).ok()),
            ),
        },
    };
    let mut outcomes = Vec::new();
    if let Some(udid) = &udid {
        // A reported serial number merges the device's placeholder, or is refused when another
        // enrolled device has it: the store's rule, inside the identity change.
        for change in changes {
            outcomes.push(store.apply(udid, change, now).await?);
        }
    }
    Ok(Ingested {
        message: kind,
        udid,
        outcomes,
    })
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_written_at_once_give_one_whole_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/store.key");
        let start = std::sync::Barrier::new(6);
        let results: Vec<_> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let written = write_new_key_file(&path);
                        // Whenever the file is there, it holds a whole key.
                        let text = std::fs::read_to_string(&path).unwrap();
                        KeyRing::parse(&text).unwrap();
                        written
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        for result in results {
            if let Err(StoreFlowError::KeyFile { source, .. }) = &result {
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists);
            } else {
                assert!(result.is_ok());
            }
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging file is left behind");
    }

    #[test]
    fn serial_lists() {
        let targets =
            parse_targets("f", b"# fleet\nC02A\n\nC02B, UDID-1\r\nC02C\tUDID-2\n").unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[1].udid.as_ref().unwrap().as_str(), "UDID-1");
        let err = parse_targets("f", b"C02A\nbad serial!\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:2:"), "{err}");
        assert!(parse_targets("f", b"A B C\n").is_err());
        let err = parse_targets("f", b"C02A\nC02\xffB\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "f:2: not UTF-8 (invalid byte at column 4)");
    }

    #[test]
    fn protection_sources() {
        assert!(matches!(
            protection(None, None, false).unwrap(),
            Protection::NoKey
        ));
        assert!(matches!(
            protection(None, Some(" "), true).unwrap(),
            Protection::Cleartext
        ));
        let key = code_store::StoreKey::generate().unwrap();
        assert!(matches!(
            protection(None, Some(&key.to_text()), false).unwrap(),
            Protection::Encrypted(_)
        ));
        let err = protection(None, Some("alb-store-key-v1:k:zz"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains(STORE_KEY_VARIABLE), "{err}");
        assert!(protection(Some(Path::new("/nonexistent/key")), None, false).is_err());
    }

    fn response(udid: &str, code: &str) -> Vec<u8> {
        format!(
            "<plist version=\"1.0\"><dict><key>UDID</key><string>{udid}</string>\
             <key>CommandUUID</key><string>c</string><key>Status</key><string>Acknowledged</string>\
             <key>ActivationLockBypassCode</key><string>{code}</string></dict></plist>"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn ingest_refuses_reserved_udids_and_commands() {
        let store = code_store::MemoryStore::new(Protection::Cleartext);
        let code = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
        let err = ingest(&store, &response("serial:C02X", code), Timestamp::now()).await;
        assert!(matches!(err, Err(IngestError::Value(_))), "{err:?}");
        let ok = ingest(&store, &response("UDID-OK", code), Timestamp::now())
            .await
            .unwrap();
        assert!(ok.outcomes[0].changed());
        let command = mdm_protocol::Command::new(mdm_protocol::CommandRequest::SecurityInfo)
            .to_xml()
            .unwrap();
        assert!(matches!(
            ingest(&store, &command, Timestamp::now()).await,
            Err(IngestError::Command)
        ));
        assert!(matches!(
            ingest(&store, b"not a plist", Timestamp::now()).await,
            Err(IngestError::Parse(_))
        ));
    }

    #[tokio::test]
    async fn unlock_attempts_feed_the_failed_query() {
        let store = code_store::MemoryStore::new(Protection::Cleartext);
        let udid = Udid::new("U-F").unwrap();
        let (device, server) = (code_store::CodeKind::Device, code_store::CodeKind::Server);
        let attempt = |code, outcome| Change::UnlockAttempt { code, outcome };
        let rejected = attempt(device, code_store::AttemptOutcome::Rejected);
        store
            .apply(&udid, rejected, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(store.failed_unlocks().await.unwrap().len(), 1);
        let unlocked = attempt(server, code_store::AttemptOutcome::Unlocked);
        store
            .apply(&udid, unlocked, Timestamp::now())
            .await
            .unwrap();
        assert!(store.failed_unlocks().await.unwrap().is_empty());
    }
}
