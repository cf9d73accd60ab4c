//! The client identity: the MDM server's APNs push certificate and its private key.

use alloc::sync::Arc;
use core::fmt;
use std::path::Path;

use rustls::{
    SignatureScheme, client::ResolvesClientCert, crypto::ring::sign::any_supported_type,
    sign::CertifiedKey,
};
#[cfg(feature = "pkcs12")]
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer,
    pem::{self, PemObject},
};
use zeroize::{Zeroize as _, Zeroizing};

/// The largest identity file [`Identity::from_file`] reads.
pub const MAX_IDENTITY_FILE_BYTES: usize = 1024 * 1024;

/// Why a client identity could not be loaded. Never carries key material or the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The file could not be read.
    #[error("cannot read identity file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_IDENTITY_FILE_BYTES`].
    #[error("the identity file is larger than 1 MiB")]
    TooLarge,
    /// The file is PKCS#12 (not PEM) and no password was given.
    #[error("the identity is PKCS#12 and needs a password")]
    PasswordRequired,
    /// The input is empty.
    #[error("the identity is empty (expected PEM certificate and key, or PKCS#12)")]
    Empty,
    /// PEM text could not be parsed.
    #[error("malformed PEM: {reason}")]
    Pem {
        /// What the PEM parser reported.
        reason: String,
    },
    /// No certificate was found.
    #[error("no CERTIFICATE block found")]
    NoCertificate,
    /// No private key was found.
    #[error("no PRIVATE KEY block found (PKCS#8, PKCS#1 RSA or SEC1 EC)")]
    NoPrivateKey,
    /// The private key is of a kind or algorithm that cannot sign TLS handshakes.
    #[error("unsupported private key: {reason}")]
    UnsupportedKey {
        /// What rustls reported.
        reason: String,
    },
    /// More than one private key was found: which one is meant is not guessed.
    #[error("{count} private keys found; expected exactly one")]
    SeveralKeys {
        /// How many.
        count: usize,
    },
    /// The private key does not belong to the (first) certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The first certificate could not be parsed.
    #[error("invalid certificate: {reason}")]
    InvalidCertificate {
        /// What rustls reported.
        reason: String,
    },
    /// The PKCS#12 password is wrong (the integrity check failed).
    #[error("wrong PKCS#12 password (integrity check failed)")]
    WrongPassword,
    /// The PKCS#12 file could not be decoded.
    #[error("malformed PKCS#12: {reason}")]
    Pkcs12 {
        /// What the decoder reported.
        reason: String,
    },
    /// The PKCS#12 file holds no private key with its certificate.
    #[error("the PKCS#12 file holds no private key with a certificate")]
    Pkcs12NoKey,
    /// A PKCS#12 file, and this build was made without the `pkcs12` feature.
    #[error("PKCS#12 identities need escrow-client's `pkcs12` feature (use a PEM file instead)")]
    Pkcs12Unsupported,
}

/// The TLS client identity: a certificate chain (leaf first) and the private key that matches
/// the leaf, checked when loaded.
///
/// Every copy of the key's DER bytes made here is zeroized when dropped; the parsed signing key
/// lives in `ring`. `Debug` shows the number of certificates only.
#[derive(Clone)]
pub struct Identity {
    certified: Arc<CertifiedKey>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.certified.cert.len())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl Identity {
    /// Loads an identity from PEM text holding the certificate chain and the private key (in any
    /// order, other blocks ignored).
    ///
    /// # Errors
    /// Empty input, malformed PEM, no certificate, no or several keys, unsupported key, or a key
    /// that does not match the certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, IdentityError> {
        Self::from_pem_parts(pem, pem)
    }

    /// Loads an identity from a PEM certificate chain and a separate PEM private key.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem).
    pub fn from_pem_parts(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, IdentityError> {
        if cert_pem.iter().all(u8::is_ascii_whitespace)
            || key_pem.iter().all(u8::is_ascii_whitespace)
        {
            return Err(IdentityError::Empty);
        }
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error)?;
        if chain.is_empty() {
            return Err(IdentityError::NoCertificate);
        }
        let mut count = 0;
        for key in PrivateKeyDer::pem_slice_iter(key_pem) {
            let mut key = key.map_err(pem_error)?;
            key.zeroize();
            count += 1;
        }
        if count > 1 {
            return Err(IdentityError::SeveralKeys { count });
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => Zeroizing::new(key),
            Err(pem::Error::NoItemsFound) => return Err(IdentityError::NoPrivateKey),
            Err(other) => return Err(pem_error(other)),
        };
        Self::from_der(chain, &key)
    }

    /// Loads an identity from PKCS#12 (`.p12`/`.pfx`) bytes and their password.
    ///
    /// Needs the `pkcs12` feature (on by default).
    ///
    /// # Errors
    /// Empty input, wrong password, malformed file, no key with a certificate, unsupported key,
    /// or a key that does not match its certificate.
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, IdentityError> {
        if der.is_empty() {
            return Err(IdentityError::Empty);
        }
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|error| match error {
            p12_keystore::error::Error::MacError(_) => IdentityError::WrongPassword,
            other => IdentityError::Pkcs12 {
                reason: other.to_string(),
            },
        })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or(IdentityError::Pkcs12NoKey)?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|cert| CertificateDer::from(cert.as_der().to_vec()))
            .collect();
        if certs.is_empty() {
            return Err(IdentityError::Pkcs12NoKey);
        }
        let key = Zeroizing::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            chain.key().as_der().to_vec(),
        )));
        Self::from_der(certs, &key)
    }

    /// Reads a file of at most [`MAX_IDENTITY_FILE_BYTES`]: PEM when it starts like PEM (or
    /// is blank), PKCS#12 otherwise, which needs `password`.
    ///
    /// # Errors
    /// The file cannot be read or is too large, a PKCS#12 file without password
    /// ([`IdentityError::PasswordRequired`]), or as [`from_pem`](Self::from_pem) /
    /// [`from_pkcs12`](Self::from_pkcs12).
    pub fn from_file(path: &Path, password: Option<&str>) -> Result<Self, IdentityError> {
        let io_error = |source| IdentityError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        // The whole bound at once: a growing `Vec` would free copies of the key unzeroized.
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_IDENTITY_FILE_BYTES + 1));
        let limit = u64::try_from(MAX_IDENTITY_FILE_BYTES).unwrap_or(u64::MAX);
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes)
            .map_err(io_error)?;
        if bytes.len() > MAX_IDENTITY_FILE_BYTES {
            return Err(IdentityError::TooLarge);
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_none() || first == Some(&b'-') {
            return Self::from_pem(&bytes);
        }
        match password {
            #[cfg(feature = "pkcs12")]
            Some(password) => Self::from_pkcs12(&bytes, password),
            #[cfg(not(feature = "pkcs12"))]
            Some(_) => Err(IdentityError::Pkcs12Unsupported),
            None => Err(IdentityError::PasswordRequired),
        }
    }

    /// Builds an identity from a DER chain (leaf first) and key, checking that they match.
    ///
    /// # Errors
    /// An empty chain, an unsupported key or a key that does not match the leaf certificate.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: &PrivateKeyDer<'_>,
    ) -> Result<Self, IdentityError> {
        if chain.is_empty() {
            return Err(IdentityError::NoCertificate);
        }
        let signing_key =
            any_supported_type(key).map_err(|error| IdentityError::UnsupportedKey {
                reason: error.to_string(),
            })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(IdentityError::KeyMismatch);
            }
            Err(rustls::Error::InconsistentKeys(_)) => {
                return Err(IdentityError::UnsupportedKey {
                    reason: "cannot tell whether the key matches the certificate".to_owned(),
                });
            }
            Err(other) => {
                return Err(IdentityError::InvalidCertificate {
                    reason: other.to_string(),
                });
            }
        }
        Ok(Self {
            certified: Arc::new(certified),
        })
    }

    /// The certificate chain, leaf first.
    #[must_use]
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// The resolver handed to rustls: always this identity.
    pub(crate) fn resolver(&self) -> Arc<dyn ResolvesClientCert> {
        Arc::new(AlwaysThisIdentity(Arc::clone(&self.certified)))
    }
}

fn pem_error(error: pem::Error) -> IdentityError {
    IdentityError::Pem {
        reason: error.to_string(),
    }
}

struct AlwaysThisIdentity(Arc<CertifiedKey>);

impl fmt::Debug for AlwaysThisIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AlwaysThisIdentity([redacted])")
    }
}

impl ResolvesClientCert for AlwaysThisIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}
