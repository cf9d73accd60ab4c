//! `alb unlock`: remove Activation Lock through Apple's escrow-key unlock service.

use core::{fmt, time::Duration};
use std::{io, path::PathBuf, process::ExitCode};

use alb::{
    Error, input,
    unlock::{
        ClientSettings, DeviceOptions, UnlockError, UnlockReport, find_record, load_identity,
        parse_codes, plan, unlock_and_record,
    },
};
use clap::{Args, Subcommand};
use escrow_client::EscrowClient;
use zeroize::{Zeroize, Zeroizing};

use super::store::StoreArgs;

/// Subcommands that remove Activation Lock.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Remove Activation Lock: send the device's codes to Apple in order (device code first),
    /// moving on only when Apple answers 404. With a DEVICE the store knows, its identity and
    /// codes come from the store and every attempt goes to its history; options given win.
    /// Exit 0 when unlocked, 1 when not, 2 on error.
    Unlock(UnlockArgs),
}

/// `alb unlock` options.
#[derive(Args)]
pub struct UnlockArgs {
    /// The device's UDID or serial number, to find its record in the store (`--store`).
    pub device: Option<String>,
    /// The organisation name sent to Apple for its audit (`orgName`).
    #[arg(long, value_name = "NAME")]
    pub org_name: String,
    /// Who asks: e-mail, LDAP id or name (`guid`).
    #[arg(long, value_name = "WHO")]
    pub guid: String,
    /// The MDM server's APNs identity: a PEM file (certificate and key) or PKCS#12 (.p12/.pfx).
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// The environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR")]
    pub identity_password_env: Option<String>,
    /// The unlock endpoint (https:// only; default: Apple's).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Trust only the CA certificates in this PEM file instead of the public roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// A bypass code to try, in order (repeat: device code first, then server code).
    #[arg(long = "code", value_name = "CODE")]
    pub codes: Vec<String>,
    /// Read codes from standard input, one per line, after any `--code` (keeps them out of the
    /// process list).
    #[arg(long)]
    pub code_stdin: bool,
    /// The device's serial number.
    #[arg(long, value_name = "S", requires = "product_type")]
    pub serial: Option<String>,
    /// The device's product type, like `iPad4,1`.
    #[arg(long, value_name = "T", requires = "serial")]
    pub product_type: Option<String>,
    /// The device's first IMEI (cellular devices).
    #[arg(long, value_name = "I", requires = "serial")]
    pub imei: Option<String>,
    /// The device's second IMEI (dual-SIM devices).
    #[arg(long, value_name = "I", requires = "serial")]
    pub imei2: Option<String>,
    /// The device's MEID (CDMA devices).
    #[arg(long, value_name = "M", requires = "serial")]
    pub meid: Option<String>,
    /// Time limit for one exchange with Apple, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub attempt_timeout: f64,
    /// Time limit for the whole unlock (every code, retry and wait), in seconds.
    #[arg(long, value_name = "SECS", default_value = "120")]
    pub deadline: f64,
    /// Tries per code when Apple's service fails (5xx, time-outs, connection failures).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_tries: u32,
    /// Print one JSON object: `unlocked`, `code`, `verdict`, `attempts`.
    #[arg(long)]
    pub json: bool,
}

impl fmt::Debug for UnlockArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnlockArgs")
            .field("device", &self.device)
            .field("identity", &self.identity)
            .field("endpoint", &self.endpoint)
            .field("codes", &format_args!("[{} redacted]", self.codes.len()))
            .field("serial", &self.serial)
            .field("product_type", &self.product_type)
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

/// Runs `alb unlock`.
pub fn run(command: Command, store: &StoreArgs) -> Result<ExitCode, Error> {
    match command {
        Command::Unlock(mut args) => {
            let result = unlock(&args, store);
            for code in &mut args.codes {
                code.zeroize();
            }
            result
        }
    }
}

fn seconds(option: &'static str, value: f64) -> Result<Duration, UnlockError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or(UnlockError::Duration { option })
}

fn unlock(args: &UnlockArgs, store_args: &StoreArgs) -> Result<ExitCode, Error> {
    let settings = ClientSettings {
        endpoint: args.endpoint.clone(),
        ca_file: args.ca_file.clone(),
        attempt_timeout: seconds("--attempt-timeout", args.attempt_timeout)?,
        deadline: seconds("--deadline", args.deadline)?,
        max_tries: args.max_tries,
    };
    // Everything that can be checked before the network is checked first.
    let config = settings.config()?;
    let identity = load_identity(&args.identity, args.identity_password_env.as_deref())?;
    let options = DeviceOptions {
        serial: args.serial.clone(),
        product_type: args.product_type.clone(),
        imei: args.imei.clone(),
        imei2: args.imei2.clone(),
        meid: args.meid.clone(),
        org_name: args.org_name.clone(),
        guid: args.guid.clone(),
    };
    let mut texts: Vec<Zeroizing<String>> = args
        .codes
        .iter()
        .map(|code| Zeroizing::new(code.clone()))
        .collect();
    if args.code_stdin {
        texts.extend(read_codes(io::stdin().lock())?);
    }
    let given = parse_codes(&texts.iter().map(|t| t.as_str()).collect::<Vec<_>>())?;
    if args.device.is_none() {
        // Options only: everything is checked before the network (and no store is opened).
        plan(None, &options, given.clone())?;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(UnlockError::Runtime)?;
    runtime.block_on(async {
        // The store is opened only when a device is named: look it up, take what it knows.
        let store = match &args.device {
            Some(_) => Some(store_args.connect().await?),
            None => None,
        };
        let record = match (&store, &args.device) {
            (Some(store), Some(device)) => find_record(store, device).await?,
            _ => None,
        };
        let (request, codes) = match plan(record.as_ref(), &options, given) {
            Err(UnlockError::NoDevice | UnlockError::NoCodes) if record.is_none() => {
                return Err(UnlockError::UnknownDevice {
                    device: args.device.clone().unwrap_or_default(),
                }
                .into());
            }
            other => other?,
        };
        let client = EscrowClient::new(config, &identity).map_err(UnlockError::from)?;
        let history = store
            .as_ref()
            .zip(record.as_ref().map(|record| &record.udid));
        let (outcome, recorded) = unlock_and_record(&client, &request, &codes, history).await;

        let report = UnlockReport::new(&outcome);
        report.write(&mut io::stdout().lock(), args.json)?;
        // The outcome is printed first: the operator must learn it even if the store failed.
        recorded?;
        if report.unlocked() {
            Ok(ExitCode::SUCCESS)
        } else {
            alb::diagnostic(report.verdict());
            Ok(ExitCode::from(1))
        }
    })
}

/// The most codes `--code-stdin` reads.
const MAX_STDIN_CODES: usize = 16;
/// The longest line `--code-stdin` reads (a code is 29 characters).
const MAX_STDIN_LINE: usize = 128;

/// Reads codes one per line (blank lines skipped), bounded in count and length; stops at the
/// first line too long or not UTF-8 (a code list with a bad line is not guessed at).
fn read_codes(reader: impl io::Read) -> Result<Vec<Zeroizing<String>>, Error> {
    let mut codes = Vec::new();
    for line in input::Lines::new("--code-stdin: standard input", reader, MAX_STDIN_LINE) {
        let line = line?;
        let code = line.text.trim();
        if code.is_empty() {
            continue;
        }
        if codes.len() == MAX_STDIN_CODES {
            return Err(UnlockError::TooManyCodes {
                limit: MAX_STDIN_CODES,
            }
            .into());
        }
        codes.push(Zeroizing::new(code.to_owned()));
    }
    Ok(codes)
}
