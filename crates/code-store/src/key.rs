//! Encryption at rest: [`StoreKey`], [`KeyRing`], [`Protection`] and sealing of single values.
//!
//! Each secret value is sealed with XChaCha20-Poly1305 under a random 24-byte nonce, with
//! `alb-code-store/v1 \0 <field> \0 <udid>` as associated data, so a value copied to another
//! device's row (or another field) fails authentication. The key id is stored in front of every
//! value, so older keys can stay in the [`KeyRing`] for reading while new values use the current
//! key.
//!
//! Stored layout: `0x00 || plaintext` (cleartext mode) or
//! `0x01 || id length || key id || nonce (24) || ciphertext || tag (16)`.

use alloc::sync::Arc;
use core::{fmt, str::FromStr};

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use zeroize::Zeroizing;

use crate::{StoreError, Udid};

/// The prefix of a store key's text form.
pub const KEY_PREFIX: &str = "alb-store-key-v1";
const TAG_CLEAR: u8 = 0;
const TAG_SEALED: u8 = 1;
const NONCE_LEN: usize = 24;
const AAD_DOMAIN: &[u8] = b"alb-code-store/v1";

/// Why a store key's text is not valid. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text does not start with `alb-store-key-v1:`.
    #[error("a store key starts with \"{KEY_PREFIX}:\"")]
    Prefix,
    /// The key id is empty, too long, or has other characters than letters, digits, `-`, `_`.
    #[error("the key id must be 1 to 32 letters, digits, '-' or '_'")]
    KeyId,
    /// The key material is not 64 hexadecimal digits.
    #[error("the key material must be 64 hexadecimal digits (32 bytes)")]
    Material,
    /// The text holds no key.
    #[error("no store key found")]
    Empty,
    /// Two keys share one id.
    #[error("key id {0:?} appears twice")]
    DuplicateId(String),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed")]
    Random,
}

/// A 32-byte store key with its id: zeroized on drop, `Debug` shows the id only.
///
/// Text form (what `alb keygen` prints and `--key-file` reads):
/// `alb-store-key-v1:<id>:<64 hexadecimal digits>`.
#[derive(Clone)]
pub struct StoreKey {
    id: String,
    material: Zeroizing<[u8; 32]>,
}

impl StoreKey {
    /// A fresh random key with a random 8-hex-digit id.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the OS generator fails.
    pub fn generate() -> Result<Self, KeyError> {
        let mut material = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 4];
        getrandom::fill(material.as_mut_slice()).map_err(|_| KeyError::Random)?;
        getrandom::fill(&mut id).map_err(|_| KeyError::Random)?;
        Ok(Self {
            id: hex::encode(id),
            material,
        })
    }

    /// A key from its id and material.
    ///
    /// # Errors
    /// [`KeyError::KeyId`] when the id is not valid.
    pub fn new(id: &str, material: [u8; 32]) -> Result<Self, KeyError> {
        let material = Zeroizing::new(material);
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(KeyError::KeyId);
        }
        Ok(Self {
            id: id.to_owned(),
            material,
        })
    }

    /// The key id stored next to every value sealed under this key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The text form, `alb-store-key-v1:<id>:<hex>` (a secret: zeroized on drop).
    #[must_use]
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{KEY_PREFIX}:{}:{}",
            self.id,
            hex::encode(self.material.as_slice())
        ))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.material).into())
    }
}

impl FromStr for StoreKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .trim()
            .strip_prefix(KEY_PREFIX)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or(KeyError::Prefix)?;
        let (id, material_hex) = rest.split_once(':').ok_or(KeyError::KeyId)?;
        let mut material = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(material_hex, material.as_mut_slice())
            .map_err(|_| KeyError::Material)?;
        Self::new(id, *material)
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey {{ id: {:?}, material: <redacted> }}", self.id)
    }
}

/// The current key (used for every new value) and older keys kept for reading.
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: StoreKey,
    older: Vec<StoreKey>,
}

impl KeyRing {
    /// A ring with one key.
    #[must_use]
    pub fn new(current: StoreKey) -> Self {
        Self {
            current,
            older: Vec::new(),
        }
    }

    /// Adds an older key, used only to read values sealed under it.
    ///
    /// # Errors
    /// [`KeyError::DuplicateId`] when a key with that id is already in the ring.
    pub fn with_older(mut self, key: StoreKey) -> Result<Self, KeyError> {
        if self.find(key.id()).is_some() {
            return Err(KeyError::DuplicateId(key.id().to_owned()));
        }
        self.older.push(key);
        Ok(self)
    }

    /// Parses a key file: one key per line, the first is current, later ones are older keys;
    /// blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// The first [`KeyError`] met, or [`KeyError::Empty`].
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(StoreKey::from_str);
        let mut ring = Self::new(keys.next().ok_or(KeyError::Empty)??);
        for key in keys {
            ring = ring.with_older(key?)?;
        }
        Ok(ring)
    }

    /// The key new values are sealed under.
    #[must_use]
    pub fn current(&self) -> &StoreKey {
        &self.current
    }

    fn find(&self, id: &str) -> Option<&StoreKey> {
        core::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == id)
    }
}

/// How a store treats secrets.
#[derive(Clone, Debug)]
pub enum Protection {
    /// No key: secrets can be read only if stored in clear, and are never written.
    NoKey,
    /// Explicit cleartext mode: secrets are written unencrypted (tests, throw-away stores).
    Cleartext,
    /// Secrets are sealed under the ring's current key.
    Encrypted(Arc<KeyRing>),
}

impl Protection {
    /// Encrypted under `ring`.
    #[must_use]
    pub fn encrypted(ring: KeyRing) -> Self {
        Self::Encrypted(Arc::new(ring))
    }

    /// Seals one secret value of `udid`'s `field`.
    ///
    /// # Errors
    /// [`StoreError::KeyMissing`] in [`Protection::NoKey`]; [`StoreError::Random`].
    pub fn seal(
        &self,
        udid: &Udid,
        field: &'static str,
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        match self {
            Self::NoKey => Err(StoreError::KeyMissing {
                udid: udid.to_string(),
                field,
            }),
            Self::Cleartext => {
                let mut out = Vec::with_capacity(1 + plain.len());
                out.push(TAG_CLEAR);
                out.extend_from_slice(plain);
                Ok(out)
            }
            Self::Encrypted(ring) => {
                let key = ring.current();
                let mut nonce = [0u8; NONCE_LEN];
                getrandom::fill(&mut nonce).map_err(StoreError::Random)?;
                let aad = associated_data(udid, field);
                let sealed = key
                    .cipher()
                    .encrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: plain,
                            aad: &aad,
                        },
                    )
                    .map_err(|_| StoreError::Corrupt {
                        udid: udid.to_string(),
                        field,
                        reason: "encryption failed".into(),
                    })?;
                let id = key.id().as_bytes();
                let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + sealed.len());
                out.push(TAG_SEALED);
                out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(id);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                Ok(out)
            }
        }
    }

    /// Opens one stored value of `udid`'s `field`. With a key, only sealed values open: a value
    /// in clear is refused.
    ///
    /// # Errors
    /// [`StoreError::KeyRequired`], [`StoreError::UnknownKey`], [`StoreError::Authentication`]
    /// or [`StoreError::Corrupt`].
    pub fn open(
        &self,
        udid: &Udid,
        field: &'static str,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt {
            udid: udid.to_string(),
            field,
            reason: reason.to_owned(),
        };
        match stored.split_first() {
            // A store opened with a key seals every secret: a value in clear there was not
            // written by this program (someone with write access to the database planted it).
            Some((&TAG_CLEAR, _)) if matches!(self, Self::Encrypted(_)) => {
                Err(clear_in_encrypted_store(udid, field))
            }
            Some((&TAG_CLEAR, plain)) => Ok(Zeroizing::new(plain.to_vec())),
            Some((&TAG_SEALED, rest)) => {
                let (&id_len, rest) = rest.split_first().ok_or_else(|| corrupt("truncated"))?;
                let id_len = usize::from(id_len);
                if rest.len() < id_len + NONCE_LEN + 16 {
                    return Err(corrupt("truncated"));
                }
                let (id, rest) = rest.split_at(id_len);
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let id = core::str::from_utf8(id).map_err(|_| corrupt("key id is not text"))?;
                let ring = match self {
                    Self::Encrypted(ring) => ring,
                    Self::NoKey | Self::Cleartext => {
                        return Err(StoreError::KeyRequired {
                            udid: udid.to_string(),
                            field,
                        });
                    }
                };
                let key = ring.find(id).ok_or_else(|| StoreError::UnknownKey {
                    udid: udid.to_string(),
                    field,
                    key_id: id.to_owned(),
                })?;
                let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt("nonce"))?;
                let aad = associated_data(udid, field);
                key.cipher()
                    .decrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: sealed,
                            aad: &aad,
                        },
                    )
                    .map(Zeroizing::new)
                    .map_err(|_| StoreError::Authentication {
                        udid: udid.to_string(),
                        field,
                        key_id: id.to_owned(),
                    })
            }
            Some((tag, _)) => Err(corrupt(&format!("unknown format tag {tag}"))),
            None => Err(corrupt("empty value")),
        }
    }
}

/// Whether a stored value is in the cleartext layout.
pub(crate) fn is_clear(stored: &[u8]) -> bool {
    stored.first() == Some(&TAG_CLEAR)
}

/// The error for a cleartext value found where every value is sealed.
pub(crate) fn clear_in_encrypted_store(udid: &Udid, field: &'static str) -> StoreError {
    StoreError::Corrupt {
        udid: udid.to_string(),
        field,
        reason: "a value in clear in an encrypted store (not written by this program: refused)"
            .to_owned(),
    }
}

fn associated_data(udid: &Udid, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + field.len() + udid.as_str().len() + 2);
    aad.extend_from_slice(AAD_DOMAIN);
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad.push(0);
    aad.extend_from_slice(udid.as_str().as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udid(s: &str) -> Udid {
        Udid::new(s).unwrap()
    }

    #[test]
    fn key_text_round_trip_and_redaction() {
        let key = StoreKey::generate().unwrap();
        let text = key.to_text();
        let back: StoreKey = text.parse().unwrap();
        assert_eq!(back.id(), key.id());
        assert_eq!(*back.material, *key.material);
        let debug = format!("{key:?}");
        assert!(!debug.contains(&hex::encode(key.material.as_slice())));
        assert_eq!("nope".parse::<StoreKey>().unwrap_err(), KeyError::Prefix);
        assert_eq!(
            "alb-store-key-v1:k1:00".parse::<StoreKey>().unwrap_err(),
            KeyError::Material
        );
        assert_eq!(
            format!("alb-store-key-v1:bad id:{}", "00".repeat(32))
                .parse::<StoreKey>()
                .unwrap_err(),
            KeyError::KeyId
        );
    }

    #[test]
    fn seal_open_bound_to_device_and_field() {
        let p = Protection::encrypted(KeyRing::new(StoreKey::new("k1", [7; 32]).unwrap()));
        let a = udid("A");
        let sealed = p.seal(&a, "device_code", b"secret-bytes").unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"secret-bytes"));
        assert_eq!(
            p.open(&a, "device_code", &sealed).unwrap().as_slice(),
            b"secret-bytes"
        );
        assert!(matches!(
            p.open(&udid("B"), "device_code", &sealed),
            Err(StoreError::Authentication { .. })
        ));
        assert!(matches!(
            p.open(&a, "server_code", &sealed),
            Err(StoreError::Authentication { .. })
        ));
        // Same id, other material: authentication fails.
        let wrong = Protection::encrypted(KeyRing::new(StoreKey::new("k1", [8; 32]).unwrap()));
        assert!(matches!(
            wrong.open(&a, "device_code", &sealed),
            Err(StoreError::Authentication { .. })
        ));
        // Other id: unknown key.
        let other = Protection::encrypted(KeyRing::new(StoreKey::new("k2", [7; 32]).unwrap()));
        assert!(matches!(
            other.open(&a, "device_code", &sealed),
            Err(StoreError::UnknownKey { .. })
        ));
        assert!(matches!(
            Protection::NoKey.open(&a, "device_code", &sealed),
            Err(StoreError::KeyRequired { .. })
        ));
        assert!(matches!(
            Protection::NoKey.seal(&a, "device_code", b"x"),
            Err(StoreError::KeyMissing { .. })
        ));
        // With a key, a value in clear is refused, not read.
        let clear = Protection::Cleartext
            .seal(&a, "device_code", b"planted")
            .unwrap();
        assert!(matches!(
            p.open(&a, "device_code", &clear),
            Err(StoreError::Corrupt { .. })
        ));
        // Truncated values are errors, not panics.
        for len in 0..sealed.len() {
            assert!(p.open(&a, "device_code", &sealed[..len]).is_err());
        }
    }

    #[test]
    fn rotation_reads_older_keys() {
        let old = StoreKey::new("old", [1; 32]).unwrap();
        let new = StoreKey::new("new", [2; 32]).unwrap();
        let a = udid("A");
        let sealed = Protection::encrypted(KeyRing::new(old.clone()))
            .seal(&a, "f", b"v")
            .unwrap();
        let text = format!(
            "# rotated\n{}\n\n{}\n",
            new.to_text().as_str(),
            old.to_text().as_str()
        );
        let ring = KeyRing::parse(&text).unwrap();
        assert_eq!(ring.current().id(), "new");
        let p = Protection::encrypted(ring);
        assert_eq!(p.open(&a, "f", &sealed).unwrap().as_slice(), b"v");
        let resealed = p.seal(&a, "f", b"v").unwrap();
        assert_eq!(&resealed[2..5], b"new");
        assert!(KeyRing::parse("").is_err());
    }
}
