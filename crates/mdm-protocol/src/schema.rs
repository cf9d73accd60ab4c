//! Apple's schema as data: every key of every command, response and check-in message, with its
//! type, presence, allowed values, default, secrecy and availability. Generated from the YAML by
//! `cargo xtask codegen`; [`CommandBuilder`](crate::CommandBuilder) checks keys and types
//! against it, and callers can list or explain keys with it.

use crate::Availability;

/// One key of a dictionary (or the item of an array, or the value of a map).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySpec {
    /// The key as written on the wire (for an array item or a map value: the schema's
    /// placeholder name, e.g. `QueriesItem` or `ANY app identifier`).
    pub key: &'static str,
    /// Its property-list type.
    pub kind: Kind,
    /// Whether the schema marks it required. Devices leave "required" response keys out on
    /// `Error` and `NotNow`, so parsing treats responses and check-in messages as optional.
    pub required: bool,
    /// Whether the value is a secret (password, passcode, PIN, token, bypass code, recovery
    /// key…): redacted in `Debug` and redacted output, zeroized, compared in constant time.
    pub secret: bool,
    /// The values the schema lists (`rangelist`, or a string's value list such as the
    /// `DeviceInformation` query names); empty when any value is accepted.
    pub values: &'static [AllowedValue],
    /// The default the device assumes when the key is absent (documentation: never written).
    pub default: Option<DefaultValue>,
    /// Where the key is supported (the payload's `supportedOS` updated by the key's own).
    pub availability: Availability,
}

impl KeySpec {
    /// A key with no listed values, no default, not secret.
    #[must_use]
    pub const fn new(
        key: &'static str,
        kind: Kind,
        required: bool,
        availability: Availability,
    ) -> Self {
        Self {
            key,
            kind,
            required,
            secret: false,
            values: &[],
            default: None,
            availability,
        }
    }

    /// Marks the key secret.
    #[must_use]
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Sets the allowed values.
    #[must_use]
    pub const fn values(mut self, values: &'static [AllowedValue]) -> Self {
        self.values = values;
        self
    }

    /// Sets the default.
    #[must_use]
    pub const fn default(mut self, default: DefaultValue) -> Self {
        self.default = Some(default);
        self
    }

    /// The sub-key named `key` of a dictionary (or of any variant of a union).
    #[must_use]
    pub fn child(&self, key: &str) -> Option<&'static KeySpec> {
        match self.kind {
            Kind::Dictionary(keys) => keys.iter().find(|k| k.key == key),
            _ => None,
        }
    }

    /// Whether `value` is one of [`Self::values`] (always true when none are listed).
    #[must_use]
    pub fn allows_string(&self, value: &str) -> bool {
        self.values.is_empty()
            || self.values.iter().any(|v| match v {
                AllowedValue::String { value: s, .. } => *s == value,
                AllowedValue::Integer(_) => false,
            })
    }

    /// Whether `value` is one of [`Self::values`] (always true when none are listed).
    #[must_use]
    pub fn allows_integer(&self, value: i64) -> bool {
        self.values.is_empty()
            || self
                .values
                .iter()
                .any(|v| matches!(v, AllowedValue::Integer(i) if *i == value))
    }
}

/// A key's property-list type.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// `<string>`.
    String,
    /// `<integer>` (signed 64-bit).
    Integer,
    /// `<real>` (an `<integer>` is accepted).
    Real,
    /// `<boolean>`.
    Boolean,
    /// `<date>`.
    Date,
    /// `<data>`.
    Data,
    /// `<any>`: any property-list value.
    Any,
    /// `<array>` of the given item.
    Array(&'static KeySpec),
    /// `<dictionary>` with these keys (none listed: any keys).
    Dictionary(&'static [KeySpec]),
    /// `<dictionary>` whose keys are free (`ANY …`), each value of the given spec.
    Map(&'static KeySpec),
    /// A dictionary that is one of several shapes, told apart by the string at `tag`
    /// (`Settings` items by `Item`).
    Union {
        /// The key holding the tag.
        tag: &'static str,
        /// One entry per shape: the tag value and its keys (the tag key included).
        variants: &'static [(&'static str, &'static [KeySpec])],
    },
}

impl Kind {
    /// The schema's name of the type: `string`, `integer`, `real`, `boolean`, `date`, `data`,
    /// `any`, `array`, `dictionary`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Real => "real",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Data => "data",
            Self::Any => "any",
            Self::Array(_) => "array",
            Self::Dictionary(_) | Self::Map(_) | Self::Union { .. } => "dictionary",
        }
    }
}

/// One allowed value of a key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AllowedValue {
    /// A string value, with its own availability when the schema gives one (the
    /// `DeviceInformation` query names do).
    String {
        /// The value.
        value: &'static str,
        /// Where the value is supported, if the schema says (otherwise the key's).
        availability: Option<Availability>,
    },
    /// An integer value.
    Integer(i64),
}

/// A key's documented default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// A boolean default.
    Boolean(bool),
    /// An integer default.
    Integer(i64),
    /// A string default.
    String(&'static str),
}

/// What the schema says about one request type (a command, or a check-in message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageSpec {
    /// The `RequestType` (or `MessageType`) string.
    pub name: &'static str,
    /// The schema's title, e.g. `Device Lock Command`.
    pub title: &'static str,
    /// Where it is supported.
    pub availability: Availability,
    /// The keys of the request (a command's `Command` dictionary without `RequestType`; a
    /// check-in message without `MessageType`).
    pub request: &'static [KeySpec],
    /// The keys of the response (a command response's own keys beside the envelope; the
    /// server's answer to a check-in message).
    pub response: &'static [KeySpec],
}

impl MessageSpec {
    /// The request key named `key`.
    #[must_use]
    pub fn request_key(&self, key: &str) -> Option<&'static KeySpec> {
        self.request.iter().find(|k| k.key == key)
    }

    /// The response key named `key`.
    #[must_use]
    pub fn response_key(&self, key: &str) -> Option<&'static KeySpec> {
        self.response.iter().find(|k| k.key == key)
    }
}
