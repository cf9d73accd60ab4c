//! Redaction of values no type describes: unknown keys, `<any>` values, whole untyped
//! messages. One rule decides, by key name: [`is_secret_key`].

use plist::Value;

use crate::secret::REDACTED;

/// Whether a key's name says its value is a secret: it names a password, passcode, passphrase,
/// token, secret, PIN, bypass code or recovery key.
///
/// The words are looked for case-insensitively, ignoring spaces, dashes and underscores
/// (`FDE_PersonalRecoveryKeyCMS`, `security-token`); `PIN` must be a word of its own
/// (`PIN`, `PINRequiredForDeviceLock`, `DevicePIN`), so `Shipping` or `Pinned` are not secrets.
///
/// This is the rule for values no type describes. Typed keys follow the schema review in the
/// generator instead (e.g. `TokenServiceType` names a service and is shown, while
/// `PrivateKeyExport` holds a private key and is hidden).
///
/// ```
/// use mdm_protocol::is_secret_key;
///
/// assert!(is_secret_key("UnlockToken"));
/// assert!(is_secret_key("NewPassword"));
/// assert!(is_secret_key("PIN"));
/// assert!(is_secret_key("ActivationLockBypassCode"));
/// assert!(is_secret_key("FDE_PersonalRecoveryKeyCMS"));
/// assert!(!is_secret_key("SerialNumber"));
/// assert!(!is_secret_key("Shipping"));
/// ```
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 7] = [
        "password",
        "passcode",
        "passphrase",
        "token",
        "secret",
        "bypasscode",
        "recoverykey",
    ];
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    WORDS.iter().any(|word| folded.contains(word)) || has_pin_word(key)
}

/// Whether `PIN` is a word of `key`: words are split at separators and at changes of case,
/// an acronym ending where a capitalised word starts (`PINRequired` is `PIN` + `Required`).
fn has_pin_word(key: &str) -> bool {
    let chars: Vec<char> = key.chars().collect();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        if !c.is_ascii_alphanumeric() {
            if word.eq_ignore_ascii_case("pin") {
                return true;
            }
            word.clear();
            continue;
        }
        word.push(c);
        let boundary = match next {
            None => true,
            Some(n) if !n.is_ascii_alphanumeric() => false,
            // `deviceP…`: lower case then upper case.
            Some(n) if c.is_ascii_lowercase() && n.is_ascii_uppercase() => true,
            // `PINRequired`: the last capital of an acronym starts the next word.
            Some(n) => {
                n.is_ascii_uppercase()
                    && c.is_ascii_uppercase()
                    && chars.get(i + 2).is_some_and(char::is_ascii_lowercase)
            }
        };
        if boundary {
            if word.eq_ignore_ascii_case("pin") {
                return true;
            }
            word.clear();
        }
    }
    word.eq_ignore_ascii_case("pin")
}

/// A copy of `value` in which every string and data value under a secret-named key
/// ([`is_secret_key`]) is replaced by [`REDACTED`], at any depth. Booleans, numbers and dates
/// stay (they say *whether*, as `PasscodePresent` does, never *what*).
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
        Value::String(_) | Value::Data(_) if secret => Value::String(REDACTED.to_owned()),
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
        assert_eq!(inner["Count"].as_signed_integer(), Some(3));
        assert_eq!(items[1].as_string(), Some(REDACTED));
    }
}
