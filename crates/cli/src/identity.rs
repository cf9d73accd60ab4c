//! The MDM server's APNs identity as an operator gives it: a file, PEM or PKCS#12, whose
//! password comes from an environment variable (never from the command line, where other users
//! could see it).

use std::path::{Path, PathBuf};

use escrow_client::{Identity, IdentityError};
use zeroize::Zeroizing;

/// Why the identity could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityLoadError {
    /// The file cannot be read or parsed, or its key does not match its certificate.
    #[error("identity {path}: {source}")]
    Identity {
        /// The file given.
        path: PathBuf,
        /// Why.
        source: IdentityError,
    },
    /// A PKCS#12 identity needs a password, read from an environment variable.
    #[error(
        "identity {path} is PKCS#12: name the environment variable holding its password with --identity-password-env"
    )]
    PasswordNeeded {
        /// The file given.
        path: PathBuf,
    },
    /// The environment variable named for the password is not set (or not UTF-8).
    #[error("environment variable {var} (the PKCS#12 password) is not set or not UTF-8")]
    PasswordVariable {
        /// Its name.
        var: String,
    },
}

/// Loads the identity in `path`: PEM (certificate and key), or PKCS#12 whose password is in the
/// environment variable `password_env`.
///
/// # Errors
/// [`IdentityLoadError`].
pub fn load_identity(
    path: &Path,
    password_env: Option<&str>,
) -> Result<Identity, IdentityLoadError> {
    let password = match password_env {
        Some(var) => Some(Zeroizing::new(std::env::var(var).map_err(|_| {
            IdentityLoadError::PasswordVariable {
                var: var.to_owned(),
            }
        })?)),
        None => None,
    };
    Identity::from_file(path, password.as_deref().map(String::as_str)).map_err(
        |source| match source {
            IdentityError::PasswordRequired => IdentityLoadError::PasswordNeeded {
                path: path.to_owned(),
            },
            source => IdentityLoadError::Identity {
                path: path.to_owned(),
                source,
            },
        },
    )
}
