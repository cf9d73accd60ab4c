//! Reading untrusted bytes into a property-list tree under [`Limits`].

use std::io::Cursor;

use plist::{
    Dictionary, Value,
    stream::{BinaryReader, Event, OwnedEvent, XmlReader},
};

use crate::{Limits, ParseError, secret::scrub};

/// The two property-list encodings MDM uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlistFormat {
    /// `<?xml …?><plist …>`: what servers send.
    Xml,
    /// `bplist00…`: what devices may answer with.
    Binary,
}

impl PlistFormat {
    /// The format of `bytes`: binary when they start with `bplist00`, XML otherwise.
    #[must_use]
    pub fn detect(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"bplist00") {
            Self::Binary
        } else {
            Self::Xml
        }
    }

    /// `XML` or `binary`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Xml => "XML",
            Self::Binary => "binary",
        }
    }
}

/// Reads `bytes` (XML or binary) into the top-level dictionary, enforcing `limits`.
pub(crate) fn read_dictionary(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Dictionary, PlistFormat), ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = PlistFormat::detect(bytes);
    let root = match format {
        PlistFormat::Binary => build(BinaryReader::new(Cursor::new(bytes)), format, limits)?,
        PlistFormat::Xml => build(XmlReader::new(bytes), format, limits)?,
    };
    match root {
        Value::Dictionary(dict) => Ok((dict, format)),
        other => {
            let found = crate::fields::type_name(&other);
            scrub(other);
            Err(ParseError::WrongType {
                path: "(root)".to_owned(),
                expected: "dictionary",
                found,
            })
        }
    }
}

/// A container being filled.
enum Frame {
    Array(Vec<Value>),
    Dict {
        dict: Dictionary,
        key: Option<String>,
    },
}

impl Frame {
    fn into_value(self) -> Value {
        match self {
            Self::Array(items) => Value::Array(items),
            Self::Dict { dict, .. } => Value::Dictionary(dict),
        }
    }
}

/// The tree under construction: containers being filled and the finished root. Whatever it
/// still holds when dropped (on any error) is scrubbed, as it may hold secrets.
struct Builder<'a> {
    stack: Vec<Frame>,
    root: Option<Value>,
    values: usize,
    decoded: usize,
    format: PlistFormat,
    limits: &'a Limits,
}

impl Drop for Builder<'_> {
    fn drop(&mut self) {
        for frame in self.stack.drain(..) {
            scrub(frame.into_value());
        }
        if let Some(value) = self.root.take() {
            scrub(value);
        }
    }
}

impl Builder<'_> {
    fn syntax(&self, reason: &str) -> ParseError {
        ParseError::Syntax {
            format: self.format.as_str(),
            reason: reason.to_owned(),
        }
    }

    fn unsupported(&self, what: &'static str) -> ParseError {
        ParseError::Unsupported {
            path: value_path(&self.stack),
            what,
        }
    }

    fn event(&mut self, event: OwnedEvent) -> Result<(), ParseError> {
        if self.root.is_some() {
            return Err(self.syntax("content after the top-level value"));
        }
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(ParseError::TooManyValues {
                limit: self.limits.max_values,
            });
        }
        let value = match event {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(ParseError::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                self.stack.push(if matches!(event, Event::StartArray(_)) {
                    Frame::Array(Vec::new())
                } else {
                    Frame::Dict {
                        dict: Dictionary::new(),
                        key: None,
                    }
                });
                return Ok(());
            }
            Event::EndCollection => match self.stack.pop() {
                Some(Frame::Dict {
                    key: Some(key),
                    dict,
                }) => {
                    scrub(Value::Dictionary(dict));
                    scrub(Value::String(key));
                    return Err(self.syntax("dictionary key without a value"));
                }
                Some(frame) => frame.into_value(),
                None => return Err(self.syntax("end of a container that was not started")),
            },
            Event::Boolean(b) => Value::Boolean(b),
            Event::Data(data) => {
                self.decoded = self.decoded.saturating_add(data.len());
                Value::Data(data.into_owned())
            }
            Event::Date(date) => {
                if crate::xml_date(date).is_none() {
                    return Err(self.unsupported("a date outside the years 0000-9999"));
                }
                Value::Date(date)
            }
            Event::Integer(i) => Value::Integer(i),
            Event::Real(r) => Value::Real(r),
            Event::String(s) => {
                self.decoded = self.decoded.saturating_add(s.len());
                Value::String(s.into_owned())
            }
            // UIDs belong to keyed archives (NSKeyedArchiver); Apple's MDM schema has none, and
            // an XML plist cannot hold one.
            Event::Uid(_) => return Err(self.unsupported("a UID")),
            _ => return Err(self.syntax("unsupported property-list event")),
        };
        if self.decoded > self.limits.max_decoded_bytes {
            scrub(value);
            return Err(ParseError::TooManyDecodedBytes {
                limit: self.limits.max_decoded_bytes,
            });
        }
        self.place(value)
    }

    /// Puts a finished value into its container (or makes it the root).
    fn place(&mut self, value: Value) -> Result<(), ParseError> {
        let duplicate = match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                return Ok(());
            }
            Some(Frame::Array(items)) => {
                items.push(value);
                return Ok(());
            }
            Some(Frame::Dict { dict, key }) => match (key.take(), value) {
                (None, Value::String(k)) => {
                    *key = Some(k);
                    return Ok(());
                }
                (None, other) => Err(other),
                (Some(k), value) if dict.contains_key(&k) => Ok((k, value)),
                (Some(k), value) => {
                    dict.insert(k, value);
                    return Ok(());
                }
            },
        };
        match duplicate {
            Ok((key, value)) => {
                scrub(value);
                Err(ParseError::DuplicateKey {
                    path: path_of(&self.stack, &key),
                })
            }
            Err(not_a_key) => {
                let found = crate::fields::type_name(&not_a_key);
                scrub(not_a_key);
                Err(ParseError::WrongType {
                    path: path_of(&self.stack, "<key>"),
                    expected: "string (dictionary key)",
                    found,
                })
            }
        }
    }
}

/// Builds one value from events without recursion, counting depth, values and decoded bytes.
fn build<I>(events: I, format: PlistFormat, limits: &Limits) -> Result<Value, ParseError>
where
    I: Iterator<Item = Result<OwnedEvent, plist::Error>>,
{
    let mut builder = Builder {
        stack: Vec::new(),
        root: None,
        values: 0,
        decoded: 0,
        format,
        limits,
    };
    for event in events {
        let event = event.map_err(|error| ParseError::Syntax {
            format: format.as_str(),
            reason: error.to_string(),
        })?;
        builder.event(event)?;
    }
    if !builder.stack.is_empty() {
        return Err(builder.syntax("input ends inside a container"));
    }
    builder
        .root
        .take()
        .ok_or_else(|| builder.syntax("no property list found"))
}

/// The key path of the value about to be placed: `(root)`, `A.B`, `L[2]`, or `A.<key>` where a
/// dictionary key is expected.
fn value_path(stack: &[Frame]) -> String {
    match stack.last() {
        None => "(root)".to_owned(),
        Some(Frame::Dict { key: None, .. }) => path_of(stack, "<key>"),
        Some(_) => {
            let mut path = path_of(stack, "");
            if path.ends_with('.') {
                path.pop();
            }
            path
        }
    }
}

/// A best-effort key path for errors raised while building (dictionary keys on the stack).
fn path_of(stack: &[Frame], key: &str) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Dict { key: Some(k), .. } => {
                path.push_str(k);
                path.push('.');
            }
            Frame::Array(items) => {
                if path.ends_with('.') {
                    path.pop();
                }
                path.push_str(&format!("[{}].", items.len()));
            }
            Frame::Dict { key: None, .. } => {}
        }
    }
    path.push_str(key);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(body: &str) -> Vec<u8> {
        format!("<plist version=\"1.0\">{body}</plist>").into_bytes()
    }

    #[test]
    fn detects_the_format() {
        assert_eq!(PlistFormat::detect(b"bplist00rest"), PlistFormat::Binary);
        assert_eq!(PlistFormat::detect(b"<?xml"), PlistFormat::Xml);
        assert_eq!(PlistFormat::detect(b"bplist"), PlistFormat::Xml);
    }

    #[test]
    fn reads_nested_values() {
        let (dict, format) = read_dictionary(
            &xml("<dict><key>A</key><array><integer>-1</integer><dict/></array></dict>"),
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(format, PlistFormat::Xml);
        let items = dict.get("A").and_then(Value::as_array).unwrap();
        assert_eq!(items[0].as_signed_integer(), Some(-1));
        assert!(items[1].as_dictionary().unwrap().is_empty());
    }

    #[test]
    fn depth_limit_counts_containers() {
        let limits = Limits {
            max_depth: 2,
            ..Limits::DEFAULT
        };
        assert!(read_dictionary(&xml("<dict><key>A</key><dict/></dict>"), &limits).is_ok());
        assert_eq!(
            read_dictionary(
                &xml("<dict><key>A</key><array><array/></array></dict>"),
                &limits
            ),
            Err(ParseError::TooDeep { limit: 2 })
        );
    }

    #[test]
    fn value_paths_name_keys_indices_and_key_positions() {
        let date = "<date>2024-05-01T12:00:00Z</date>";
        for (body, path) in [
            (date.to_owned(), "(root)"),
            (format!("<dict><key>A</key>{date}</dict>"), "A"),
            (
                format!("<dict><key>A</key><array><true/>{date}</array></dict>"),
                "A[1]",
            ),
            (
                format!("<dict><key>A</key><dict><key>B</key>{date}</dict></dict>"),
                "A.B",
            ),
            (
                format!("<dict><key>A</key><dict>{date}</dict></dict>"),
                "A.<key>",
            ),
        ] {
            let mut builder = Builder {
                stack: Vec::new(),
                root: None,
                values: 0,
                decoded: 0,
                format: PlistFormat::Xml,
                limits: &Limits::DEFAULT,
            };
            let mut found = None;
            for event in XmlReader::new(xml(&body).as_slice()) {
                let event = event.unwrap();
                if matches!(event, Event::Date(_)) {
                    found = Some(value_path(&builder.stack));
                    break;
                }
                builder.event(event).unwrap();
            }
            assert_eq!(found.as_deref(), Some(path), "{body}");
        }
    }

    #[test]
    fn duplicate_key_path_includes_array_index() {
        let bytes = xml(
            "<dict><key>L</key><array><dict/><dict><key>K</key><true/><key>K</key><false/>\
             </dict></array></dict>",
        );
        assert_eq!(
            read_dictionary(&bytes, &Limits::DEFAULT),
            Err(ParseError::DuplicateKey {
                path: "L[1].K".into()
            })
        );
    }
}
