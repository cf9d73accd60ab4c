//! `alb serve`: the service beside the MDM server (`alb-serve`), with its options.

use core::{net::SocketAddr, time::Duration};
use std::{io::Write as _, path::PathBuf, process::ExitCode};

use alb_cli::{Error, load_identity};
use alb_serve::{ApiKeys, AskPolicy, Limits, LockSetup, Service, ServiceConfig, UnlockSetup};
use alb_workflow::unlock::Requester;
use clap::{Args, ValueEnum};
use escrow_client::{EscrowClient, EscrowConfig, TrustRoots};

use super::store::StoreArgs;

/// How `POST /v1/devices/{id}/unlock` reaches Apple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UnlockVia {
    /// Directly, with the push certificate (`--identity`).
    Apple,
    /// Through NanoMDM's `/v1/escrowkeyunlock` (it holds the push certificate).
    Nanomdm,
}

/// `alb serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (loopback unless told otherwise; port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9910",
        env = "ALB_LISTEN"
    )]
    pub listen: SocketAddr,
    /// The API keys, one per line, each optionally followed by `read-only` or `reveal`.
    #[arg(long, value_name = "FILE", env = "ALB_API_KEY_FILE")]
    pub api_key_file: PathBuf,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key", env = "ALB_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert", env = "ALB_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// NanoMDM's base URL, to queue commands (`http://` or `https://`).
    #[arg(
        long,
        value_name = "URL",
        requires = "nanomdm_api_key_file",
        env = "ALB_NANOMDM_URL"
    )]
    pub nanomdm_url: Option<String>,
    /// The file holding NanoMDM's API key (its `-api` value).
    #[arg(long, value_name = "FILE", env = "ALB_NANOMDM_API_KEY_FILE")]
    pub nanomdm_api_key_file: Option<PathBuf>,
    /// Trust only the CA certificates in this PEM file for an `https://` NanoMDM.
    #[arg(long, value_name = "FILE", env = "ALB_NANOMDM_CA_FILE")]
    pub nanomdm_ca_file: Option<PathBuf>,
    /// The push topic of the MDM server's APNs certificate, for `--unlock-via nanomdm` (NanoMDM
    /// picks the certificate by it): `com.apple.mgmt.External.<uuid>`.
    #[arg(long, value_name = "TOPIC", env = "ALB_NANOMDM_TOPIC")]
    pub nanomdm_topic: Option<String>,
    /// How unlocks reach Apple [default: apple with `--identity`, else nanomdm with
    /// `--nanomdm-url`, else unlocks are refused].
    #[arg(long, value_enum, env = "ALB_UNLOCK_VIA")]
    pub unlock_via: Option<UnlockVia>,
    /// The organisation name sent to Apple with every unlock (`orgName`).
    #[arg(long, value_name = "NAME", env = "ALB_ORG_NAME")]
    pub org_name: Option<String>,
    /// Who asks, when the caller does not say (`guid`).
    #[arg(long, value_name = "WHO", env = "ALB_GUID")]
    pub guid: Option<String>,
    /// The MDM server's APNs identity, to unlock directly: PEM or PKCS#12.
    #[arg(long, value_name = "FILE", env = "ALB_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// The environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR", env = "ALB_IDENTITY_PASSWORD_ENV")]
    pub identity_password_env: Option<String>,
    /// The unlock endpoint (https:// only; default: Apple's).
    #[arg(long, value_name = "URL", env = "ALB_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Trust only the CA certificates in this PEM file for the unlock endpoint.
    #[arg(long, value_name = "FILE", env = "ALB_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// The base URL of Apple's device enrollment service, for `POST .../lock` (default: Apple's).
    #[arg(long, value_name = "URL", env = "ALB_DEP_URL")]
    pub dep_url: Option<String>,
    /// Trust only the CA certificates in this PEM file for the device enrollment service.
    #[arg(long, value_name = "FILE", env = "ALB_DEP_CA_FILE")]
    pub dep_ca_file: Option<PathBuf>,
    /// The message a lost device shows, when a lock request gives none.
    #[arg(long, value_name = "TEXT")]
    pub lost_message: Option<String>,
    /// How often due asks are looked for, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub ask_interval: f64,
    /// The wait after a failed ask, in seconds (doubled for each further try, at most an hour).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub ask_backoff: f64,
    /// The most tries of one ask.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub ask_max_tries: u32,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body)]
    pub max_body: usize,
    /// The most requests handled at once.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_concurrent)]
    pub max_concurrent: usize,
    /// The longest a client may take to send its headers, or its body, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub request_timeout: f64,
}

fn seconds(option: &'static str, value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or(Error::Duration { option })
}

fn nanomdm(args: &ServeArgs) -> Result<Option<alb_nanomdm::NanoMdmClient>, Error> {
    let (Some(url), Some(key_file)) = (&args.nanomdm_url, &args.nanomdm_api_key_file) else {
        return Ok(None);
    };
    let mut config =
        alb_nanomdm::NanoMdmConfig::new(url.clone(), alb_nanomdm::ApiKey::from_file(key_file)?);
    config.proxy = alb_proxy::ProxyConfig::from_env()?;
    if let Some(ca) = &args.nanomdm_ca_file {
        config.ca_file_pem = Some(std::fs::read(ca).map_err(|source| {
            Error::Serve(format!(
                "--nanomdm-ca-file {}: {source}",
                printable::Escaped(&ca.display().to_string())
            ))
        })?);
    }
    Ok(Some(alb_nanomdm::NanoMdmClient::new(config)?))
}

fn unlock_setup(args: &ServeArgs) -> Result<Option<UnlockSetup>, Error> {
    let via = match args.unlock_via {
        Some(via) => via,
        None if args.identity.is_some() => UnlockVia::Apple,
        None if args.nanomdm_url.is_some() => UnlockVia::Nanomdm,
        None => return Ok(None),
    };
    let requester = match (&args.org_name, &args.guid) {
        (Some(org_name), Some(guid)) => Requester {
            org_name: org_name.clone(),
            guid: guid.clone(),
        },
        _ => {
            return Err(Error::Serve(
                "unlocks need --org-name and --guid (Apple's audit fields)".to_owned(),
            ));
        }
    };
    let mut config = EscrowConfig {
        proxy: alb_proxy::ProxyConfig::from_env()?,
        ..EscrowConfig::default()
    };
    if let Some(endpoint) = &args.endpoint {
        config.endpoint = endpoint.parse()?;
    }
    if let Some(ca_file) = &args.ca_file {
        config.roots = TrustRoots::from_pem_file(ca_file)?;
    }
    config.validate()?;
    let client = match via {
        UnlockVia::Apple => {
            let Some(identity) = &args.identity else {
                return Err(Error::Serve(
                    "--unlock-via apple needs --identity (the push certificate)".to_owned(),
                ));
            };
            let identity = load_identity(identity, args.identity_password_env.as_deref())?;
            EscrowClient::new(config, &identity)?
        }
        UnlockVia::Nanomdm => relay_client(args, config)?,
    };
    Ok(Some(UnlockSetup { client, requester }))
}

/// The unlock client through NanoMDM's `/v1/escrowkeyunlock`, with NanoMDM's URL and key.
fn relay_client(args: &ServeArgs, config: EscrowConfig) -> Result<EscrowClient, Error> {
    let (Some(url), Some(key_file), Some(topic)) = (
        &args.nanomdm_url,
        &args.nanomdm_api_key_file,
        &args.nanomdm_topic,
    ) else {
        return Err(Error::Serve(
            "--unlock-via nanomdm needs --nanomdm-url, --nanomdm-api-key-file and --nanomdm-topic"
                .to_owned(),
        ));
    };
    let key = alb_nanomdm::ApiKey::from_file(key_file)?;
    let relay = escrow_client::NanoMdmRelay::new(
        url.clone(),
        zeroize::Zeroizing::new(key.expose().to_owned()),
        topic.clone(),
    );
    Ok(EscrowClient::through_nanomdm(config, relay)?)
}

/// Runs `alb serve` until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs, store: &StoreArgs) -> Result<ExitCode, Error> {
    let api_keys = ApiKeys::from_file(&args.api_key_file)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(alb_serve::tls_config(cert, key)?),
        _ => None,
    };
    let request_timeout = seconds("--request-timeout", args.request_timeout)?;
    let dep = super::dep::dep_config(args.dep_url.as_deref(), args.dep_ca_file.as_deref())?;
    let mut config = ServiceConfig {
        api_keys,
        nanomdm: nanomdm(args)?,
        unlock: unlock_setup(args)?,
        lock: None,
        ask: AskPolicy {
            interval: seconds("--ask-interval", args.ask_interval)?,
            backoff: seconds("--ask-backoff", args.ask_backoff)?,
            max_tries: args.ask_max_tries.max(1),
            ..AskPolicy::default()
        },
        limits: Limits {
            max_body: args.max_body,
            max_concurrent: args.max_concurrent.max(1),
            header_timeout: request_timeout,
            body_timeout: request_timeout,
            ..Limits::default()
        },
    };
    let runtime = super::store::runtime()?;
    runtime.block_on(async {
        let store = store.connect().await?;
        // Locks need the server token `alb dep token` keeps in the store.
        match alb_workflow::lock::stored_token(&store).await {
            Ok(token) => {
                config.lock = Some(LockSetup {
                    client: dep_client::DepClient::new(dep, token)?,
                    lost_message: args.lost_message.clone(),
                });
            }
            Err(alb_workflow::lock::LockError::NoToken) => {
                alb_cli::diagnostic("no server token in the store: POST .../lock is refused (alb dep token FILE.p7m)");
            }
            Err(error) => return Err(error.into()),
        }
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {scheme}://{}", listener.local_addr()?)?;
        out.flush()?;
        drop(out);
        Service::new(store, config)
            .run(listener, tls, shutdown_signal())
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM (a service manager stopping it) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
