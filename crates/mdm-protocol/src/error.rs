//! Why an MDM property list was rejected.

use printable::Escaped;

/// Why bytes are not the MDM message they were read as.
///
/// Every variant that concerns a value names its **key path** (`Command.UnlockToken`,
/// `QueryResponses.ServiceSubscriptions[1].IMEI`; the top-level dictionary is `(root)`), and the
/// expected type or form. No variant ever carries a secret value.
///
/// Key paths and reasons quote the sender's text (its dictionary keys, a `Status` it sent):
/// `Display` escapes every control and invisible character in them ([`printable`]), so a
/// message can be printed on a terminal as it is; the fields hold the text unescaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input is larger than [`Limits::max_bytes`](crate::Limits::max_bytes); nothing was parsed.
    #[error("input of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The bytes are not a well-formed XML or binary property list.
    #[error("not a well-formed {format} property list: {}", Escaped(.reason))]
    Syntax {
        /// `XML` or `binary`.
        format: &'static str,
        /// What the property-list reader reported (position included where known).
        reason: String,
    },
    /// The property list nests arrays and dictionaries deeper than the limit.
    #[error("containers nested deeper than {limit} levels")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// The property list holds more values than the limit (binary plists may share objects, so
    /// this is checked on the expanded tree).
    #[error("more than {limit} values")]
    TooManyValues {
        /// The configured limit.
        limit: usize,
    },
    /// Strings and data add up to more decoded bytes than the limit.
    #[error("more than {limit} bytes of strings and data once decoded")]
    TooManyDecodedBytes {
        /// The configured limit.
        limit: usize,
    },
    /// A dictionary holds the same key twice (readers disagree on which one wins, so we refuse).
    #[error("{}: duplicate key", Escaped(.path))]
    DuplicateKey {
        /// Key path of the repeated key.
        path: String,
    },
    /// A value has the wrong property-list type.
    #[error("{}: expected {expected}, found {found}", Escaped(.path))]
    WrongType {
        /// Key path of the value.
        path: String,
        /// The type the protocol requires, e.g. `data` or `string`.
        expected: &'static str,
        /// The type found, e.g. `string`.
        found: &'static str,
    },
    /// A required key is absent.
    #[error("{}: required key is missing (expected {expected})", Escaped(.path))]
    Missing {
        /// Key path of the missing key.
        path: String,
        /// The type the protocol requires.
        expected: &'static str,
    },
    /// A value has the right type but not an accepted form.
    #[error("{}: expected {expected}: {}", Escaped(.path), Escaped(.reason))]
    InvalidValue {
        /// Key path of the value.
        path: String,
        /// The accepted form, e.g. `a canonical bypass code`.
        expected: &'static str,
        /// What is wrong, never quoting a secret.
        reason: String,
    },
    /// A value of a property-list type or range MDM does not use, which could not be written
    /// back as XML: a UID (keyed archives only), or a date outside the years 0000–9999.
    #[error("{}: {what} is not an MDM value (it cannot be written as XML)", Escaped(.path))]
    Unsupported {
        /// Key path of the value (`(root)` for the top level, `<key>` where a key was expected).
        path: String,
        /// What was found, e.g. `a UID` or `a date before the year 0000`.
        what: &'static str,
    },
    /// The dictionary is neither a command, a command response nor a check-in message.
    #[error("not an MDM message: {reason}")]
    NotMdmMessage {
        /// Which keys were looked for.
        reason: &'static str,
    },
}

impl ParseError {
    /// The key path this error concerns, when it concerns one value.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::DuplicateKey { path }
            | Self::WrongType { path, .. }
            | Self::Missing { path, .. }
            | Self::InvalidValue { path, .. }
            | Self::Unsupported { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Why a message could not be written as a property list.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the property list: {0}")]
pub struct EncodeError(#[from] pub plist::Error);
