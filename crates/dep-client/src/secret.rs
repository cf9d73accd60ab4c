//! A secret string: wiped when dropped, compared in constant time, never printed.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret text (an OAuth secret, an access token, a session token).
///
/// The bytes are wiped when the value is dropped; `Debug` prints `Secret([redacted])`;
/// equality runs in constant time over the contents (only the length may leak).
/// [`expose`](Self::expose) is the one way to read it.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a string; it is wiped when the secret is dropped.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text. Keep the borrow short and never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    /// A JSON string, moved into wiped storage.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_string(crate::token::message::StringVisitor)
            .map(Self::new)
    }
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_redacted_and_compared_by_value() {
        let secret = Secret::from("AS_abc");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret, Secret::from("AS_abc"));
        assert_ne!(secret, Secret::from("AS_abd"));
        assert_ne!(secret, Secret::from("AS_ab"));
        assert_eq!(secret.expose(), "AS_abc");
        assert_eq!(secret.len(), 6);
        assert!(!secret.is_empty());
    }
}
