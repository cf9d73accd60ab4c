//! `alb dep keypair | token` and `alb lock`: the server-created code's journey to Apple's
//! device enrollment service.

use core::time::Duration;
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use alb_cli::{Error, write_json_line};
use alb_workflow::{
    device_list, input,
    lock::{self, DeviceLock, LockResult},
};
use clap::{Args, Subcommand};
use code_store::ServerCodeTarget;
use dep_client::{DepClient, DepConfig, ServerToken, TokenKeyPair, TokenPrivateKey};
use printable::Escaped;
use serde::Serialize;

use super::store::{StoreArgs, runtime};

/// The largest key or certificate file read.
const MAX_PEM_BYTES: usize = 64 * 1024;
/// How long before its expiry a server token is announced.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// Subcommands of Apple's device enrollment service.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apple's device enrollment service: the key pair and the server token.
    #[command(subcommand)]
    Dep(DepCommand),
    /// Lock devices to the organisation: per device, its server code is committed to the store,
    /// then its escrow key sent to Apple (`POST /device/activationlock`), and Apple's answer
    /// recorded. A device with a pending code gets the same code again; one whose code Apple
    /// accepted is not locked again. Exit 0 when every device is locked, 1 when some are not,
    /// 2 on errors.
    Lock(LockArgs),
}

/// `alb dep` subcommands.
#[derive(Debug, Subcommand)]
pub enum DepCommand {
    /// Make the RSA key (mode 0600) and the self-signed certificate to upload to Apple Business
    /// or School Manager, which then gives the server token.
    Keypair {
        /// Where to write the certificate (PEM; never overwritten).
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Where to write the private key (PKCS#8 PEM, mode 0600; never overwritten).
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// The certificate's common name.
        #[arg(long, value_name = "NAME", default_value = "alb MDM server")]
        common_name: String,
    },
    /// Decrypt a server token file (`..._smime.p7m`, or PEM/DER) with the key pair and keep the
    /// token in the store, encrypted; prints the consumer key and the expiry, never a secret.
    Token {
        /// The server token file.
        file: PathBuf,
        /// The private key (`alb dep keypair --key-out`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The certificate the token was made for (`alb dep keypair --cert-out`).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `alb lock` options.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Devices by serial number (a UDID may follow after a comma: `SERIAL,UDID`).
    pub devices: Vec<String>,
    /// A file of devices (`SERIAL [UDID]` per line).
    #[arg(long, value_name = "FILE")]
    pub serials: Option<PathBuf>,
    /// The message a locked device shows.
    #[arg(long, value_name = "TEXT")]
    pub lost_message: Option<String>,
    /// Make a new code even for a device whose code Apple accepted (that one is kept and still
    /// tried at unlock).
    #[arg(long)]
    pub new_code: bool,
    /// The service (https:// only; default: Apple's).
    #[arg(long, value_name = "URL", env = "ALB_DEP_URL")]
    pub dep_url: Option<String>,
    /// Trust only the CA certificates in this PEM file for the service.
    #[arg(long, value_name = "FILE", env = "ALB_DEP_CA_FILE")]
    pub dep_ca_file: Option<PathBuf>,
    /// One JSON object per device.
    #[arg(long)]
    pub json: bool,
}

/// Runs `alb dep ...` or `alb lock`.
pub fn run(command: Command, store: &StoreArgs) -> Result<ExitCode, Error> {
    match command {
        Command::Dep(DepCommand::Keypair {
            cert_out,
            key_out,
            common_name,
        }) => keypair(&cert_out, &key_out, &common_name),
        Command::Dep(DepCommand::Token {
            file,
            key,
            cert,
            json,
        }) => token(store, &file, &key, &cert, json),
        Command::Lock(args) => lock(store, &args),
    }
}

/// Writes `contents` to a new file (never overwriting) with `mode`.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

fn keypair(cert_out: &Path, key_out: &Path, common_name: &str) -> Result<ExitCode, Error> {
    // Five years: the portal accepts it, and renewing a token needs no new certificate.
    let pair = TokenKeyPair::generate(common_name, Duration::from_secs(5 * 365 * 86_400))?;
    let key = pair.private_key_pem()?;
    write_new(key_out, key.as_bytes(), 0o600)?;
    write_new(cert_out, pair.certificate_pem().as_bytes(), 0o644)?;
    alb_cli::diagnostic(format_args!(
        "wrote the private key to {} (mode 0600: keep it, back it up) and the certificate to {} \
         (upload it to Apple Business/School Manager to get the server token)",
        key_out.display(),
        cert_out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// What `alb dep token --json` prints (no secret).
#[derive(Serialize)]
struct TokenJson<'a> {
    consumer_key: &'a str,
    expires_at: String,
    expires_soon: bool,
}

fn token(
    store: &StoreArgs,
    file: &Path,
    key_file: &Path,
    cert_file: &Path,
    json: bool,
) -> Result<ExitCode, Error> {
    let read = |path: &Path, what: &str, limit| {
        input::read_file(path, &format!("{what} {}", path.display()), limit)
    };
    let token_bytes = read(file, "server token", 256 * 1024)?;
    let key = TokenPrivateKey::from_pem_or_der(&read(key_file, "key", MAX_PEM_BYTES)?)?;
    let cert = dep_client::token::certificate_der(&read(cert_file, "certificate", MAX_PEM_BYTES)?)?;
    let token = ServerToken::decrypt(&token_bytes, cert.as_ref(), &key)?;
    let runtime = runtime()?;
    let opened = store.open(&runtime)?;
    runtime.block_on(lock::keep_token(&opened, &token))?;
    let expires_at = token
        .expires_at()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let soon = token.expires_within(EXPIRY_WARNING);
    let mut out = io::stdout().lock();
    if json {
        write_json_line(
            &mut out,
            &TokenJson {
                consumer_key: token.consumer_key(),
                expires_at: expires_at.clone(),
                expires_soon: soon,
            },
        )?;
    } else {
        writeln!(
            out,
            "server token kept in the store (encrypted): consumer key {}, expires {expires_at}",
            Escaped(token.consumer_key())
        )?;
    }
    if soon {
        alb_cli::diagnostic(format_args!(
            "warning: the server token expires {expires_at}: download a new one from the portal \
             soon"
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// One device's lock as `alb lock --json` prints it.
#[derive(Serialize)]
struct LockJson<'a> {
    serial: &'a str,
    udid: &'a str,
    /// `locked`, `already-locked`, `refused` or `failed`.
    outcome: &'static str,
    /// Whether the code sent was made now (else a pending one was sent again).
    new_code: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn targets(args: &LockArgs) -> Result<Vec<ServerCodeTarget>, Error> {
    let mut targets = Vec::new();
    for device in &args.devices {
        let (serial, udid) = match device.split_once(',') {
            Some((serial, udid)) => (serial, Some(udid)),
            None => (device.as_str(), None),
        };
        targets.push(ServerCodeTarget::new(serial, udid)?);
    }
    if let Some(path) = &args.serials {
        let name = path.display().to_string();
        let bytes = input::read_file(
            path,
            &format!("serial list {name}"),
            input::MAX_SERIAL_LIST_BYTES,
        )?;
        targets.extend(device_list::parse_device_list(&name, &bytes)?);
    }
    if args.new_code {
        targets = targets
            .into_iter()
            .map(ServerCodeTarget::beside_accepted)
            .collect();
    }
    Ok(targets)
}

fn config(args: &LockArgs) -> Result<DepConfig, Error> {
    dep_config(args.dep_url.as_deref(), args.dep_ca_file.as_deref())
}

/// The service's configuration: dep-client's defaults, the environment's proxy, the URL and CA
/// given (`alb lock`, `alb serve`).
pub(super) fn dep_config(url: Option<&str>, ca_file: Option<&Path>) -> Result<DepConfig, Error> {
    let mut config = DepConfig {
        proxy: alb_proxy::ProxyConfig::from_env()?,
        ..DepConfig::default()
    };
    if let Some(url) = url {
        config.base_url = dep_client::BaseUrl::parse(url)?;
    }
    if let Some(ca) = ca_file {
        config.roots = dep_client::TrustRoots::from_pem_file(ca)?;
    }
    config.validate()?;
    Ok(config)
}

fn lock(store: &StoreArgs, args: &LockArgs) -> Result<ExitCode, Error> {
    let targets = targets(args)?;
    if targets.is_empty() {
        return Err(Error::NoDevices);
    }
    let config = config(args)?;
    let runtime = runtime()?;
    let opened = store.open(&runtime)?;
    let token = runtime.block_on(lock::stored_token(&opened))?;
    let client = DepClient::new(config, token)?;
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(targets.len()).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if targets.len() == 1 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut out = io::stdout().lock();
    let mut not_locked = 0_u64;
    let mut write_error = None;
    let report = |device: DeviceLock| {
        if !device.result.is_locked() {
            not_locked += 1;
        }
        let (status, error) = match &device.result {
            LockResult::Refused(status) => (Some(status.to_string()), None),
            LockResult::Failed(error) => (None, Some(error.to_string())),
            _ => (None, None),
        };
        let written = progress.suspend(|| {
            if args.json {
                write_json_line(
                    &mut out,
                    &LockJson {
                        serial: &device.serial,
                        udid: device.udid.as_str(),
                        outcome: device.result.name(),
                        new_code: device.new_code,
                        status,
                        error,
                    },
                )
            } else {
                let detail = status
                    .or(error)
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}  {}  {}{}",
                    Escaped(&device.serial),
                    device.udid,
                    device.result.name(),
                    Escaped(&detail)
                )
            }
        });
        if let Err(e) = written {
            write_error.get_or_insert(e);
        }
        progress.inc(1);
    };
    runtime.block_on(lock::lock_devices(
        &opened,
        &client,
        &targets,
        args.lost_message.as_deref(),
        report,
    ))?;
    progress.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e.into());
    }
    Ok(if not_locked == 0 {
        ExitCode::SUCCESS
    } else {
        alb_cli::diagnostic(format_args!("{not_locked} device(s) not locked"));
        ExitCode::from(1)
    })
}
