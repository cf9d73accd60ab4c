//! [`UnlockToken`]: the device's `UnlockToken` from `TokenUpdate`, a secret byte string.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::StoreError;

/// Largest unlock token accepted, in bytes.
pub const MAX_UNLOCK_TOKEN_LEN: usize = 4096;

/// A device's unlock token: zeroized on drop, compared in constant time, redacted from `Debug`.
#[derive(Clone)]
pub struct UnlockToken(Zeroizing<Vec<u8>>);

impl UnlockToken {
    /// Wraps token bytes (1 to 4096 bytes).
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] when empty or too long.
    pub fn new(bytes: Vec<u8>) -> Result<Self, StoreError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.is_empty() || bytes.len() > MAX_UNLOCK_TOKEN_LEN {
            return Err(StoreError::InvalidField {
                field: "unlock token",
                reason: format!(
                    "expected 1 to {MAX_UNLOCK_TOKEN_LEN} bytes, found {}",
                    bytes.len()
                ),
            });
        }
        Ok(Self(bytes))
    }

    /// The token bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for UnlockToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for UnlockToken {}

impl fmt::Debug for UnlockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnlockToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_redaction() {
        assert!(UnlockToken::new(Vec::new()).is_err());
        assert!(UnlockToken::new(vec![1; MAX_UNLOCK_TOKEN_LEN + 1]).is_err());
        let token = UnlockToken::new(vec![0xab; 8]).unwrap();
        assert_eq!(format!("{token:?}"), "UnlockToken(<redacted>)");
        assert_eq!(token, UnlockToken::new(vec![0xab; 8]).unwrap());
        assert_ne!(token, UnlockToken::new(vec![0xab; 9]).unwrap());
    }
}
