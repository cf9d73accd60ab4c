//! [`StoreMode`]: whether a store is encrypted, recorded in the store itself, and [`Sealing`],
//! the protection a store was opened with checked against that mode.
//!
//! A store is encrypted or in clear for its whole life. The first opener that brings a key (or
//! an explicit cleartext mode) records which; later openers must agree. So someone who can write
//! to the database cannot plant a code in clear in an encrypted store (a cleartext value there
//! is an error, never a code), and `--cleartext` cannot silently write secrets in clear into a
//! store that holds encrypted ones.

use core::fmt;

use zeroize::Zeroizing;

use crate::{Protection, StoreError, Udid};

/// The name of the setting that records the mode.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) const MODE_SETTING: &str = "protection";

/// Whether a store's secrets are encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// Every secret is sealed under a store key.
    Encrypted,
    /// Secrets are stored in clear (throw-away and test stores).
    Cleartext,
}

impl StoreMode {
    /// `encrypted` or `cleartext`, as recorded.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Encrypted => "encrypted",
            Self::Cleartext => "cleartext",
        }
    }

    /// The inverse of [`StoreMode::as_str`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "encrypted" => Some(Self::Encrypted),
            "cleartext" => Some(Self::Cleartext),
            _ => None,
        }
    }
}

impl fmt::Display for StoreMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What opening a store with `protection` means, given the mode it recorded (`None`: not yet).
///
/// Returns the mode to record now (when there is none yet and this opener decides it) and the
/// sealing to use. `holds_sealed` tells whether the store already holds sealed values (a store
/// made before modes were recorded); it is asked only when a cleartext opener would decide.
///
/// # Errors
/// [`StoreError::ModeMismatch`] when the protection contradicts the store's mode.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn settle(
    protection: Protection,
    recorded: Option<StoreMode>,
    holds_sealed: impl FnOnce() -> Result<bool, StoreError>,
) -> Result<(Option<StoreMode>, Sealing), StoreError> {
    let wanted = match &protection {
        Protection::Encrypted(_) => Some(StoreMode::Encrypted),
        Protection::Cleartext => Some(StoreMode::Cleartext),
        Protection::NoKey => None,
    };
    let (to_record, mode) = match (recorded, wanted) {
        (Some(recorded), Some(wanted)) if recorded != wanted => {
            return Err(StoreError::ModeMismatch {
                recorded,
                requested: wanted,
            });
        }
        (Some(recorded), _) => (None, Some(recorded)),
        (None, Some(StoreMode::Cleartext)) if holds_sealed()? => {
            return Err(StoreError::ModeMismatch {
                recorded: StoreMode::Encrypted,
                requested: StoreMode::Cleartext,
            });
        }
        (None, Some(wanted)) => (Some(wanted), Some(wanted)),
        (None, None) => (None, None),
    };
    Ok((to_record, Sealing { protection, mode }))
}

/// How a store opened: the caller's [`Protection`] and the store's recorded [`StoreMode`].
#[derive(Clone, Debug)]
pub struct Sealing {
    protection: Protection,
    mode: Option<StoreMode>,
}

impl Sealing {
    /// The sealing of a store that records nothing (memory): its mode is the protection's.
    #[must_use]
    pub(crate) fn fixed(protection: Protection) -> Self {
        let mode = match &protection {
            Protection::Encrypted(_) => Some(StoreMode::Encrypted),
            Protection::Cleartext => Some(StoreMode::Cleartext),
            Protection::NoKey => None,
        };
        Self { protection, mode }
    }

    /// The protection the store was opened with.
    #[must_use]
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// The store's mode, once recorded.
    #[must_use]
    pub const fn mode(&self) -> Option<StoreMode> {
        self.mode
    }

    /// Seals one secret value of `udid`'s `field` ([`Protection::seal`]).
    ///
    /// # Errors
    /// As [`Protection::seal`].
    pub(crate) fn seal(
        &self,
        udid: &Udid,
        field: &'static str,
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.protection.seal(udid, field, plain)
    }

    /// Opens one stored value of `udid`'s `field`. In an encrypted store a value in clear is
    /// an error, whatever key the store was opened with (or without).
    ///
    /// # Errors
    /// As [`Protection::open`]; [`StoreError::Corrupt`] for a cleartext value in an encrypted
    /// store.
    pub(crate) fn open(
        &self,
        udid: &Udid,
        field: &'static str,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if self.mode == Some(StoreMode::Encrypted) && crate::key::is_clear(stored) {
            return Err(crate::key::clear_in_encrypted_store(udid, field));
        }
        self.protection.open(udid, field, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyRing, StoreKey};

    fn key() -> Protection {
        Protection::encrypted(KeyRing::new(StoreKey::new("k", [1; 32]).unwrap()))
    }

    #[test]
    fn the_first_opener_with_a_mode_records_it_and_later_ones_must_agree() {
        let never = || -> Result<bool, StoreError> { panic!("not asked") };
        let (record, _) = settle(key(), None, never).unwrap();
        assert_eq!(record, Some(StoreMode::Encrypted));
        let (record, sealing) = settle(Protection::NoKey, None, never).unwrap();
        assert_eq!((record, sealing.mode()), (None, None));
        let (record, _) = settle(Protection::Cleartext, None, || Ok(false)).unwrap();
        assert_eq!(record, Some(StoreMode::Cleartext));
        assert!(matches!(
            settle(Protection::Cleartext, None, || Ok(true)),
            Err(StoreError::ModeMismatch { .. })
        ));
        assert!(matches!(
            settle(Protection::Cleartext, Some(StoreMode::Encrypted), never),
            Err(StoreError::ModeMismatch {
                recorded: StoreMode::Encrypted,
                requested: StoreMode::Cleartext
            })
        ));
        assert!(matches!(
            settle(key(), Some(StoreMode::Cleartext), never),
            Err(StoreError::ModeMismatch { .. })
        ));
        let (record, sealing) =
            settle(Protection::NoKey, Some(StoreMode::Encrypted), never).unwrap();
        assert_eq!((record, sealing.mode()), (None, Some(StoreMode::Encrypted)));
    }

    #[test]
    fn a_clear_value_in_an_encrypted_store_is_an_error_with_or_without_the_key() {
        let udid = Udid::new("U").unwrap();
        let clear = Protection::Cleartext
            .seal(&udid, "device_code", &[7; 16])
            .unwrap();
        for protection in [key(), Protection::NoKey] {
            let (_, sealing) = settle(protection, Some(StoreMode::Encrypted), || Ok(true)).unwrap();
            let err = sealing.open(&udid, "device_code", &clear).unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt { udid, field: "device_code", .. } if udid == "U"),
                "{err}"
            );
        }
    }
}
