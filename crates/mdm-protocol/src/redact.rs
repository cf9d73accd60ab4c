//! Redaction of values no type describes: unknown keys, `<any>` values, whole untyped
//! messages. One rule decides, by key name: [`is_secret_key`](crate::is_secret_key).

use plist::Value;

use crate::{secret::REDACTED, secret_key::is_secret_key};

/// A copy of `value` in which every value under a secret-named key
/// ([`is_secret_key`](crate::is_secret_key)) but a boolean is replaced by [`REDACTED`], at any
/// depth. Booleans stay: they say *whether* (`PasscodePresent`), never *what*.
///
/// ```
/// use mdm_protocol::{REDACTED, plist::{Dictionary, Value}, redact_untyped};
///
/// let mut dict = Dictionary::new();
/// dict.insert("Password".into(), Value::String("hunter2".into()));
/// dict.insert("PasscodePresent".into(), Value::Boolean(true));
/// dict.insert("Name".into(), Value::String("kiosk".into()));
/// let shown = redact_untyped(&Value::Dictionary(dict));
/// let shown = shown.as_dictionary().unwrap();
/// assert_eq!(shown["Password"].as_string(), Some(REDACTED));
/// assert_eq!(shown["PasscodePresent"].as_boolean(), Some(true));
/// assert_eq!(shown["Name"].as_string(), Some("kiosk"));
/// ```
#[must_use]
pub fn redact_untyped(value: &Value) -> Value {
    redact(value, false)
}

/// `value` as written under `key`: all of it redacted when the key's name is a secret's,
/// otherwise as [`redact_untyped`].
pub(crate) fn redact_under(key: &str, value: &Value) -> Value {
    redact(value, is_secret_key(key))
}

/// Iterative over containers would need an explicit stack; the trees redacted here were built
/// under [`Limits::max_depth`](crate::Limits::max_depth), so recursion is bounded.
fn redact(value: &Value, secret: bool) -> Value {
    match value {
        Value::Dictionary(dict) => Value::Dictionary(
            dict.iter()
                .map(|(key, item)| (key.clone(), redact(item, secret || is_secret_key(key))))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| redact(i, secret)).collect()),
        // Booleans say *whether* (`PasscodePresent`), never *what*; every other value under a
        // secret key goes, numbers too (a PIN may be an integer).
        Value::Boolean(_) => value.clone(),
        _ if secret => Value::String(REDACTED.to_owned()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_rule() {
        for secret in [
            "Password",
            "CurrentPassword",
            "passwordHash",
            "PasscodeLockGracePeriod",
            "Passphrase",
            "UnlockToken",
            "BootstrapToken",
            "security-token",
            "ClientSecret",
            "PIN",
            "PINRequiredForDeviceLock",
            "DevicePIN",
            "device_pin",
            "pin",
            "ActivationLockBypassCode",
            "bypass_code",
            "FDE_PersonalRecoveryKeyCMS",
            "EncryptedNewRecoveryKey",
        ] {
            assert!(is_secret_key(secret), "{secret}");
        }
        for public in [
            "SerialNumber",
            "Shipping",
            "Pinned",
            "Spinner",
            "ProductKey",
            "ModelName",
            "OpinionCount",
            "",
        ] {
            assert!(!is_secret_key(public), "{public}");
        }
    }

    #[test]
    fn nested_values_under_a_secret_key_are_redacted() {
        let mut inner = plist::Dictionary::new();
        inner.insert("Value".into(), Value::String("s3cret".into()));
        inner.insert("Count".into(), Value::Integer(3.into()));
        let mut outer = plist::Dictionary::new();
        outer.insert(
            "TokenParameters".into(),
            Value::Array(vec![Value::Dictionary(inner), Value::Data(vec![1, 2])]),
        );
        let shown = redact_untyped(&Value::Dictionary(outer));
        let items = shown.as_dictionary().unwrap()["TokenParameters"]
            .as_array()
            .unwrap();
        let inner = items[0].as_dictionary().unwrap();
        assert_eq!(inner["Value"].as_string(), Some(REDACTED));
        // Numbers go too (a PIN may be an integer); booleans stay.
        assert_eq!(inner["Count"].as_string(), Some(REDACTED));
        assert_eq!(items[1].as_string(), Some(REDACTED));
    }
}
