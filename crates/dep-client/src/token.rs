//! The server token: the OAuth credentials Apple's portal issues to an MDM server, delivered
//! as an S/MIME file encrypted to the MDM server's certificate.
//!
//! Reading one goes through four layers, each with its own error:
//! the file's outer form (S/MIME, PEM, base64, BER/DER) → the CMS `EnvelopedData`
//! (recipient, RSA key transport, AES-CBC content) → the inner MIME part and its
//! `-----BEGIN MESSAGE-----` markers → the JSON fields.

mod envelope;
mod file;
mod key;
pub(crate) mod message;

use core::{fmt, time::Duration};

use der::Decode as _;
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use subtle::ConstantTimeEq as _;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use x509_cert::Certificate;
use zeroize::Zeroizing;

pub use envelope::{
    ID_AES128_CBC, ID_AES192_CBC, ID_AES256_CBC, ID_ENVELOPED_DATA, RSA_ENCRYPTION,
};
pub use key::{
    DEFAULT_CERTIFICATE_VALIDITY, KeyError, MAX_KEY_FILE_BYTES, TOKEN_KEY_BITS, TokenKeyPair,
    TokenPrivateKey, certificate_der,
};
pub use message::{BEGIN_MESSAGE, END_MESSAGE, MessageError};

use crate::secret::Secret;

/// The largest token file read (Apple's are a few kilobytes).
pub const MAX_TOKEN_FILE_BYTES: usize = 256 * 1024;

/// Why a token file does not give a usable server token. Each variant names the layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The file is larger than [`MAX_TOKEN_FILE_BYTES`].
    #[error("the token file has {len} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not an S/MIME, PEM, base64 or DER file at all.
    #[error("not a server token file (S/MIME, PEM or DER): {reason}")]
    NotSmime {
        /// What is missing.
        reason: &'static str,
    },
    /// An S/MIME file whose content is not PKCS#7/CMS.
    #[error("the S/MIME Content-Type is {content_type:?}, not application/pkcs7-mime")]
    NotSmimeContentType {
        /// The header value (printable excerpt).
        content_type: String,
    },
    /// An S/MIME file with a transfer encoding other than base64 or binary.
    #[error("the S/MIME Content-Transfer-Encoding is {encoding:?}, not base64")]
    UnsupportedTransferEncoding {
        /// The header value (printable excerpt).
        encoding: String,
    },
    /// A PEM file whose label is not `PKCS7` or `CMS`.
    #[error("the PEM label is {label:?}, not PKCS7 or CMS")]
    PemLabel {
        /// The label (printable excerpt).
        label: String,
    },
    /// The S/MIME or PEM body is not valid base64.
    #[error("the token file's body is not valid base64: {reason}")]
    BadBase64 {
        /// What the decoder reported.
        reason: String,
    },
    /// The bytes are not a BER/DER CMS `ContentInfo`.
    #[error("not a CMS message (BER/DER ContentInfo): {reason}")]
    NotCms {
        /// What the ASN.1 decoder reported, with the position.
        reason: String,
    },
    /// A CMS message of another content type (signed data, plain data…).
    #[error("the CMS content type is {content_type}, not EnvelopedData (1.2.840.113549.1.7.3)")]
    NotEnvelopedData {
        /// The OID found.
        content_type: String,
    },
    /// The `EnvelopedData` structure does not decode.
    #[error("the CMS EnvelopedData is malformed: {reason}")]
    BadEnvelope {
        /// What the ASN.1 decoder reported.
        reason: String,
    },
    /// The certificate given does not decode.
    #[error("the token certificate is not a valid X.509 certificate: {reason}")]
    BadCertificate {
        /// What the decoder reported.
        reason: String,
    },
    /// The private key is not the certificate's.
    #[error("the private key does not belong to the token certificate (different public keys)")]
    KeyDoesNotMatchCertificate,
    /// No recipient of the token is this certificate.
    #[error(
        "the token is not addressed to this certificate ({certificate}); it is addressed to: {}",
        if recipients.is_empty() { "nobody".to_owned() } else { recipients.join("; ") }
    )]
    NotAddressedToCertificate {
        /// The certificate's issuer and serial.
        certificate: String,
        /// Each recipient of the token.
        recipients: Vec<String>,
    },
    /// The recipient's key transport is not RSA PKCS#1 v1.5.
    #[error("the key transport algorithm {algorithm} is not supported (only rsaEncryption)")]
    UnsupportedKeyTransport {
        /// The OID found.
        algorithm: String,
    },
    /// The content key does not decrypt with this private key.
    #[error("the token's content key does not decrypt with this private key: {reason}")]
    WrongKey {
        /// What failed.
        reason: String,
    },
    /// The content cipher is not AES-128/192/256-CBC.
    #[error("the content encryption algorithm {algorithm} is not supported (AES-CBC only)")]
    UnsupportedContentEncryption {
        /// The OID found.
        algorithm: String,
    },
    /// The AES-CBC IV parameter is missing or malformed.
    #[error("the content encryption IV is malformed: {reason}")]
    BadIv {
        /// What is wrong.
        reason: String,
    },
    /// The `EnvelopedData` carries no encrypted content (detached).
    #[error("the CMS EnvelopedData has no encrypted content")]
    NoEncryptedContent,
    /// The content did not decrypt (padding).
    #[error("the token's content did not decrypt: {reason}")]
    ContentDecryption {
        /// What failed.
        reason: &'static str,
    },
    /// The decrypted content is not a server token.
    #[error("the decrypted content is not a server token: {0}")]
    NotAToken(#[from] MessageError),
    /// The token has expired.
    #[error("the server token expired at {}; download a new one from the portal", rfc3339(*.expired_at))]
    Expired {
        /// When it expired.
        expired_at: OffsetDateTime,
    },
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// The OAuth credentials of one MDM server: the consumer key (which names the server) and
/// three secrets (wiped when dropped, redacted in `Debug`, compared in constant time), and
/// when the access token expires.
#[derive(Clone)]
pub struct ServerToken {
    consumer_key: String,
    consumer_secret: Secret,
    access_token: Secret,
    access_secret: Secret,
    access_token_expiry: OffsetDateTime,
}

impl fmt::Debug for ServerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerToken")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &self.consumer_secret)
            .field("access_token", &self.access_token)
            .field("access_secret", &self.access_secret)
            .field("access_token_expiry", &rfc3339(self.access_token_expiry))
            .finish()
    }
}

impl PartialEq for ServerToken {
    fn eq(&self, other: &Self) -> bool {
        let secrets = self.consumer_secret.ct_eq(&other.consumer_secret)
            & self.access_token.ct_eq(&other.access_token)
            & self.access_secret.ct_eq(&other.access_secret);
        bool::from(secrets)
            && self.consumer_key == other.consumer_key
            && self.access_token_expiry == other.access_token_expiry
    }
}

impl Eq for ServerToken {}

impl ServerToken {
    /// Builds a token from its parts (tests, or a store that keeps them apart).
    #[must_use]
    pub fn new(
        consumer_key: impl Into<String>,
        consumer_secret: Secret,
        access_token: Secret,
        access_secret: Secret,
        access_token_expiry: OffsetDateTime,
    ) -> Self {
        Self {
            consumer_key: consumer_key.into(),
            consumer_secret,
            access_token,
            access_secret,
            access_token_expiry,
        }
    }

    /// Decrypts a server token file (`…_smime.p7m` as downloaded; also PEM, base64 or raw
    /// BER/DER) with the MDM server's certificate (DER) and private key, and refuses an
    /// expired token.
    ///
    /// # Errors
    /// The [`TokenError`] naming the layer that failed.
    pub fn decrypt(
        file: &[u8],
        certificate_der: &[u8],
        key: &TokenPrivateKey,
    ) -> Result<Self, TokenError> {
        Self::decrypt_at(file, certificate_der, key, OffsetDateTime::now_utc())
    }

    /// [`decrypt`](Self::decrypt), judging expiry at `now`.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_at(
        file: &[u8],
        certificate_der: &[u8],
        key: &TokenPrivateKey,
        now: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        if file.len() > MAX_TOKEN_FILE_BYTES {
            return Err(TokenError::TooLarge {
                len: file.len(),
                limit: MAX_TOKEN_FILE_BYTES,
            });
        }
        // The file's structure first (cheap), then the certificate and key, then decryption.
        let cms = file::cms_bytes(file)?;
        let enveloped = envelope::parse(&cms)?;
        let certificate =
            Certificate::from_der(certificate_der).map_err(|error| TokenError::BadCertificate {
                reason: error.to_string(),
            })?;
        check_key_matches(&certificate, key)?;
        let content = envelope::open(&enveloped, &certificate, key.rsa())?;
        let json = message::token_json(&content)?;
        let token = Self::from_fields(message::parse_fields(json)?);
        token.check_not_expired_at(now)?;
        Ok(token)
    }

    /// Reads the decrypted content of a token file (the MIME part with the
    /// `-----BEGIN MESSAGE-----` JSON), for a file decrypted elsewhere (`openssl smime
    /// -decrypt`, a hardware module). Expiry is not judged here.
    ///
    /// # Errors
    /// [`TokenError::TooLarge`] or [`TokenError::NotAToken`].
    pub fn from_message(content: &[u8]) -> Result<Self, TokenError> {
        if content.len() > MAX_TOKEN_FILE_BYTES {
            return Err(TokenError::TooLarge {
                len: content.len(),
                limit: MAX_TOKEN_FILE_BYTES,
            });
        }
        let json = message::token_json(content)?;
        Ok(Self::from_fields(message::parse_fields(json)?))
    }

    /// Reads the token JSON (Apple's inner JSON, or what [`to_json_secret`](Self::to_json_secret)
    /// wrote). Expiry is not judged here: see [`is_expired`](Self::is_expired).
    ///
    /// # Errors
    /// [`TokenError::TooLarge`] or [`TokenError::NotAToken`] naming the field.
    pub fn from_json(json: &[u8]) -> Result<Self, TokenError> {
        if json.len() > MAX_TOKEN_FILE_BYTES {
            return Err(TokenError::TooLarge {
                len: json.len(),
                limit: MAX_TOKEN_FILE_BYTES,
            });
        }
        Ok(Self::from_fields(message::parse_fields(json)?))
    }

    fn from_fields(fields: message::TokenFields) -> Self {
        Self {
            consumer_key: fields.consumer_key,
            consumer_secret: fields.consumer_secret,
            access_token: fields.access_token,
            access_secret: fields.access_secret,
            access_token_expiry: fields.access_token_expiry,
        }
    }

    /// The token as JSON (Apple's field names), in wiped memory: what a store encrypts at rest
    /// and hands back to [`from_json`](Self::from_json).
    #[must_use]
    pub fn to_json_secret(&self) -> Zeroizing<Vec<u8>> {
        #[derive(Serialize)]
        struct Fields<'a> {
            consumer_key: &'a str,
            consumer_secret: &'a str,
            access_token: &'a str,
            access_secret: &'a str,
            access_token_expiry: &'a str,
        }
        let expiry = rfc3339(self.access_token_expiry);
        let fields = Fields {
            consumer_key: &self.consumer_key,
            consumer_secret: self.consumer_secret.expose(),
            access_token: self.access_token.expose(),
            access_secret: self.access_secret.expose(),
            access_token_expiry: &expiry,
        };
        // Room for the worst-case escaping up front: the buffer never reallocates, so no
        // copy of a secret is left behind unwiped.
        let room = 6
            * (self.consumer_key.len()
                + self.consumer_secret.len()
                + self.access_token.len()
                + self.access_secret.len()
                + expiry.len())
            + 160;
        let mut out = Zeroizing::new(Vec::with_capacity(room));
        // Serialising strings into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &fields);
        out
    }

    /// The consumer key (`CK_…`): it names the MDM server and is not secret.
    #[must_use]
    pub fn consumer_key(&self) -> &str {
        &self.consumer_key
    }

    /// The consumer secret (`CS_…`).
    #[must_use]
    pub const fn consumer_secret(&self) -> &Secret {
        &self.consumer_secret
    }

    /// The access token (`AT_…`), sent as `oauth_token`.
    #[must_use]
    pub const fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// The access secret (`AS_…`).
    #[must_use]
    pub const fn access_secret(&self) -> &Secret {
        &self.access_secret
    }

    /// When the access token expires.
    #[must_use]
    pub const fn expires_at(&self) -> OffsetDateTime {
        self.access_token_expiry
    }

    /// Whether the token has expired by now.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(OffsetDateTime::now_utc())
    }

    /// Whether the token has expired at `now`.
    #[must_use]
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        now >= self.access_token_expiry
    }

    /// Whether the token expires within `window` from now (or has already): time to
    /// download a new one from the portal.
    #[must_use]
    pub fn expires_within(&self, window: Duration) -> bool {
        self.expires_within_at(window, OffsetDateTime::now_utc())
    }

    /// Whether the token expires within `window` from `now`.
    #[must_use]
    pub fn expires_within_at(&self, window: Duration, now: OffsetDateTime) -> bool {
        let window = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
        now.checked_add(window)
            .is_none_or(|horizon| horizon >= self.access_token_expiry)
    }

    /// How long until the token expires at `now`; zero once expired.
    #[must_use]
    pub fn remaining_at(&self, now: OffsetDateTime) -> Duration {
        Duration::try_from(self.access_token_expiry - now).unwrap_or(Duration::ZERO)
    }

    /// `Ok` unless the token has expired at `now`.
    ///
    /// # Errors
    /// [`TokenError::Expired`] with the expiry.
    pub fn check_not_expired_at(&self, now: OffsetDateTime) -> Result<(), TokenError> {
        if self.is_expired_at(now) {
            return Err(TokenError::Expired {
                expired_at: self.access_token_expiry,
            });
        }
        Ok(())
    }
}

/// The private key must be the certificate's: a mismatch is named before any decryption.
/// Compares the modulus and exponent as bytes (no big-number arithmetic).
fn check_key_matches(certificate: &Certificate, key: &TokenPrivateKey) -> Result<(), TokenError> {
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let not_rsa = |reason: String| TokenError::BadCertificate {
        reason: format!("its public key is not RSA: {reason}"),
    };
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(not_rsa(format!("algorithm {}", spki.algorithm.oid)));
    }
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| not_rsa("the key's bit string is not whole bytes".to_owned()))?;
    let public = pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(bits)
        .map_err(|error| not_rsa(error.to_string()))?;
    let rsa = key.rsa();
    let same_modulus = trim(public.modulus.as_bytes()) == trim(&rsa.n().to_be_bytes());
    let same_exponent = trim(public.public_exponent.as_bytes()) == trim(&rsa.e().to_be_bytes());
    if !(same_modulus && same_exponent) {
        return Err(TokenError::KeyDoesNotMatchCertificate);
    }
    Ok(())
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}
