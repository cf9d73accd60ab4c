//! Building a command of any request type from key/value pairs, a JSON object or a
//! property-list dictionary, checked against Apple's schema ([`crate::schema`]): unknown keys,
//! wrong types, values the schema does not list and missing required keys are refused with
//! their key path.

mod check;
mod convert;

use plist::{Dictionary, Value};

use self::{
    check::{check, required},
    convert::{from_json, from_text},
};
use crate::{
    Command, CommandType, ParseError,
    fields::Fields,
    schema::{KeySpec, Kind, MessageSpec},
    secret::scrub,
};

/// Why a command could not be built. No variant quotes a value (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The request type is not one of Apple's schema.
    #[error("unknown request type {name:?}")]
    UnknownRequestType {
        /// The name given.
        name: String,
    },
    /// A key the schema does not define at this place.
    #[error("{path}: unknown key (known here: {})", known.join(", "))]
    UnknownKey {
        /// Key path of the unknown key.
        path: String,
        /// The keys the schema defines there.
        known: Vec<&'static str>,
    },
    /// A value of the wrong type, or text that does not read as the key's type.
    #[error("{path}: expected {expected}: {reason}")]
    WrongType {
        /// Key path of the value.
        path: String,
        /// The schema's type, e.g. `integer`.
        expected: &'static str,
        /// What is wrong (the value itself is never quoted).
        reason: String,
    },
    /// A value the schema does not list for this key.
    #[error("{path}: not one of the values the schema lists ({})", allowed.join(", "))]
    NotAllowed {
        /// Key path of the value.
        path: String,
        /// The values the schema lists.
        allowed: Vec<String>,
    },
    /// A required key is not set.
    #[error("{path}: required key is not set (expected {expected})")]
    Missing {
        /// Key path of the missing key.
        path: String,
        /// Its type.
        expected: &'static str,
    },
    /// A key path that cannot be followed.
    #[error("{path}: {reason}")]
    BadPath {
        /// The path, as far as it was read.
        path: String,
        /// Why it cannot be followed.
        reason: String,
    },
    /// A `KEY=VALUE` assignment without `=`.
    #[error("expected KEY=VALUE, found no `=` after {key:?}")]
    BadAssignment {
        /// The text before the end (the key).
        key: String,
    },
    /// The built command does not parse as its type (a hand-written type stricter than the
    /// schema, e.g. an unlisted `KeyType` of `RotateFileVaultKey`).
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A command of any request type, built key by key and checked against Apple's schema.
///
/// Key paths are the wire keys joined by `.`; array items are numbered from 0 in order (the
/// next number appends an item); in free-key dictionaries (`ANY …` in the schema) any key is
/// accepted, and a `.` inside a key is written `\.`. A value is read as the key's type:
/// strings as they are, integers and reals in decimal, booleans as `true`/`false`, dates in
/// RFC 3339 (`2026-11-23T10:00:00Z`), data in base64 (or hex after `hex:`); arrays and
/// dictionaries as JSON; values of no declared type (`<any>`) as JSON when they read as JSON,
/// as strings otherwise. Items of `Settings` need their `Item` first.
///
/// ```
/// use mdm_protocol::{CommandBuilder, CommandRequest, CommandType, SchemaRequest};
///
/// let mut builder = CommandBuilder::new(CommandType::Settings);
/// builder
///     .set("Settings.0.Item", "DeviceName")?
///     .set("Settings.0.DeviceName", "Kiosk 7")?
///     .set_assignment("Settings.1={\"Item\": \"Bluetooth\", \"Enabled\": false}")?;
/// let command = builder.build()?;
/// assert!(matches!(command.request, CommandRequest::Schema(SchemaRequest::Settings(_))));
///
/// let error = CommandBuilder::new(CommandType::DeviceLock).set("Pin", "1234").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "Pin: unknown key (known here: Message, PhoneNumber, PIN, RequestRequiresNetworkTether)"
/// );
/// # Ok::<(), mdm_protocol::BuildError>(())
/// ```
///
/// Every request type and where it runs, as `alb command --list` shows them:
///
/// ```
/// use mdm_protocol::CommandType;
///
/// for command_type in CommandType::ALL {
///     let line = format!("{command_type}: {} ({})", command_type.title(), command_type.availability());
///     assert!(!line.is_empty());
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CommandBuilder {
    command_type: CommandType,
    uuid: Option<String>,
    payload: Dictionary,
    allow_unlisted: bool,
}

/// The envelope key every command may carry besides its own.
const TETHER: &str = "RequestRequiresNetworkTether";

impl Drop for CommandBuilder {
    fn drop(&mut self) {
        scrub(Value::Dictionary(core::mem::take(&mut self.payload)));
    }
}

impl CommandBuilder {
    /// A builder for `command_type` with no key set.
    #[must_use]
    pub fn new(command_type: CommandType) -> Self {
        Self {
            command_type,
            uuid: None,
            payload: Dictionary::new(),
            allow_unlisted: false,
        }
    }

    /// A builder for the request type named `name` (e.g. `DeviceLock`).
    ///
    /// # Errors
    /// [`BuildError::UnknownRequestType`] when the schema has no such request type.
    pub fn for_request_type(name: &str) -> Result<Self, BuildError> {
        name.parse::<CommandType>()
            .map(Self::new)
            .map_err(|_| BuildError::UnknownRequestType {
                name: name.to_owned(),
            })
    }

    /// The request type being built.
    #[must_use]
    pub fn command_type(&self) -> CommandType {
        self.command_type
    }

    /// What the schema says about the request type's keys.
    #[must_use]
    pub fn spec(&self) -> &'static MessageSpec {
        self.command_type.spec()
    }

    /// Sets the `CommandUUID` (a fresh random one otherwise).
    pub fn uuid(&mut self, uuid: impl Into<String>) -> &mut Self {
        self.uuid = Some(uuid.into());
        self
    }

    /// Accepts string and integer values the schema does not list (Apple adds values in new OS
    /// releases); refused by default.
    pub fn allow_unlisted_values(&mut self, allow: bool) -> &mut Self {
        self.allow_unlisted = allow;
        self
    }

    /// Sets the key at `path` from text read as the key's type (see the type's docs).
    ///
    /// # Errors
    /// [`BuildError`] naming the key path: unknown key, text not of the key's type, a value
    /// the schema does not list, a path that cannot be followed.
    pub fn set(&mut self, path: &str, text: &str) -> Result<&mut Self, BuildError> {
        let segments = split_path(path)?;
        let allow = self.allow_unlisted;
        self.place(&segments, &|spec, at| {
            let value = from_text(text, spec, at)?;
            check(value, spec, at, allow)
        })?;
        Ok(self)
    }

    /// Sets the key at `path` to a property-list value, checked against the schema.
    ///
    /// # Errors
    /// As [`Self::set`].
    pub fn set_value(&mut self, path: &str, value: &Value) -> Result<&mut Self, BuildError> {
        let segments = split_path(path)?;
        let allow = self.allow_unlisted;
        self.place(&segments, &|spec, at| check(value.clone(), spec, at, allow))?;
        Ok(self)
    }

    /// Sets `KEY=VALUE` (the first `=` separates them), as [`Self::set`].
    ///
    /// # Errors
    /// [`BuildError::BadAssignment`] without `=`, otherwise as [`Self::set`].
    pub fn set_assignment(&mut self, assignment: &str) -> Result<&mut Self, BuildError> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(BuildError::BadAssignment {
                key: assignment.chars().take(64).collect(),
            });
        };
        self.set(key, value)
    }

    /// Sets every key of a JSON object (strings are read as the key's type where JSON has
    /// none: data in base64 or `hex:…`, dates in RFC 3339).
    ///
    /// # Errors
    /// [`BuildError::WrongType`] when `json` is not a JSON object, otherwise as
    /// [`Self::set`].
    pub fn set_json(&mut self, json: &str) -> Result<&mut Self, BuildError> {
        let parsed: serde_json::Value =
            serde_json::from_str(json).map_err(|e| BuildError::WrongType {
                path: "(root)".to_owned(),
                expected: "a JSON object",
                reason: format!(
                    "line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    format!("{:?}", e.classify()).to_lowercase()
                ),
            })?;
        let serde_json::Value::Object(map) = parsed else {
            return Err(BuildError::WrongType {
                path: "(root)".to_owned(),
                expected: "a JSON object",
                reason: "not an object".to_owned(),
            });
        };
        let allow = self.allow_unlisted;
        for (key, json) in &map {
            let segment = [key.clone()];
            self.place(&segment, &|spec, at| {
                check(from_json(json, spec, at)?, spec, at, allow)
            })?;
        }
        Ok(self)
    }

    /// Sets every key of a property-list dictionary (the `Command` dictionary's keys, without
    /// `RequestType`).
    ///
    /// # Errors
    /// As [`Self::set_value`].
    pub fn set_plist(&mut self, dict: &Dictionary) -> Result<&mut Self, BuildError> {
        for (key, value) in dict {
            let segment = [key.clone()];
            let allow = self.allow_unlisted;
            self.place(&segment, &|spec, at| check(value.clone(), spec, at, allow))?;
        }
        Ok(self)
    }

    /// The command, its payload typed (hand-written or generated).
    ///
    /// # Errors
    /// [`BuildError::Missing`] for a required key not set (at any depth), or
    /// [`BuildError::Parse`] when a hand-written type refuses what the schema allows.
    pub fn build(&self) -> Result<Command, BuildError> {
        let spec = self.spec();
        required(&self.payload, spec.request, "")?;
        let mut dict = self.payload.clone();
        dict.insert(
            "RequestType".to_owned(),
            Value::String(self.command_type.as_str().to_owned()),
        );
        let mut top = Dictionary::new();
        top.insert(
            "CommandUUID".to_owned(),
            Value::String(
                self.uuid
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase()),
            ),
        );
        top.insert("Command".to_owned(), Value::Dictionary(dict));
        Ok(Command::read(Fields::new(top, ""))?)
    }

    /// Walks `segments` from the top, creating containers, and stores `make`'s value at the
    /// end.
    fn place(
        &mut self,
        segments: &[Segment],
        make: &dyn Fn(&KeySpec, &str) -> Result<Value, BuildError>,
    ) -> Result<(), BuildError> {
        let Some((first, rest)) = segments.split_first() else {
            return Err(BuildError::BadPath {
                path: String::new(),
                reason: "a key path starts with a key".to_owned(),
            });
        };
        let spec = match self.spec().request_key(first) {
            Some(spec) => spec,
            None if first == TETHER => &TETHER_SPEC,
            None => {
                let mut known: Vec<&'static str> =
                    self.spec().request.iter().map(|k| k.key).collect();
                known.push(TETHER);
                return Err(BuildError::UnknownKey {
                    path: first.clone(),
                    known,
                });
            }
        };
        enter(&mut self.payload, first, spec, rest, first, make)
    }
}

static TETHER_SPEC: KeySpec = KeySpec::new(
    TETHER,
    Kind::Boolean,
    false,
    crate::Availability { platforms: &[] },
);

/// The value of a key in a dictionary the schema gives no keys for.
static ANY_SPEC: KeySpec = KeySpec::new(
    "ANY",
    Kind::Any,
    false,
    crate::Availability { platforms: &[] },
);

/// A placeholder for a value about to be set: an empty container for containers.
fn empty(spec: &KeySpec) -> Value {
    match spec.kind {
        Kind::Array(_) => Value::Array(Vec::new()),
        Kind::Dictionary(_) | Kind::Map(_) | Kind::Union { .. } => {
            Value::Dictionary(Dictionary::new())
        }
        _ => Value::Boolean(false),
    }
}

/// One step of a key path: a key, or an array item's number.
type Segment = String;

fn split_path(path: &str) -> Result<Vec<Segment>, BuildError> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next @ ('.' | '\\')) => current.push(next),
                _ => {
                    return Err(BuildError::BadPath {
                        path: path.to_owned(),
                        reason: "`\\` escapes only `.` and `\\`".to_owned(),
                    });
                }
            },
            '.' => segments.push(core::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    segments.push(current);
    if segments.iter().any(String::is_empty) {
        return Err(BuildError::BadPath {
            path: path.to_owned(),
            reason: "empty key".to_owned(),
        });
    }
    Ok(segments)
}

/// Follows `rest` inside `slot` (described by `spec`, at `path`) and stores the value there.
fn descend(
    slot: &mut Value,
    spec: &KeySpec,
    rest: &[Segment],
    path: &str,
    make: &dyn Fn(&KeySpec, &str) -> Result<Value, BuildError>,
) -> Result<(), BuildError> {
    let Some((key, rest)) = rest.split_first() else {
        *slot = make(spec, path)?;
        return Ok(());
    };
    let child_path = format!("{path}.{}", key.replace('.', "\\."));
    match (spec.kind, slot) {
        (Kind::Array(item), Value::Array(items)) => {
            let index: usize = key.parse().map_err(|_| BuildError::BadPath {
                path: child_path.clone(),
                reason: "an array item is a number".to_owned(),
            })?;
            if index > items.len() {
                return Err(BuildError::BadPath {
                    path: child_path,
                    reason: format!(
                        "items are numbered in order; the next one is {}",
                        items.len()
                    ),
                });
            }
            if index == items.len() {
                items.push(empty(item));
                let result = descend(&mut items[index], item, rest, &child_path, make);
                if result.is_err() {
                    items.pop();
                }
                return result;
            }
            descend(&mut items[index], item, rest, &child_path, make)
        }
        (Kind::Dictionary(keys), Value::Dictionary(dict)) if !keys.is_empty() => {
            let Some(child) = keys.iter().find(|k| k.key == *key) else {
                return Err(BuildError::UnknownKey {
                    path: child_path,
                    known: keys.iter().map(|k| k.key).collect(),
                });
            };
            enter(dict, key, child, rest, &child_path, make)
        }
        (Kind::Dictionary(_), Value::Dictionary(dict)) => {
            enter(dict, key, &ANY_SPEC, rest, &child_path, make)
        }
        (Kind::Map(value), Value::Dictionary(dict)) => {
            enter(dict, key, value, rest, &child_path, make)
        }
        (Kind::Union { tag, variants }, Value::Dictionary(dict)) => {
            if key == tag {
                let tag_spec = KeySpec::new(tag, Kind::String, true, spec.availability);
                let value = make(&tag_spec, &child_path)?;
                let name = value.as_string().unwrap_or_default();
                if !variants.iter().any(|(v, _)| *v == name) {
                    return Err(BuildError::NotAllowed {
                        path: child_path,
                        allowed: variants.iter().map(|(v, _)| (*v).to_owned()).collect(),
                    });
                }
                dict.insert(key.clone(), value);
                return Ok(());
            }
            let Some(keys) = dict
                .get(tag)
                .and_then(Value::as_string)
                .and_then(|t| variants.iter().find(|(v, _)| *v == t))
                .map(|(_, keys)| *keys)
            else {
                return Err(BuildError::BadPath {
                    path: child_path,
                    reason: format!("set `{path}.{tag}` first: it says which item this is"),
                });
            };
            let Some(child) = keys.iter().find(|k| k.key == *key) else {
                return Err(BuildError::UnknownKey {
                    path: child_path,
                    known: keys.iter().map(|k| k.key).collect(),
                });
            };
            enter(dict, key, child, rest, &child_path, make)
        }
        _ => Err(BuildError::BadPath {
            path: child_path,
            reason: format!("{path} is a {}, not a container of keys", spec.kind.name()),
        }),
    }
}

fn enter(
    dict: &mut Dictionary,
    key: &str,
    spec: &KeySpec,
    rest: &[Segment],
    path: &str,
    make: &dyn Fn(&KeySpec, &str) -> Result<Value, BuildError>,
) -> Result<(), BuildError> {
    let created = !dict.contains_key(key);
    let slot = dict.entry(key.to_owned()).or_insert_with(|| empty(spec));
    let result = descend(slot, spec, rest, path, make);
    if result.is_err() && created {
        dict.remove(key);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_on_unescaped_dots() {
        assert_eq!(
            split_path(r"Configuration.com\.example\.key").unwrap(),
            ["Configuration", "com.example.key"]
        );
        assert!(split_path("A..B").is_err());
        assert!(split_path(r"A\x").is_err());
    }
}
