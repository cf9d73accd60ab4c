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

/// Builds one value from events without recursion, counting depth, values and decoded bytes.
fn build<I>(events: I, format: PlistFormat, limits: &Limits) -> Result<Value, ParseError>
where
    I: Iterator<Item = Result<OwnedEvent, plist::Error>>,
{
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    let mut values = 0usize;
    let mut decoded = 0usize;
    let result = (|| {
        for event in events {
            let event = event.map_err(|error| ParseError::Syntax {
                format: format.as_str(),
                reason: error.to_string(),
            })?;
            if root.is_some() {
                return Err(ParseError::Syntax {
                    format: format.as_str(),
                    reason: "content after the top-level value".to_owned(),
                });
            }
            values += 1;
            if values > limits.max_values {
                return Err(ParseError::TooManyValues {
                    limit: limits.max_values,
                });
            }
            let value = match event {
                Event::StartArray(_) | Event::StartDictionary(_) => {
                    if stack.len() >= limits.max_depth {
                        return Err(ParseError::TooDeep {
                            limit: limits.max_depth,
                        });
                    }
                    stack.push(if matches!(event, Event::StartArray(_)) {
                        Frame::Array(Vec::new())
                    } else {
                        Frame::Dict {
                            dict: Dictionary::new(),
                            key: None,
                        }
                    });
                    continue;
                }
                Event::EndCollection => match stack.pop() {
                    Some(Frame::Array(items)) => Value::Array(items),
                    Some(Frame::Dict { dict, key: None }) => Value::Dictionary(dict),
                    Some(Frame::Dict { key: Some(_), .. }) => {
                        return Err(ParseError::Syntax {
                            format: format.as_str(),
                            reason: "dictionary key without a value".to_owned(),
                        });
                    }
                    None => {
                        return Err(ParseError::Syntax {
                            format: format.as_str(),
                            reason: "end of a container that was not started".to_owned(),
                        });
                    }
                },
                Event::Boolean(b) => Value::Boolean(b),
                Event::Data(data) => {
                    decoded = decoded.saturating_add(data.len());
                    Value::Data(data.into_owned())
                }
                Event::Date(date) => Value::Date(date),
                Event::Integer(i) => Value::Integer(i),
                Event::Real(r) => Value::Real(r),
                Event::String(s) => {
                    decoded = decoded.saturating_add(s.len());
                    Value::String(s.into_owned())
                }
                Event::Uid(uid) => Value::Uid(uid),
                _ => {
                    return Err(ParseError::Syntax {
                        format: format.as_str(),
                        reason: "unsupported property-list event".to_owned(),
                    });
                }
            };
            if decoded > limits.max_decoded_bytes {
                scrub(value);
                return Err(ParseError::TooManyDecodedBytes {
                    limit: limits.max_decoded_bytes,
                });
            }
            match stack.last_mut() {
                None => root = Some(value),
                Some(Frame::Array(items)) => items.push(value),
                Some(Frame::Dict { dict, key }) => match key.take() {
                    Some(k) => {
                        if dict.contains_key(&k) {
                            scrub(value);
                            return Err(ParseError::DuplicateKey {
                                path: path_of(&stack, &k),
                            });
                        }
                        dict.insert(k, value);
                    }
                    None => match value {
                        Value::String(k) => *key = Some(k),
                        other => {
                            let found = crate::fields::type_name(&other);
                            scrub(other);
                            return Err(ParseError::WrongType {
                                path: path_of(&stack, "<key>"),
                                expected: "string (dictionary key)",
                                found,
                            });
                        }
                    },
                },
            }
        }
        Ok(())
    })();
    // Whatever was read is scrubbed on every error: it may hold secrets.
    if let Err(error) = result {
        for frame in stack.drain(..) {
            match frame {
                Frame::Array(items) => scrub(Value::Array(items)),
                Frame::Dict { dict, .. } => scrub(Value::Dictionary(dict)),
            }
        }
        if let Some(value) = root {
            scrub(value);
        }
        return Err(error);
    }
    if !stack.is_empty() {
        for frame in stack.drain(..) {
            match frame {
                Frame::Array(items) => scrub(Value::Array(items)),
                Frame::Dict { dict, .. } => scrub(Value::Dictionary(dict)),
            }
        }
        return Err(ParseError::Syntax {
            format: format.as_str(),
            reason: "input ends inside a container".to_owned(),
        });
    }
    root.ok_or(ParseError::Syntax {
        format: format.as_str(),
        reason: "no property list found".to_owned(),
    })
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
