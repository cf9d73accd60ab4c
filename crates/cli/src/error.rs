//! The error every `alb` command reports on stderr.

use std::io;

/// Why an `alb` command failed. The `Display` form is the one-line message the command prints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bypass code given on the command line is not valid.
    #[error("invalid bypass code: {source}")]
    Code {
        /// What is wrong and where.
        source: bypass_code::CodeError,
    },
    /// An escrow key given on the command line is not valid.
    #[error("invalid escrow key: {source}")]
    EscrowKey {
        /// What is wrong and where.
        source: bypass_code::EscrowKeyError,
    },
    /// Raw bytes given as hex are not 32 hexadecimal digits.
    #[error("invalid raw bytes: {reason}")]
    RawHex {
        /// What is wrong and where.
        reason: String,
    },
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(bypass_code::getrandom::Error),
    /// An MDM property list or command (`alb parse`, `alb command`).
    #[error(transparent)]
    Protocol(#[from] crate::ProtocolError),
    /// `alb unlock` could not try to unlock (device, codes, requester).
    #[error("{0}")]
    Unlock(#[from] alb_workflow::unlock::UnlockError),
    /// The APNs identity could not be loaded.
    #[error("{0}")]
    Identity(#[from] crate::IdentityLoadError),
    /// The client configuration is not usable (endpoint, CA file, settings).
    #[error("{0}")]
    EscrowConfig(#[from] escrow_client::ConfigError),
    /// The proxy of the environment (`HTTPS_PROXY`, `ALL_PROXY`) cannot be used.
    #[error("{0}")]
    Proxy(#[from] alb_proxy::ProxyError),
    /// A time limit given is not a positive number of seconds.
    #[error("{option}: expected a positive number of seconds")]
    Duration {
        /// The option.
        option: &'static str,
    },
    /// More codes came on standard input than are ever tried.
    #[error("--code-stdin: more than {limit} codes")]
    TooManyCodes {
        /// The most codes read.
        limit: usize,
    },
    /// The store could not be opened.
    #[error("{0}")]
    Setup(#[from] alb_workflow::store_setup::SetupError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] code_store::StoreError),
    /// A server code could not be issued.
    #[error("{0}")]
    Issue(#[from] alb_workflow::server_code::IssueError),
    /// An import could not go on (the store failed).
    #[error("import: {0}")]
    Import(#[from] alb_workflow::backup::ImportLineError),
    /// A device list (`--serials`) is not valid.
    #[error("{0}")]
    DeviceList(#[from] alb_workflow::device_list::DeviceListError),
    /// An input (file or standard input) could not be read, or is too large.
    #[error("{0}")]
    Input(#[from] alb_workflow::input::InputError),
    /// Apple's device enrollment service: a key, a certificate or the server token.
    #[error("{0}")]
    DepKey(#[from] dep_client::KeyError),
    /// The server token file cannot be decrypted or read.
    #[error("server token: {0}")]
    DepToken(#[from] dep_client::TokenError),
    /// The enrollment service's client configuration.
    #[error("{0}")]
    DepConfig(#[from] dep_client::ConfigError),
    /// Locking could not go on.
    #[error("{0}")]
    Lock(#[from] alb_workflow::lock::LockError),
    /// No device was named.
    #[error("no device: name devices by serial number or give --serials FILE")]
    NoDevices,
    /// The service's API key file.
    #[error("--api-key-file: {0}")]
    ApiKeys(#[from] alb_serve::KeyFileError),
    /// The service's TLS files.
    #[error("{0}")]
    Tls(#[from] alb_serve::TlsError),
    /// NanoMDM's settings.
    #[error("NanoMDM: {0}")]
    NanoMdm(#[from] alb_nanomdm::NanoMdmConfigError),
    /// Another setting of the service.
    #[error("{0}")]
    Serve(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// What to do about the error on the command line, when the library's message cannot say
    /// (it does not know the command line's options).
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        use alb_workflow::{server_code::IssueError, store_setup::SetupError, unlock::UnlockError};
        use code_store::StoreError;
        let store = match self {
            Self::Store(e)
            | Self::Setup(SetupError::Store(e))
            | Self::Issue(IssueError::Store(e))
            | Self::Unlock(UnlockError::Store(e)) => e,
            _ => return None,
        };
        match store {
            StoreError::KeyMissing { .. } | StoreError::KeyRequired { .. } => Some(
                "give the store key with --key-file FILE or ALB_STORE_KEY (or --cleartext for a \
                 throw-away store)",
            ),
            StoreError::ModeMismatch {
                requested: code_store::StoreMode::Cleartext,
                ..
            } => Some("drop --cleartext and give the key with --key-file FILE or ALB_STORE_KEY"),
            _ => None,
        }
    }
}
