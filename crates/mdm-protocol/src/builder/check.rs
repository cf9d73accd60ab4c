//! Values for the builder checked against the schema: types at any depth, listed values,
//! required keys.

use plist::{Dictionary, Value};

use super::BuildError;
use crate::{
    schema::{KeySpec, Kind},
    secret::scrub,
};

/// `value` if it is of `spec`'s type (at any depth) and, unless `allow_unlisted`, one of its
/// listed values.
pub(super) fn check(
    value: Value,
    spec: &KeySpec,
    path: &str,
    allow_unlisted: bool,
) -> Result<Value, BuildError> {
    let wrong = |value: &Value| BuildError::WrongType {
        path: path.to_owned(),
        expected: spec.kind.name(),
        reason: format!("found {}", crate::fields::type_name(value)),
    };
    let listed = |ok: bool| -> Result<(), BuildError> {
        if ok || allow_unlisted {
            Ok(())
        } else {
            Err(BuildError::NotAllowed {
                path: path.to_owned(),
                allowed: spec
                    .values
                    .iter()
                    .map(|v| match v {
                        crate::schema::AllowedValue::String { value, .. } => (*value).to_owned(),
                        crate::schema::AllowedValue::Integer(i) => i.to_string(),
                    })
                    .collect(),
            })
        }
    };
    match (spec.kind, value) {
        (Kind::String, Value::String(s)) => {
            listed(spec.allows_string(&s))?;
            Ok(Value::String(s))
        }
        (Kind::Integer, Value::Integer(i)) => {
            let Some(signed) = i.as_signed() else {
                return Err(BuildError::WrongType {
                    path: path.to_owned(),
                    expected: "integer",
                    reason: "larger than 2^63 - 1".to_owned(),
                });
            };
            listed(spec.allows_integer(signed))?;
            Ok(Value::Integer(i))
        }
        (Kind::Real, Value::Real(r)) => Ok(Value::Real(r)),
        (Kind::Real, Value::Integer(i)) => Ok(Value::Integer(i)),
        (Kind::Boolean, v @ Value::Boolean(_))
        | (Kind::Date, v @ Value::Date(_))
        | (Kind::Data, v @ Value::Data(_))
        | (Kind::Any, v) => Ok(v),
        (Kind::Array(item), Value::Array(items)) => Ok(Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| check(v, item, &format!("{path}.{i}"), allow_unlisted))
                .collect::<Result<_, _>>()?,
        )),
        (Kind::Dictionary(keys), Value::Dictionary(dict)) => {
            let mut out = Dictionary::new();
            for (key, v) in dict {
                let child_path = format!("{path}.{key}");
                let v = match keys.iter().find(|k| k.key == key) {
                    Some(child) => check(v, child, &child_path, allow_unlisted)?,
                    None if keys.is_empty() => v,
                    None => {
                        return Err(BuildError::UnknownKey {
                            path: child_path,
                            known: keys.iter().map(|k| k.key).collect(),
                        });
                    }
                };
                out.insert(key, v);
            }
            Ok(Value::Dictionary(out))
        }
        (Kind::Map(value_spec), Value::Dictionary(dict)) => {
            let mut out = Dictionary::new();
            for (key, v) in dict {
                let v = check(v, value_spec, &format!("{path}.{key}"), allow_unlisted)?;
                out.insert(key, v);
            }
            Ok(Value::Dictionary(out))
        }
        (Kind::Union { tag, variants }, Value::Dictionary(dict)) => {
            let name = dict.get(tag).and_then(Value::as_string).unwrap_or_default();
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
            check(Value::Dictionary(dict), &variant, path, allow_unlisted)
        }
        (_, other) => {
            let error = wrong(&other);
            scrub(other);
            Err(error)
        }
    }
}

/// Every required key of `specs` present in `dict`, at any depth.
pub(super) fn required(dict: &Dictionary, specs: &[KeySpec], path: &str) -> Result<(), BuildError> {
    for spec in specs {
        let child_path = if path.is_empty() {
            spec.key.to_owned()
        } else {
            format!("{path}.{}", spec.key)
        };
        match dict.get(spec.key) {
            None if spec.required => {
                return Err(BuildError::Missing {
                    path: child_path,
                    expected: spec.kind.name(),
                });
            }
            None => {}
            Some(value) => required_in(value, spec, &child_path)?,
        }
    }
    Ok(())
}

fn required_in(value: &Value, spec: &KeySpec, path: &str) -> Result<(), BuildError> {
    match (spec.kind, value) {
        (Kind::Dictionary(keys), Value::Dictionary(d)) => required(d, keys, path),
        (Kind::Map(value_spec), Value::Dictionary(d)) => d
            .iter()
            .try_for_each(|(k, v)| required_in(v, value_spec, &format!("{path}.{k}"))),
        (Kind::Array(item), Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| required_in(v, item, &format!("{path}.{i}"))),
        (Kind::Union { tag, variants }, Value::Dictionary(d)) => {
            let name = d.get(tag).and_then(Value::as_string);
            match name.and_then(|n| variants.iter().find(|(v, _)| *v == n)) {
                Some((_, keys)) => required(d, keys, path),
                None => Err(BuildError::Missing {
                    path: format!("{path}.{tag}"),
                    expected: "string",
                }),
            }
        }
        _ => Ok(()),
    }
}
