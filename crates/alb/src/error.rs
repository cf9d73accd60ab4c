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
    /// `alb unlock` could not try to unlock (identity, options, configuration).
    #[error("{0}")]
    Unlock(#[from] crate::unlock::UnlockError),
    /// A store command failed (`alb generate --serial`, `show`, `ingest`...).
    #[error("{0}")]
    Store(#[from] crate::store_flow::StoreFlowError),
    /// An input (file or standard input) could not be read, or is too large.
    #[error("{0}")]
    Input(#[from] crate::input::InputError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// What to do about the error on the command line, when the library's message cannot say
    /// (it does not know the command line's options).
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        use code_store::StoreError;
        let store = match self {
            Self::Store(crate::store_flow::StoreFlowError::Store(e))
            | Self::Unlock(crate::unlock::UnlockError::Store(e)) => e,
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
