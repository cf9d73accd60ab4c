//! `alb unlock`: remove Activation Lock through Apple's escrow-key unlock service.

use core::{fmt, time::Duration};
use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use alb::{
    Error,
    unlock::{
        ClientSettings, DeviceOptions, UnlockError, UnlockReport, load_identity, parse_codes, plan,
        unlock_device,
    },
};
use clap::{Args, Subcommand};
use escrow_client::EscrowClient;
use zeroize::Zeroize;

/// Subcommands that remove Activation Lock.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Remove Activation Lock: send the device's codes to Apple in order (device code first),
    /// moving on only when Apple answers 404. Exit 0 when unlocked, 1 when not, 2 on error.
    Unlock(UnlockArgs),
}

/// `alb unlock` options.
#[derive(Args)]
pub struct UnlockArgs {
    /// The device's UDID or serial number, to find its record in the store.
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
pub fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Unlock(mut args) => {
            let result = unlock(&args);
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

fn unlock(args: &UnlockArgs) -> Result<ExitCode, Error> {
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
    let given = parse_codes(&args.codes)?;
    let (request, codes) = plan(None, &options, given)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(UnlockError::Runtime)?;
    let outcome = runtime.block_on(async {
        let client = EscrowClient::new(config, &identity)?;
        Ok::<_, UnlockError>(unlock_device(&client, &request, &codes).await)
    })?;

    let report = UnlockReport::new(&outcome);
    report.write(&mut io::stdout().lock(), args.json)?;
    if report.unlocked() {
        Ok(ExitCode::SUCCESS)
    } else {
        let _ = writeln!(io::stderr(), "alb: {}", report.verdict());
        Ok(ExitCode::from(1))
    }
}
