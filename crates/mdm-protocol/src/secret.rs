//! Secret values carried in MDM payloads: zeroized on drop, compared in constant time, redacted
//! from `Debug`.

use core::fmt;

use plist::Value;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// What `Debug` and redacted output print instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Redacted `Debug` (length only) and constant-time equality for a secret byte buffer newtype.
macro_rules! secret_bytes_traits {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "({}, {} bytes)"),
                    REDACTED,
                    self.0.len()
                )
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0.as_slice().ct_eq(other.0.as_slice())
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other).into()
            }
        }

        impl Eq for $name {}
    };
}

/// The device's unlock token (binary data from the `TokenUpdate` check-in message, sent back in
/// `ClearPasscode`). Zeroized on drop, compared in constant time, never shown by `Debug`.
#[derive(Clone)]
pub struct UnlockToken(Zeroizing<Vec<u8>>);

impl UnlockToken {
    /// Wraps the token bytes (taken by value so no copy is left behind).
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The token bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the token is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

secret_bytes_traits!(UnlockToken);

/// A password or passcode sent to the device (firmware, `FileVault`, …). Zeroized on drop,
/// compared in constant time, never shown by `Debug`.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password (taken by value so no copy is left behind).
    #[must_use]
    pub fn new(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Self::new(password.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({REDACTED})")
    }
}

impl ConstantTimeEq for Password {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Password {}

/// Secret binary data other than the unlock token (a password hash, an exported private key).
/// Zeroized on drop, compared in constant time, never shown by `Debug`.
#[derive(Clone)]
pub struct SecretData(Zeroizing<Vec<u8>>);

impl SecretData {
    /// Wraps the bytes (taken by value so no copy is left behind).
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

secret_bytes_traits!(SecretData);

/// Zeroizes every string, key and data buffer of a property-list tree, then drops it.
///
/// Used on intermediate trees that held secrets (a parsed input, a tree built for writing).
pub fn scrub(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(mut s) => s.zeroize(),
            Value::Data(mut d) => d.zeroize(),
            Value::Array(items) => pending.extend(items),
            Value::Dictionary(dict) => {
                for (mut key, value) in dict {
                    key.zeroize();
                    pending.push(value);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let token = UnlockToken::new(b"very secret token".to_vec());
        let password = Password::from("hunter2");
        let data = SecretData::new(vec![1, 2, 3]);
        for shown in [
            format!("{token:?}"),
            format!("{password:?}"),
            format!("{data:?}"),
        ] {
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(!shown.contains("secret") && !shown.contains("hunter2"));
        }
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(UnlockToken::new(vec![1, 2]), UnlockToken::new(vec![1, 2]));
        assert_ne!(UnlockToken::new(vec![1, 2]), UnlockToken::new(vec![1, 3]));
        assert_ne!(
            UnlockToken::new(vec![1, 2]),
            UnlockToken::new(vec![1, 2, 3])
        );
        assert_eq!(Password::from("a"), Password::from("a"));
        assert_ne!(Password::from("a"), Password::from("b"));
    }

    #[test]
    fn scrub_handles_deep_trees() {
        let mut value = Value::String("x".to_owned());
        for _ in 0..100_000 {
            value = Value::Array(vec![value]);
        }
        scrub(value);
    }
}
