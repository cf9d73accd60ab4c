//! The MDM server's token key pair: the RSA key that decrypts server tokens, and the
//! self-signed certificate an administrator uploads to Apple Business/School Manager.

use core::{fmt, time::Duration};

use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rcgen::{CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber};
use rsa::{PrivateKey, pkcs1::DecodeRsaPrivateKey as _, traits::PublicKeyParts as _};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, pem::PemObject as _};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The RSA modulus size of a generated key (what Apple's portal and the peers use).
pub const TOKEN_KEY_BITS: usize = 2048;
/// The largest PEM or DER key or certificate file read.
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;
/// The validity a generated certificate gets unless told otherwise (two years).
pub const DEFAULT_CERTIFICATE_VALIDITY: Duration = Duration::from_secs(2 * 365 * 24 * 60 * 60);

/// Why a token key or certificate cannot be read or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file is larger than [`MAX_KEY_FILE_BYTES`].
    #[error("the key or certificate file has {len} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not an RSA private key in PKCS#8 or PKCS#1, PEM or DER.
    #[error("not an RSA private key (PKCS#8 or PKCS#1, PEM or DER): {reason}")]
    NotRsaPrivateKey {
        /// What the decoder reported.
        reason: String,
    },
    /// The key is too small to trust (less than 2048 bits).
    #[error("the RSA key has {bits} bits; at least 2048 are required")]
    KeyTooSmall {
        /// Its size.
        bits: usize,
    },
    /// The certificate PEM holds no certificate.
    #[error("no certificate in the PEM text: {reason}")]
    NotCertificate {
        /// What the decoder reported.
        reason: String,
    },
    /// Generating the key failed (the operating system's random source).
    #[error("cannot generate the RSA key: {reason}")]
    Generate {
        /// What failed.
        reason: String,
    },
    /// Making the certificate failed.
    #[error("cannot make the certificate: {reason}")]
    Certificate {
        /// What failed.
        reason: String,
    },
    /// The common name is empty or has control characters.
    #[error("the certificate's common name must be 1 to 64 printable characters")]
    InvalidCommonName,
}

/// The RSA private key that decrypts server tokens. Wiped when dropped; `Debug` shows only
/// its size.
#[derive(Clone)]
pub struct TokenPrivateKey(PrivateKey);

impl fmt::Debug for TokenPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenPrivateKey(RSA-{}, [redacted])", self.bits())
    }
}

impl TokenPrivateKey {
    /// Reads a key from PEM (`PRIVATE KEY` = PKCS#8, `RSA PRIVATE KEY` = PKCS#1) or DER
    /// (either form).
    ///
    /// # Errors
    /// [`KeyError::TooLarge`], [`KeyError::NotRsaPrivateKey`] (neither form, not RSA, or
    /// encrypted), [`KeyError::KeyTooSmall`].
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self, KeyError> {
        if input.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                len: input.len(),
                limit: MAX_KEY_FILE_BYTES,
            });
        }
        let key = if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            let text = core::str::from_utf8(input).map_err(|_| KeyError::NotRsaPrivateKey {
                reason: "the PEM text is not UTF-8".to_owned(),
            })?;
            if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
                PrivateKey::from_pkcs1_pem(text).map_err(not_rsa)?
            } else if text.contains("-----BEGIN PRIVATE KEY-----") {
                PrivateKey::from_pkcs8_pem(text).map_err(not_rsa)?
            } else {
                return Err(KeyError::NotRsaPrivateKey {
                    reason: "no `PRIVATE KEY` or `RSA PRIVATE KEY` PEM block".to_owned(),
                });
            }
        } else {
            match PrivateKey::from_pkcs8_der(input) {
                Ok(key) => key,
                Err(pkcs8) => PrivateKey::from_pkcs1_der(input).map_err(|pkcs1| {
                    KeyError::NotRsaPrivateKey {
                        reason: format!("as PKCS#8: {pkcs8}; as PKCS#1: {pkcs1}"),
                    }
                })?,
            }
        };
        Self::from_rsa(key)
    }

    fn from_rsa(key: PrivateKey) -> Result<Self, KeyError> {
        let bits = key.size() * 8;
        if bits < TOKEN_KEY_BITS {
            return Err(KeyError::KeyTooSmall { bits });
        }
        Ok(Self(key))
    }

    /// Generates a new RSA-2048 key from the operating system's random source.
    ///
    /// # Errors
    /// [`KeyError::Generate`] if the random source fails.
    pub fn generate() -> Result<Self, KeyError> {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let key =
            PrivateKey::new(&mut rng, TOKEN_KEY_BITS).map_err(|error| KeyError::Generate {
                reason: error.to_string(),
            })?;
        Ok(Self(key))
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), in wiped memory.
    ///
    /// # Errors
    /// [`KeyError::Generate`] if encoding fails (it does not for a valid key).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generate {
                reason: error.to_string(),
            })
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.0.size() * 8
    }

    pub(super) const fn rsa(&self) -> &PrivateKey {
        &self.0
    }
}

fn not_rsa(error: impl fmt::Display) -> KeyError {
    KeyError::NotRsaPrivateKey {
        reason: error.to_string(),
    }
}

/// Reads the first certificate of a PEM text, or DER as it is.
///
/// # Errors
/// [`KeyError::TooLarge`] or [`KeyError::NotCertificate`].
pub fn certificate_der(input: &[u8]) -> Result<CertificateDer<'static>, KeyError> {
    if input.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyError::TooLarge {
            len: input.len(),
            limit: MAX_KEY_FILE_BYTES,
        });
    }
    if input.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateDer::from_pem_slice(input).map_err(|error| KeyError::NotCertificate {
            reason: error.to_string(),
        })
    } else {
        Ok(CertificateDer::from(input.to_vec()))
    }
}

/// A token key and its self-signed certificate: what an MDM server makes once, uploads the
/// certificate of to the portal, and keeps the key of to decrypt every server token.
///
/// The certificate is RSA-2048 with SHA-256, key usage digital signature and key
/// encipherment, not a CA, a random 127-bit serial, valid from an hour ago for the validity
/// asked.
#[derive(Clone)]
pub struct TokenKeyPair {
    key: TokenPrivateKey,
    certificate_pem: String,
    certificate_der: CertificateDer<'static>,
}

impl fmt::Debug for TokenKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeyPair")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TokenKeyPair {
    /// Generates a key and a certificate with this common name (e.g. the MDM server's name).
    ///
    /// # Errors
    /// [`KeyError::InvalidCommonName`], [`KeyError::Generate`], [`KeyError::Certificate`].
    pub fn generate(common_name: &str, validity: Duration) -> Result<Self, KeyError> {
        if common_name.is_empty()
            || common_name.chars().count() > 64
            || common_name.chars().any(char::is_control)
        {
            return Err(KeyError::InvalidCommonName);
        }
        let key = TokenPrivateKey::generate()?;
        let now = OffsetDateTime::now_utc();
        Self::with_key(key, common_name, now, validity)
    }

    /// A certificate for an existing key (a renewed certificate for the same key).
    ///
    /// # Errors
    /// [`KeyError::Certificate`].
    pub fn with_key(
        key: TokenPrivateKey,
        common_name: &str,
        not_before: OffsetDateTime,
        validity: Duration,
    ) -> Result<Self, KeyError> {
        let cert_error = |error: rcgen::Error| KeyError::Certificate {
            reason: error.to_string(),
        };
        let pkcs8 = key
            .0
            .to_pkcs8_der()
            .map_err(|error| KeyError::Certificate {
                reason: error.to_string(),
            })?;
        let signer = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(cert_error)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).map_err(|error| KeyError::Generate {
            reason: error.to_string(),
        })?;
        serial[0] &= 0x7f;
        serial[0] |= 0x40;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let validity = time::Duration::try_from(validity).unwrap_or(time::Duration::MAX);
        params.not_before = not_before
            .checked_sub(time::Duration::hours(1))
            .unwrap_or(not_before);
        params.not_after = not_before
            .checked_add(validity)
            .ok_or(KeyError::Certificate {
                reason: "the validity runs past the year 9999".to_owned(),
            })?;
        let certificate = params.self_signed(&signer).map_err(cert_error)?;
        Ok(Self {
            key,
            certificate_pem: certificate.pem(),
            certificate_der: certificate.der().clone(),
        })
    }

    /// Reads a key pair kept as PEM (certificate, then the key in PKCS#8 or PKCS#1).
    ///
    /// # Errors
    /// As [`certificate_der`] and [`TokenPrivateKey::from_pem_or_der`].
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Result<Self, KeyError> {
        let certificate_der = certificate_der(certificate_pem)?;
        let key = TokenPrivateKey::from_pem_or_der(key_pem)?;
        let certificate_pem = String::from_utf8_lossy(certificate_pem).into_owned();
        Ok(Self {
            key,
            certificate_pem,
            certificate_der,
        })
    }

    /// The private key.
    #[must_use]
    pub const fn private_key(&self) -> &TokenPrivateKey {
        &self.key
    }

    /// The private key as PKCS#8 PEM, in wiped memory (write it to a file only the MDM
    /// server can read).
    ///
    /// # Errors
    /// As [`TokenPrivateKey::to_pkcs8_pem`].
    pub fn private_key_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key.to_pkcs8_pem()
    }

    /// The certificate as PEM: the file to upload to the portal.
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The certificate as DER.
    #[must_use]
    pub const fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certificate_der
    }
}
