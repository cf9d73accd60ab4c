//! `alb keygen | show | history | missing | failed | export` (`import` and `ingest` in their own
//! modules), the global store options, and `alb generate --serial/--serials` (called from `codes.rs`).

use std::{
    fs,
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use alb_cli::{Error, write_json_line};
use alb_workflow::store_setup::{self, KeySource, SetupError};
use clap::{Args, Subcommand};
use code_store::{
    AnyStore, CodeStore, DeviceRecord, Event, HistoryEntry, StoreKey, Timestamp, export::RecordJson,
};
use printable::Escaped;
use serde::Serialize;
use zeroize::Zeroizing;

/// The environment variable holding the store key (the text `alb keygen` prints).
pub const STORE_KEY_VARIABLE: &str = "ALB_STORE_KEY";

/// Where the store is and how its secrets are protected (global options).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store: `sqlite:PATH` (or a bare path), `postgres://USER@HOST/DB` (add
    /// `?sslmode=verify-full[&sslrootcert=CA.pem]` for verified TLS), or `memory:`.
    /// Default: `$XDG_DATA_HOME/alb/store.sqlite3`, else `~/.local/share/alb/store.sqlite3`.
    #[arg(long, global = true, value_name = "URL", env = "ALB_STORE")]
    pub store: Option<String>,
    /// File holding the store key (`alb keygen` output; more lines = older keys, for reading).
    /// Without it, the key is read from the `ALB_STORE_KEY` environment variable.
    #[arg(long, global = true, value_name = "FILE", env = "ALB_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Store secrets unencrypted when no key is given (throw-away stores only).
    #[arg(long, global = true)]
    pub cleartext: bool,
}

impl StoreArgs {
    pub(super) fn open(&self, runtime: &tokio::runtime::Runtime) -> Result<AnyStore, Error> {
        runtime.block_on(self.connect())
    }

    /// Opens the store these options name: `--store` (else `ALB_STORE`, else the default
    /// file), the key from `--key-file` (else `ALB_STORE_KEY`), `--cleartext`.
    pub async fn connect(&self) -> Result<AnyStore, Error> {
        if let Some(path) = &self.key_file
            && let Ok(metadata) = fs::metadata(path)
        {
            use std::os::unix::fs::PermissionsExt;
            if metadata.permissions().mode() & 0o077 != 0 {
                alb_cli::diagnostic(format_args!(
                    "warning: key file {} can be read by other users (chmod 600 it)",
                    path.display()
                ));
            }
        }
        let env_key = std::env::var(STORE_KEY_VARIABLE).ok().map(Zeroizing::new);
        // The default store gets a default key file, made on first use (like an SSH host key),
        // so that `alb generate --serial S` works on a new machine and still encrypts at rest.
        let mut key_file = self.key_file.clone();
        if key_file.is_none() && env_key.is_none() && !self.cleartext && self.store.is_none() {
            let path = store_setup::default_key_path();
            if !path.exists() {
                match store_setup::write_new_key_file(&path) {
                    Ok(()) => alb_cli::diagnostic(format_args!(
                        "created a new store key in {} (mode 0600): back it up, without it the \
                         stored codes cannot be read",
                        path.display()
                    )),
                    // Another `alb` made it a moment ago: use that one.
                    Err(SetupError::KeyFile { source, .. })
                        if source.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e.into()),
                }
            }
            key_file = Some(path);
        }
        let key = match (&key_file, &env_key) {
            (Some(path), _) => KeySource::File(path),
            (None, Some(text)) if !text.trim().is_empty() => KeySource::Text {
                text,
                origin: STORE_KEY_VARIABLE,
            },
            _ if self.cleartext => KeySource::Cleartext,
            _ => KeySource::None,
        };
        let protection = store_setup::protection(key)?;
        let url = self
            .store
            .clone()
            .unwrap_or_else(store_setup::default_store_url);
        Ok(store_setup::open_store(&url, protection).await?)
    }
}

/// Subcommands about the store of codes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a new random store key, in the form `--key-file` and `ALB_STORE_KEY` read.
    Keygen {
        /// Write the key to this new file (mode 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a device's current record (by UDID or serial number).
    Show {
        /// The device's UDID or serial number.
        device: String,
        /// One JSON object per matching record.
        #[arg(long)]
        json: bool,
        /// Print the codes, escrow key and unlock token instead of `<redacted>`.
        #[arg(long)]
        reveal: bool,
    },
    /// Print a device's history: every change and unlock attempt (secrets never shown).
    History {
        /// The device's UDID or serial number.
        device: String,
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
    },
    /// List devices without a device code, with the end of their 15-day window.
    Missing {
        /// One JSON object per device.
        #[arg(long)]
        json: bool,
    },
    /// List devices whose last unlock attempt did not unlock them.
    Failed {
        /// One JSON object per device.
        #[arg(long)]
        json: bool,
    },
    /// Print every record, one JSON object per line (backups, moving between backends).
    Export {
        /// Accepted for symmetry: the export is always JSON lines.
        #[arg(long)]
        json: bool,
        /// Include the secrets (needed for `alb import`).
        #[arg(long)]
        reveal: bool,
    },
    /// Read records printed by `alb export --reveal` (FILE or `-` for stdin); each goes through
    /// the retention rule, so nothing already stored is lost.
    Import {
        /// The export file; `-` or nothing for standard input.
        file: Option<PathBuf>,
        /// One JSON object per refused line, then one with the counts.
        #[arg(long)]
        json: bool,
    },
    /// Apply device messages (property lists: `Authenticate`, `TokenUpdate`,
    /// `DeviceInformation` and `ActivationLockBypassCode` responses) to the store, printing what
    /// changed. Malformed inputs are reported and skipped (exit status 1).
    Ingest {
        /// Property-list files, one message each; `-` or nothing for standard input.
        files: Vec<PathBuf>,
        /// One JSON object per file: `file`, `device`, `message`, `outcome` (`changed`,
        /// `unchanged`, `refused`, `skipped`), `events`, `ignored`, `error`.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Runs one of the store subcommands.
pub fn run(command: Command, args: &StoreArgs) -> Result<ExitCode, Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Command::Keygen { output } = command {
        match output {
            Some(path) => store_setup::write_new_key_file(&path)?,
            None => {
                let key = StoreKey::generate().map_err(|source| SetupError::Key {
                    origin: "keygen".to_owned(),
                    source,
                })?;
                writeln!(out, "{}", key.to_text().as_str())?;
            }
        }
        alb_cli::diagnostic(format_args!(
            "keep this key secret and backed up: without it the stored codes cannot be read. \
             Use it with --key-file FILE (mode 0600) or {}.",
            STORE_KEY_VARIABLE
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = runtime()?;
    let store = args.open(&runtime)?;
    let status = runtime.block_on(async {
        match command {
            Command::Keygen { .. } => Ok(ExitCode::SUCCESS),
            Command::Show {
                device,
                json,
                reveal,
            } => show(&store, &mut out, &device, json, reveal).await,
            Command::History { device, json } => history(&store, &mut out, &device, json).await,
            Command::Missing { json } => missing(&store, &mut out, json).await,
            Command::Failed { json } => {
                let failed = store.failed_unlocks().await?;
                for record in &failed {
                    write_record(&mut out, record, json, false)?;
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Export { json: _, reveal } => {
                // Every readable record is exported; each unreadable one is named (a backup
                // must not stop at one damaged row).
                let mut unreadable = 0_u64;
                for result in store.records_each().await? {
                    match result {
                        Ok(record) => writeln!(
                            out,
                            "{}",
                            RecordJson::from_record(&record, reveal).to_line().as_str()
                        )?,
                        Err(e) => {
                            eprintln!("alb: export: skipped an unreadable record: {e}");
                            unreadable += 1;
                        }
                    }
                }
                Ok(if unreadable == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            Command::Import { file, json } => {
                super::import::import(&store, &mut out, file, json).await
            }
            Command::Ingest { files, json } => {
                super::ingest::ingest(&store, &mut out, files, json).await
            }
        }
    })?;
    out.flush()?;
    Ok(status)
}

async fn find(store: &AnyStore, device: &str) -> Result<Vec<DeviceRecord>, Error> {
    let found = store.find(device).await?;
    if found.is_empty() {
        alb_cli::diagnostic(format_args!(
            "no device with UDID or serial number {device:?}"
        ));
    }
    Ok(found)
}

async fn show(
    store: &AnyStore,
    out: &mut impl Write,
    device: &str,
    json: bool,
    reveal: bool,
) -> Result<ExitCode, Error> {
    let found = find(store, device).await?;
    for (i, record) in found.iter().enumerate() {
        if i > 0 && !json {
            writeln!(out)?;
        }
        write_record(out, record, json, reveal)?;
    }
    Ok(if found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_record(
    out: &mut impl Write,
    record: &DeviceRecord,
    json: bool,
    reveal: bool,
) -> Result<(), Error> {
    let view = RecordJson::from_record(record, reveal);
    if json {
        writeln!(out, "{}", view.to_line().as_str())?;
        return Ok(());
    }
    let line = |out: &mut dyn Write, name: &str, value: Option<&str>| -> io::Result<()> {
        match value {
            Some(value) => writeln!(out, "{name:<15} {}", Escaped(value)),
            None => Ok(()),
        }
    };
    line(out, "udid:", Some(&view.udid))?;
    line(out, "serial_number:", view.serial_number.as_deref())?;
    line(out, "product_type:", view.product_type.as_deref())?;
    line(out, "imei:", view.imei.as_deref())?;
    line(out, "imei2:", view.imei2.as_deref())?;
    line(out, "meid:", view.meid.as_deref())?;
    line(out, "enrolled_at:", view.enrolled_at.as_deref())?;
    let timed = |value: &Option<Zeroizing<String>>, at: &Option<String>, what: &str| {
        value.as_ref().map(|v| {
            Zeroizing::new(format!(
                "{}  ({what} {})",
                v.as_str(),
                at.as_deref().unwrap_or("?")
            ))
        })
    };
    match timed(&view.device_code, &view.device_code_received_at, "received") {
        Some(text) => line(out, "device_code:", Some(&text))?,
        None => {
            let deadline = match record.device_code_deadline() {
                Some(d) => format!("(none yet; retrieve before {d})"),
                None => "(none yet)".to_owned(),
            };
            line(out, "device_code:", Some(&deadline))?;
        }
    }
    let server = timed(&view.server_code, &view.server_code_created_at, "created");
    line(out, "server_code:", server.as_deref().map(String::as_str))?;
    line(
        out,
        "escrow_key:",
        view.escrow_key.as_deref().map(String::as_str),
    )?;
    let token = timed(
        &view.unlock_token,
        &view.unlock_token_received_at,
        "received",
    );
    line(out, "unlock_token:", token.as_deref().map(String::as_str))?;
    if let Some(a) = &view.last_unlock {
        line(
            out,
            "last_unlock:",
            Some(&format!("{} code {} at {}", a.code, a.outcome, a.at)),
        )?;
    }
    line(out, "updated_at:", Some(&view.updated_at))?;
    Ok(())
}

/// One history event as `alb history --json` prints it (never a secret).
#[derive(Serialize)]
struct HistoryJson<'a> {
    udid: &'a str,
    seq: i64,
    at: String,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn describe(event: &Event) -> Option<String> {
    let replaced = |r: bool| if r { "replaced" } else { "first" }.to_owned();
    match event {
        Event::Created => None,
        Event::IdentityChanged { fields } => Some(fields.join(",")),
        Event::Enrolled { at } => Some(at.to_string()),
        Event::DeviceCodeStored { replaced: r, .. }
        | Event::ServerCodeStored { replaced: r, .. }
        | Event::UnlockTokenStored { replaced: r, .. } => Some(replaced(*r)),
        Event::UnlockAttempted { code, outcome } => {
            Some(format!("{} code {}", code.as_str(), outcome.as_str()))
        }
        _ => None,
    }
}

async fn history(
    store: &AnyStore,
    out: &mut impl Write,
    device: &str,
    json: bool,
) -> Result<ExitCode, Error> {
    let found = find(store, device).await?;
    for record in &found {
        let entries: Vec<HistoryEntry> = store.history(&record.udid).await?;
        for entry in entries {
            let detail = describe(&entry.event);
            if json {
                let line = HistoryJson {
                    udid: record.udid.as_str(),
                    seq: entry.seq,
                    at: entry.at.to_string(),
                    event: entry.event.name(),
                    detail,
                };
                write_json_line(out, &line)?;
            } else {
                writeln!(
                    out,
                    "{}  {}  {:<14} {}",
                    record.udid,
                    entry.at,
                    entry.event.name(),
                    Escaped(&detail.unwrap_or_default())
                )?;
            }
        }
    }
    Ok(if found.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One device without a device code, as `alb missing --json` prints it.
#[derive(Serialize)]
struct MissingJson<'a> {
    udid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    serial_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrolled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    days_left: Option<i64>,
    /// When the service last asked the device for its codes, and what it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    asked: Option<String>,
}

async fn missing(store: &AnyStore, out: &mut impl Write, json: bool) -> Result<ExitCode, Error> {
    for m in store.missing(Timestamp::now()).await? {
        let serial = m.record.identity.serial_number.as_deref();
        if json {
            let line = MissingJson {
                udid: m.record.udid.as_str(),
                serial_number: serial,
                enrolled_at: m.record.enrolled_at.map(|t| t.to_string()),
                deadline: m.deadline.map(|t| t.to_string()),
                days_left: m.days_left,
                asked: m.record.commands.ask.as_ref().map(ToString::to_string),
            };
            write_json_line(out, &line)?;
        } else {
            let when = match (m.deadline, m.days_left) {
                (Some(d), Some(days)) if days >= 0 => format!("before {d} ({days} days left)"),
                (Some(d), Some(_)) => format!("window closed {d}"),
                _ => "enrolment time unknown".to_owned(),
            };
            let asked = m
                .record
                .commands
                .ask
                .as_ref()
                .map_or_else(|| "never asked".to_owned(), ToString::to_string);
            writeln!(
                out,
                "{}  {}  {when}  {}",
                m.record.udid,
                Escaped(serial.unwrap_or("-")),
                // An answer's status is the device's text.
                Escaped(&asked)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
