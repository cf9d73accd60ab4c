//! Typed access to dictionary keys with key paths in every error, and the matching writer.

use plist::{Dictionary, Integer, Value};

use crate::{
    ParseError,
    secret::{Password, REDACTED, SecretData, UnlockToken, scrub},
    typed::{At, FromPlist, ToPlist, redacted_dictionary},
};

/// The property-list type name of a value, as errors print it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::Dictionary(_) => "dictionary",
        Value::Boolean(_) => "boolean",
        Value::Data(_) => "data",
        Value::Date(_) => "date",
        Value::Real(_) => "real",
        Value::Integer(_) => "integer",
        Value::String(_) => "string",
        Value::Uid(_) => "UID",
        _ => "unknown value",
    }
}

/// A dictionary being taken apart key by key; what is left over is kept as the unknown keys.
///
/// Whatever it still holds when dropped is scrubbed: on a parse error, the keys not read yet
/// (an `UnlockToken` after a bad `Topic`, a whole dictionary that is no MDM message) may be
/// secrets.
pub(crate) struct Fields {
    dict: Dictionary,
    path: String,
}

impl Drop for Fields {
    fn drop(&mut self) {
        if !self.dict.is_empty() {
            scrub(Value::Dictionary(core::mem::take(&mut self.dict)));
        }
    }
}

impl Fields {
    /// `path` is the key path of the dictionary itself (`""` for the top level).
    pub(crate) fn new(dict: Dictionary, path: impl Into<String>) -> Self {
        Self {
            dict,
            path: path.into(),
        }
    }

    /// The key path of `key` inside this dictionary.
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.dict.contains_key(key)
    }

    /// The value at `key`, if any, without taking it.
    pub(crate) fn peek(&self, key: &str) -> Option<&Value> {
        self.dict.get(key)
    }

    /// Removes `key` (a tag the caller has looked at), scrubbing its value.
    pub(crate) fn discard(&mut self, key: &str) {
        if let Some(value) = self.dict.remove(key) {
            scrub(value);
        }
    }

    /// Takes the string at `key`, which must be `expected` (a message's tag, e.g. `code`).
    pub(crate) fn expect_tag(&mut self, key: &str, expected: &str) -> Result<(), ParseError> {
        let path = self.path_of(key);
        let found = self.string(key)?;
        if found == expected {
            Ok(())
        } else {
            Err(ParseError::InvalidValue {
                path,
                expected: "the tag of this message",
                reason: format!("found {found:?} instead of {expected:?}"),
            })
        }
    }

    /// The typed value at `key`, taken out, or `None` when absent.
    pub(crate) fn opt<T: FromPlist>(&mut self, key: &str) -> Result<Option<T>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(value) => {
                let root = At::Path(&self.path);
                T::from_plist(value, &At::Key(&root, key)).map(Some)
            }
        }
    }

    /// The typed value at `key`, which must be present.
    pub(crate) fn req<T: FromPlist>(&mut self, key: &str) -> Result<T, ParseError> {
        self.opt(key)?.ok_or_else(|| self.missing(key, T::EXPECTED))
    }

    fn wrong(&self, key: &str, expected: &'static str, found: Value) -> ParseError {
        let error = ParseError::WrongType {
            path: self.path_of(key),
            expected,
            found: type_name(&found),
        };
        scrub(found);
        error
    }

    fn missing(&self, key: &str, expected: &'static str) -> ParseError {
        ParseError::Missing {
            path: self.path_of(key),
            expected,
        }
    }

    pub(crate) fn opt_string(&mut self, key: &str) -> Result<Option<String>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(key, "string", other)),
        }
    }

    pub(crate) fn string(&mut self, key: &str) -> Result<String, ParseError> {
        self.opt_string(key)?
            .ok_or_else(|| self.missing(key, "string"))
    }

    pub(crate) fn opt_password(&mut self, key: &str) -> Result<Option<Password>, ParseError> {
        Ok(self.opt_string(key)?.map(Password::new))
    }

    pub(crate) fn password(&mut self, key: &str) -> Result<Password, ParseError> {
        self.opt_password(key)?
            .ok_or_else(|| self.missing(key, "string"))
    }

    pub(crate) fn opt_bool(&mut self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong(key, "boolean", other)),
        }
    }

    pub(crate) fn bool(&mut self, key: &str) -> Result<bool, ParseError> {
        self.opt_bool(key)?
            .ok_or_else(|| self.missing(key, "boolean"))
    }

    pub(crate) fn opt_integer(&mut self, key: &str) -> Result<Option<i64>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => match i.as_signed() {
                Some(i) => Ok(Some(i)),
                None => Err(ParseError::InvalidValue {
                    path: self.path_of(key),
                    expected: "a signed 64-bit integer",
                    reason: "the value is larger than 2^63 - 1".to_owned(),
                }),
            },
            Some(other) => Err(self.wrong(key, "integer", other)),
        }
    }

    pub(crate) fn opt_data(&mut self, key: &str) -> Result<Option<Vec<u8>>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::Data(d)) => Ok(Some(d)),
            Some(other) => Err(self.wrong(key, "data", other)),
        }
    }

    pub(crate) fn data(&mut self, key: &str) -> Result<Vec<u8>, ParseError> {
        self.opt_data(key)?.ok_or_else(|| self.missing(key, "data"))
    }

    pub(crate) fn opt_unlock_token(
        &mut self,
        key: &str,
    ) -> Result<Option<UnlockToken>, ParseError> {
        Ok(self.opt_data(key)?.map(UnlockToken::new))
    }

    pub(crate) fn opt_secret_data(&mut self, key: &str) -> Result<Option<SecretData>, ParseError> {
        Ok(self.opt_data(key)?.map(SecretData::new))
    }

    pub(crate) fn opt_dict(&mut self, key: &str) -> Result<Option<Fields>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::Dictionary(d)) => Ok(Some(Fields::new(d, self.path_of(key)))),
            Some(other) => Err(self.wrong(key, "dictionary", other)),
        }
    }

    pub(crate) fn dict(&mut self, key: &str) -> Result<Fields, ParseError> {
        self.opt_dict(key)?
            .ok_or_else(|| self.missing(key, "dictionary"))
    }

    fn opt_array(
        &mut self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<Vec<Value>>, ParseError> {
        match self.dict.remove(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(key, expected, other)),
        }
    }

    /// An array of strings; an element of another type names its index in the path.
    pub(crate) fn opt_string_array(
        &mut self,
        key: &str,
    ) -> Result<Option<Vec<String>>, ParseError> {
        let Some(items) = self.opt_array(key, "array of strings")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        let mut items = items.into_iter().enumerate();
        while let Some((index, item)) = items.next() {
            match item {
                Value::String(s) => out.push(s),
                other => {
                    let error = ParseError::WrongType {
                        path: format!("{}[{index}]", self.path_of(key)),
                        expected: "string",
                        found: type_name(&other),
                    };
                    scrub(other);
                    scrub(Value::Array(items.map(|(_, item)| item).collect()));
                    scrub(Value::Array(out.into_iter().map(Value::String).collect()));
                    return Err(error);
                }
            }
        }
        Ok(Some(out))
    }

    /// An array of dictionaries, each with its own key path `Key[i]`.
    pub(crate) fn opt_dict_array(&mut self, key: &str) -> Result<Option<Vec<Fields>>, ParseError> {
        let Some(items) = self.opt_array(key, "array of dictionaries")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        let mut items = items.into_iter().enumerate();
        while let Some((index, item)) = items.next() {
            let path = format!("{}[{index}]", self.path_of(key));
            match item {
                Value::Dictionary(d) => out.push(Fields::new(d, path)),
                other => {
                    let found = type_name(&other);
                    scrub(other);
                    // The dictionaries already taken scrub themselves when `out` drops.
                    scrub(Value::Array(items.map(|(_, item)| item).collect()));
                    return Err(ParseError::WrongType {
                        path,
                        expected: "dictionary",
                        found,
                    });
                }
            }
        }
        Ok(Some(out))
    }

    /// The keys nobody took: kept verbatim.
    pub(crate) fn rest(mut self) -> Dictionary {
        core::mem::take(&mut self.dict)
    }
}

/// Builds a dictionary for writing; secrets are written as [`REDACTED`] when `redact` is set.
pub(crate) struct DictWriter {
    dict: Dictionary,
    redact: bool,
}

impl DictWriter {
    pub(crate) fn new(redact: bool) -> Self {
        Self {
            dict: Dictionary::new(),
            redact,
        }
    }

    /// Starts from the unknown keys kept at parse time (redacted by key name when redacting:
    /// no type says what they hold); typed keys written later win.
    pub(crate) fn with_extra(redact: bool, extra: &Dictionary) -> Self {
        Self {
            dict: redacted_dictionary(extra, redact),
            redact,
        }
    }

    /// Writes a typed value.
    pub(crate) fn put<T: ToPlist + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        let value = value.to_plist_at(key, self.redact);
        self.value(key, value)
    }

    /// Writes a typed value when present.
    pub(crate) fn put_opt<T: ToPlist>(&mut self, key: &str, value: Option<&T>) -> &mut Self {
        if let Some(value) = value {
            self.put(key, value);
        }
        self
    }

    pub(crate) fn redacting(&self) -> bool {
        self.redact
    }

    pub(crate) fn value(&mut self, key: &str, value: Value) -> &mut Self {
        self.dict.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.value(key, Value::String(value.to_owned()))
    }

    pub(crate) fn opt_string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.string(key, value);
        }
        self
    }

    pub(crate) fn opt_bool(&mut self, key: &str, value: Option<bool>) -> &mut Self {
        if let Some(value) = value {
            self.value(key, Value::Boolean(value));
        }
        self
    }

    pub(crate) fn opt_integer(&mut self, key: &str, value: Option<i64>) -> &mut Self {
        if let Some(value) = value {
            self.value(key, Value::Integer(Integer::from(value)));
        }
        self
    }

    pub(crate) fn data(&mut self, key: &str, value: &[u8]) -> &mut Self {
        self.value(key, Value::Data(value.to_vec()))
    }

    pub(crate) fn opt_data(&mut self, key: &str, value: Option<&[u8]>) -> &mut Self {
        if let Some(value) = value {
            self.data(key, value);
        }
        self
    }

    /// Secret bytes: `<data>`, or the string [`REDACTED`] when redacting.
    pub(crate) fn secret_data(&mut self, key: &str, value: Option<&[u8]>) -> &mut Self {
        match value {
            Some(_) if self.redact => self.string(key, REDACTED),
            Some(bytes) => self.data(key, bytes),
            None => self,
        }
    }

    /// A secret string, or [`REDACTED`] when redacting.
    pub(crate) fn secret_string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(_) if self.redact => self.string(key, REDACTED),
            Some(s) => self.string(key, s),
            None => self,
        }
    }

    pub(crate) fn opt_password(&mut self, key: &str, value: Option<&Password>) -> &mut Self {
        self.secret_string(key, value.map(Password::expose))
    }

    pub(crate) fn finish(&mut self) -> Dictionary {
        core::mem::take(&mut self.dict)
    }
}
