//! `alb unlock`: remove Activation Lock through Apple's escrow-key unlock service.

use core::{fmt, time::Duration};
use std::{io, path::PathBuf, process::ExitCode};

use alb_cli::{Error, UnlockReport, load_identity};
use alb_workflow::{
    input,
    unlock::{self, Requester, parse_codes, plan, plan_for},
};
use clap::{Args, Subcommand};
use code_store::{AnyStore, DeviceIdentity};
use escrow_client::{EscrowClient, EscrowConfig, TrustRoots};
use zeroize::{Zeroize, Zeroizing};

use super::store::StoreArgs;

/// Subcommands that remove Activation Lock.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Remove Activation Lock: send the device's codes to Apple in order (device code first),
    /// moving on whenever one does not unlock. With a DEVICE the store knows, its identity and
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
    #[arg(long, value_name = "NAME", env = "ALB_ORG_NAME")]
    pub org_name: String,
    /// Who asks: e-mail, LDAP id or name (`guid`).
    #[arg(long, value_name = "WHO", env = "ALB_GUID")]
    pub guid: String,
    /// The MDM server's APNs identity: a PEM file (certificate and key) or PKCS#12 (.p12/.pfx).
    #[arg(long, value_name = "FILE", env = "ALB_IDENTITY")]
    pub identity: PathBuf,
    /// The environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR", env = "ALB_IDENTITY_PASSWORD_ENV")]
    pub identity_password_env: Option<String>,
    /// The unlock endpoint (https:// only; default: Apple's).
    #[arg(long, value_name = "URL", env = "ALB_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Trust only the CA certificates in this PEM file instead of the public roots.
    #[arg(long, value_name = "FILE", env = "ALB_CA_FILE")]
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
    /// Time limit for one exchange with Apple, in seconds [default: escrow-client's, 30].
    #[arg(long, value_name = "SECS", env = "ALB_ATTEMPT_TIMEOUT")]
    pub attempt_timeout: Option<f64>,
    /// Time limit for the whole unlock (every code, retry and wait), in seconds [default:
    /// escrow-client's, 120].
    #[arg(long, value_name = "SECS", env = "ALB_DEADLINE")]
    pub deadline: Option<f64>,
    /// Tries per code when Apple's service fails (5xx, time-outs, connection failures)
    /// [default: escrow-client's, 4].
    #[arg(long, value_name = "N", env = "ALB_MAX_TRIES", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_tries: Option<u32>,
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

fn seconds(option: &'static str, value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or(Error::Duration { option })
}

/// The client configuration: escrow-client's defaults, with what the options change; an
/// `http://` endpoint is refused here, before anything else.
fn config(args: &UnlockArgs) -> Result<EscrowConfig, Error> {
    let mut config = EscrowConfig {
        proxy: alb_proxy::ProxyConfig::from_env()?,
        ..EscrowConfig::default()
    };
    if let Some(value) = args.attempt_timeout {
        config.attempt_timeout = seconds("--attempt-timeout", value)?;
    }
    if let Some(value) = args.deadline {
        config.deadline = seconds("--deadline", value)?;
    }
    if let Some(tries) = args.max_tries {
        config.retry.max_tries = tries;
    }
    if let Some(endpoint) = &args.endpoint {
        config.endpoint = endpoint.parse()?;
    }
    if let Some(ca_file) = &args.ca_file {
        config.roots = TrustRoots::from_pem_file(ca_file)?;
    }
    config.validate()?;
    Ok(config)
}

fn unlock(args: &UnlockArgs, store_args: &StoreArgs) -> Result<ExitCode, Error> {
    // Everything that can be checked before the network is checked first.
    let config = config(args)?;
    let identity = load_identity(&args.identity, args.identity_password_env.as_deref())?;
    let overrides = DeviceIdentity {
        serial_number: args.serial.clone(),
        product_type: args.product_type.clone(),
        imei: args.imei.clone(),
        imei2: args.imei2.clone(),
        meid: args.meid.clone(),
    };
    let requester = Requester {
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

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The store is opened only when a device is named: its identity and codes, and its
        // history for every attempt.
        let (store, planned) = match &args.device {
            Some(device) => {
                let store = store_args.connect().await?;
                let planned = plan_for(&store, device, &overrides, &requester, given).await?;
                (Some(store), planned)
            }
            None => (None, plan(None, &overrides, &requester, given)?),
        };
        let client = EscrowClient::new(config, &identity)?;
        let unlocked = unlock::unlock::<AnyStore>(&client, &planned, store.as_ref()).await;

        let report = UnlockReport::new(&unlocked.outcome);
        report.write(&mut io::stdout().lock(), args.json)?;
        // The outcome is printed first: the operator must learn it even if the store failed.
        unlocked.recorded?;
        if report.unlocked() {
            Ok(ExitCode::SUCCESS)
        } else {
            alb_cli::diagnostic(report.verdict());
            Ok(ExitCode::from(1))
        }
    })
}

/// The most codes `--code-stdin` reads.
const MAX_STDIN_CODES: usize = 16;
/// The longest line `--code-stdin` reads (a code is 31 characters with its dashes).
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
            return Err(Error::TooManyCodes {
                limit: MAX_STDIN_CODES,
            });
        }
        codes.push(Zeroizing::new(code.to_owned()));
    }
    Ok(codes)
}
