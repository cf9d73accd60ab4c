//! Values for the builder from text and JSON, read as the schema's type of their key.

use plist::{Date, Dictionary, Integer, Value};

use super::BuildError;
use crate::schema::{KeySpec, Kind};

/// Text as a value of `spec`'s type.
pub(super) fn from_text(text: &str, spec: &KeySpec, path: &str) -> Result<Value, BuildError> {
    let wrong = |reason: &str| BuildError::WrongType {
        path: path.to_owned(),
        expected: spec.kind.name(),
        reason: reason.to_owned(),
    };
    Ok(match spec.kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Integer => Value::Integer(Integer::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| wrong("not a decimal integer"))?,
        )),
        Kind::Real => Value::Real(
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite())
                .ok_or_else(|| wrong("not a finite decimal number"))?,
        ),
        Kind::Boolean => match text.trim() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err(wrong("not `true` or `false`")),
        },
        Kind::Date => Value::Date(date(text, path)?),
        Kind::Data => Value::Data(data(text, path)?),
        // Any value: JSON when it reads as JSON, a string otherwise.
        Kind::Any => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => any_json(&json, path)?,
            Err(_) => Value::String(text.to_owned()),
        },
        _ => {
            let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                wrong(&format!(
                    "not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
            from_json(&json, spec, path)?
        }
    })
}

fn date(text: &str, path: &str) -> Result<Date, BuildError> {
    Date::from_xml_format(text.trim()).map_err(|_| BuildError::WrongType {
        path: path.to_owned(),
        expected: "date",
        reason: "not an RFC 3339 date such as 2026-11-23T10:00:00Z".to_owned(),
    })
}

fn data(text: &str, path: &str) -> Result<Vec<u8>, BuildError> {
    use base64::Engine as _;
    let text = text.trim();
    let decoded = match text.strip_prefix("hex:") {
        Some(hex) => decode_hex(hex),
        None => base64::engine::general_purpose::STANDARD.decode(text).ok(),
    };
    decoded.ok_or_else(|| BuildError::WrongType {
        path: path.to_owned(),
        expected: "data",
        reason: "not base64 (or hex after `hex:`)".to_owned(),
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// JSON as a value of `spec`'s type (strings become data or dates where the schema says).
pub(super) fn from_json(
    json: &serde_json::Value,
    spec: &KeySpec,
    path: &str,
) -> Result<Value, BuildError> {
    use serde_json::Value as J;
    let wrong = |found: &str| BuildError::WrongType {
        path: path.to_owned(),
        expected: spec.kind.name(),
        reason: format!("found a JSON {found}"),
    };
    let kind_of = |j: &J| match j {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    };
    Ok(match (spec.kind, json) {
        (Kind::String, J::String(s)) => Value::String(s.clone()),
        (Kind::Integer, J::Number(n)) => Value::Integer(Integer::from(
            n.as_i64().ok_or_else(|| wrong("non-integer number"))?,
        )),
        (Kind::Real, J::Number(n)) => Value::Real(n.as_f64().ok_or_else(|| wrong("number"))?),
        (Kind::Boolean, J::Bool(b)) => Value::Boolean(*b),
        (Kind::Date, J::String(s)) => Value::Date(date(s, path)?),
        (Kind::Data, J::String(s)) => Value::Data(data(s, path)?),
        (Kind::Any, any) => any_json(any, path)?,
        (Kind::Array(item), J::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, j)| from_json(j, item, &format!("{path}.{i}")))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Dictionary(keys), J::Object(map)) => {
            let mut dict = Dictionary::new();
            for (key, j) in map {
                let child_path = format!("{path}.{key}");
                let value = match keys.iter().find(|k| k.key == key.as_str()) {
                    Some(child) => from_json(j, child, &child_path)?,
                    None if keys.is_empty() => any_json(j, &child_path)?,
                    None => {
                        return Err(BuildError::UnknownKey {
                            path: child_path,
                            known: keys.iter().map(|k| k.key).collect(),
                        });
                    }
                };
                dict.insert(key.clone(), value);
            }
            Value::Dictionary(dict)
        }
        (Kind::Map(value), J::Object(map)) => {
            let mut dict = Dictionary::new();
            for (key, j) in map {
                dict.insert(key.clone(), from_json(j, value, &format!("{path}.{key}"))?);
            }
            Value::Dictionary(dict)
        }
        (Kind::Union { tag, variants }, J::Object(map)) => {
            let name = map.get(tag).and_then(J::as_str).unwrap_or_default();
            let Some((_, keys)) = variants.iter().find(|(v, _)| *v == name) else {
                return Err(BuildError::NotAllowed {
                    path: format!("{path}.{tag}"),
                    allowed: variants.iter().map(|(v, _)| (*v).to_owned()).collect(),
                });
            };
            let variant = KeySpec {
                kind: Kind::Dictionary(keys),
                ..*spec
            };
            from_json(json, &variant, path)?
        }
        (_, other) => return Err(wrong(kind_of(other))),
    })
}

/// JSON of no declared type: strings stay strings, numbers are integers when whole.
pub(super) fn any_json(json: &serde_json::Value, path: &str) -> Result<Value, BuildError> {
    use serde_json::Value as J;
    Ok(match json {
        J::Null => {
            return Err(BuildError::WrongType {
                path: path.to_owned(),
                expected: "any value",
                reason: "property lists have no null".to_owned(),
            });
        }
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(Integer::from(i)),
            (None, Some(r)) => Value::Real(r),
            (None, None) => Value::Real(f64::NAN),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, j)| any_json(j, &format!("{path}.{i}")))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(map) => {
            let mut dict = Dictionary::new();
            for (key, j) in map {
                dict.insert(key.clone(), any_json(j, &format!("{path}.{key}"))?);
            }
            Value::Dictionary(dict)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_data() {
        assert_eq!(data("hex:00ff10", "X").unwrap(), [0, 255, 16]);
        assert_eq!(data("AAEC", "X").unwrap(), [0, 1, 2]);
        assert!(data("hex:0", "X").is_err());
        assert!(data("not base64!", "X").is_err());
    }
}
