//! Conversions between property-list values and typed Rust values, with the key path of every
//! value for errors. The generated types (`src/generated/`) read and write themselves through
//! these; the trees they read were built under [`Limits`](crate::Limits) by `input.rs`.

use alloc::collections::BTreeMap;
use core::fmt;

use plist::{Data, Date, Dictionary, Integer, Value};

use crate::{
    ParseError,
    fields::{Fields, type_name},
    redact::{redact_under, redact_untyped},
    secret::{Password, REDACTED, SecretData, UnlockToken, scrub},
};

/// Where a value sits, built on the stack and only rendered when an error names it.
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    /// A rendered path (`""` for the top level).
    Path(&'a str),
    /// A key inside the dictionary at the parent path.
    Key(&'a At<'a>, &'a str),
    /// An item of the array at the parent path.
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => f.write_str(path),
            Self::Key(parent, key) => {
                let parent = parent.to_string();
                if parent.is_empty() {
                    f.write_str(key)
                } else {
                    write!(f, "{parent}.{key}")
                }
            }
            Self::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A wrong-type error for `found` at `at`; `found` is scrubbed (it may hold a secret).
pub(crate) fn wrong_type(at: &At<'_>, expected: &'static str, found: Value) -> ParseError {
    let error = ParseError::WrongType {
        path: at.to_string(),
        expected,
        found: type_name(&found),
    };
    scrub(found);
    error
}

/// A value read from a property list.
pub(crate) trait FromPlist: Sized {
    /// The type errors name, e.g. `string`.
    const EXPECTED: &'static str;

    /// Converts `value` (found at `at`).
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError>;
}

/// A value written to a property list; secrets become [`REDACTED`] when `redact` is set.
pub(crate) trait ToPlist {
    /// The property-list value.
    fn to_plist(&self, redact: bool) -> Value;

    /// The value written under `key`: the same, except for untyped values, which a
    /// secret-named key redacts whole.
    fn to_plist_at(&self, _key: &str, redact: bool) -> Value {
        self.to_plist(redact)
    }
}

impl FromPlist for String {
    const EXPECTED: &'static str = "string";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::String(s) => Ok(s),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for String {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::String(self.clone())
    }
}

impl FromPlist for bool {
    const EXPECTED: &'static str = "boolean";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Boolean(b) => Ok(b),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for bool {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::Boolean(*self)
    }
}

impl FromPlist for i64 {
    const EXPECTED: &'static str = "integer";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Integer(i) => i.as_signed().ok_or_else(|| ParseError::InvalidValue {
                path: at.to_string(),
                expected: "a signed 64-bit integer",
                reason: "the value is larger than 2^63 - 1".to_owned(),
            }),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for i64 {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::Integer(Integer::from(*self))
    }
}

impl FromPlist for f64 {
    const EXPECTED: &'static str = "real";
    /// A `<real>`, or an `<integer>` (devices write whole numbers either way).
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Real(r) => Ok(r),
            Value::Integer(i) => match (i.as_signed(), i.as_unsigned()) {
                #[allow(clippy::cast_precision_loss)] // a real is what the schema asks for
                (Some(i), _) => Ok(i as f64),
                #[allow(clippy::cast_precision_loss)]
                (None, Some(u)) => Ok(u as f64),
                (None, None) => Err(wrong_type(at, Self::EXPECTED, Value::Integer(i))),
            },
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for f64 {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::Real(*self)
    }
}

impl FromPlist for Date {
    const EXPECTED: &'static str = "date";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Date(d) => Ok(d),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for Date {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::Date(*self)
    }
}

impl FromPlist for Data {
    const EXPECTED: &'static str = "data";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Data(d) => Ok(Data::new(d)),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for Data {
    fn to_plist(&self, _redact: bool) -> Value {
        Value::Data(self.as_ref().to_vec())
    }
}

/// `<any>`: kept as it came (untyped, so redacted by key name when redacting).
impl FromPlist for Value {
    const EXPECTED: &'static str = "any value";
    fn from_plist(value: Value, _at: &At<'_>) -> Result<Self, ParseError> {
        Ok(value)
    }
}

impl ToPlist for Value {
    fn to_plist(&self, redact: bool) -> Value {
        if redact {
            redact_untyped(self)
        } else {
            self.clone()
        }
    }

    fn to_plist_at(&self, key: &str, redact: bool) -> Value {
        if redact {
            redact_under(key, self)
        } else {
            self.clone()
        }
    }
}

/// A `<dictionary>` the schema gives no keys for.
impl FromPlist for Dictionary {
    const EXPECTED: &'static str = "dictionary";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Dictionary(d) => Ok(d),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for Dictionary {
    fn to_plist(&self, redact: bool) -> Value {
        Value::Dictionary(redacted_dictionary(self, redact))
    }
}

/// `dict` as written: a copy, with untyped secrets redacted when `redact` is set.
pub(crate) fn redacted_dictionary(dict: &Dictionary, redact: bool) -> Dictionary {
    if redact {
        match redact_untyped(&Value::Dictionary(dict.clone())) {
            Value::Dictionary(d) => d,
            _ => Dictionary::new(),
        }
    } else {
        dict.clone()
    }
}

impl FromPlist for Password {
    const EXPECTED: &'static str = "string";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        String::from_plist(value, at).map(Self::new)
    }
}

impl ToPlist for Password {
    fn to_plist(&self, redact: bool) -> Value {
        Value::String(if redact {
            REDACTED.to_owned()
        } else {
            self.expose().to_owned()
        })
    }
}

impl FromPlist for SecretData {
    const EXPECTED: &'static str = "data";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Data(d) => Ok(Self::new(d)),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for SecretData {
    fn to_plist(&self, redact: bool) -> Value {
        if redact {
            Value::String(REDACTED.to_owned())
        } else {
            Value::Data(self.as_bytes().to_vec())
        }
    }
}

impl FromPlist for UnlockToken {
    const EXPECTED: &'static str = "data";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        match value {
            Value::Data(d) => Ok(Self::new(d)),
            other => Err(wrong_type(at, Self::EXPECTED, other)),
        }
    }
}

impl ToPlist for UnlockToken {
    fn to_plist(&self, redact: bool) -> Value {
        if redact {
            Value::String(REDACTED.to_owned())
        } else {
            Value::Data(self.as_bytes().to_vec())
        }
    }
}

impl<T: FromPlist> FromPlist for Vec<T> {
    const EXPECTED: &'static str = "array";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        let Value::Array(items) = value else {
            return Err(wrong_type(at, Self::EXPECTED, value));
        };
        let mut out = Vec::with_capacity(items.len());
        let mut items = items.into_iter().enumerate();
        while let Some((index, item)) = items.next() {
            match T::from_plist(item, &At::Index(at, index)) {
                Ok(item) => out.push(item),
                Err(error) => {
                    items.for_each(|(_, rest)| scrub(rest));
                    return Err(error);
                }
            }
        }
        Ok(out)
    }
}

impl<T: ToPlist> ToPlist for Vec<T> {
    fn to_plist(&self, redact: bool) -> Value {
        Value::Array(self.iter().map(|item| item.to_plist(redact)).collect())
    }
}

/// A dictionary with free keys (`ANY …` in the schema).
impl<T: FromPlist> FromPlist for BTreeMap<String, T> {
    const EXPECTED: &'static str = "dictionary";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        let Value::Dictionary(dict) = value else {
            return Err(wrong_type(at, Self::EXPECTED, value));
        };
        let mut out = BTreeMap::new();
        let mut entries = dict.into_iter();
        while let Some((key, item)) = entries.next() {
            match T::from_plist(item, &At::Key(at, &key)) {
                Ok(item) => {
                    out.insert(key, item);
                }
                Err(error) => {
                    entries.for_each(|(k, rest)| {
                        scrub(Value::String(k));
                        scrub(rest);
                    });
                    return Err(error);
                }
            }
        }
        Ok(out)
    }
}

impl<T: ToPlist> ToPlist for BTreeMap<String, T> {
    fn to_plist(&self, redact: bool) -> Value {
        Value::Dictionary(
            self.iter()
                .map(|(key, item)| (key.clone(), item.to_plist_at(key, redact)))
                .collect(),
        )
    }
}

impl<T: ToPlist> ToPlist for Box<T> {
    fn to_plist(&self, redact: bool) -> Value {
        (**self).to_plist(redact)
    }
}

/// The dictionary at `at`, as [`Fields`] for a generated struct to take apart.
pub(crate) fn dictionary_fields(value: Value, at: &At<'_>) -> Result<Fields, ParseError> {
    match value {
        Value::Dictionary(dict) => Ok(Fields::new(dict, at.to_string())),
        other => Err(wrong_type(at, "dictionary", other)),
    }
}

/// An open enumeration generated from a `rangelist`: the listed values and `Other` for any
/// value Apple adds later (kept verbatim).
pub(crate) trait OpenEnum: Sized {
    /// The value for a wire string.
    fn from_wire(value: String) -> Self;
    /// The wire string.
    fn wire(&self) -> &str;
}

/// Implements [`FromPlist`] and [`ToPlist`] for an [`OpenEnum`] (read and written as strings).
macro_rules! open_enum_plist {
    ($ty:ty) => {
        impl $crate::typed::FromPlist for $ty {
            const EXPECTED: &'static str = "string";
            fn from_plist(
                value: plist::Value,
                at: &$crate::typed::At<'_>,
            ) -> Result<Self, $crate::ParseError> {
                String::from_plist(value, at).map(<$ty as $crate::typed::OpenEnum>::from_wire)
            }
        }

        impl $crate::typed::ToPlist for $ty {
            fn to_plist(&self, _redact: bool) -> plist::Value {
                plist::Value::String(<$ty as $crate::typed::OpenEnum>::wire(self).to_owned())
            }
        }
    };
}

pub(crate) use open_enum_plist;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_keys_and_indexes() {
        let root = At::Path("");
        let a = At::Key(&root, "QueryResponses");
        let b = At::Key(&a, "ServiceSubscriptions");
        let c = At::Index(&b, 1);
        let d = At::Key(&c, "IMEI");
        assert_eq!(d.to_string(), "QueryResponses.ServiceSubscriptions[1].IMEI");
        let nested = At::Path("Command");
        assert_eq!(At::Key(&nested, "PIN").to_string(), "Command.PIN");
    }

    #[test]
    fn reals_accept_integers_and_integers_refuse_reals() {
        let at = At::Path("X");
        assert_eq!(f64::from_plist(Value::Integer(3.into()), &at), Ok(3.0));
        assert!(matches!(
            i64::from_plist(Value::Real(2.5), &at),
            Err(ParseError::WrongType {
                expected: "integer",
                found: "real",
                ..
            })
        ));
        assert!(matches!(
            i64::from_plist(Value::Integer(u64::MAX.into()), &at),
            Err(ParseError::InvalidValue { .. })
        ));
    }

    #[test]
    fn array_errors_name_the_index() {
        let at = At::Path("L");
        let value = Value::Array(vec![Value::String("a".into()), Value::Boolean(true)]);
        let error = Vec::<String>::from_plist(value, &at).unwrap_err();
        assert_eq!(error.path(), Some("L[1]"));
    }
}
