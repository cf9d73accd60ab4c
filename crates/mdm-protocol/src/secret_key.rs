//! Which dictionary keys hold secrets by their name: the rule for values without a typed model
//! (kept unknown keys, [`CommandRequest::Other`](crate::CommandRequest::Other) payloads, other
//! check-in messages), applied to every redacted tree.

/// Words that make a key secret wherever they appear in a word of its name (`NewPassword`,
/// `passwordHash`, `devicepasscode`, `BootstrapToken`, `SharedSecret`).
const SECRET_STEMS: [&str; 5] = ["password", "passcode", "passphrase", "secret", "token"];
/// Words that make a key secret only as a whole word (`PIN`, `UnlockPIN`, `PINCode`, not
/// `Pinned`, `Spinning` or `Shipping`).
const SECRET_WORDS: [&str; 2] = ["pin", "pins"];
/// Two words that make a key secret when they follow each other (`ActivationLockBypassCode`,
/// `PersonalRecoveryKey`, `PrivateKeyExport`), or run together in one word (`recoverykey`).
const SECRET_PHRASES: [(&str, &str, &str); 3] = [
    ("bypass", "code", "bypasscode"),
    ("recovery", "key", "recoverykey"),
    ("private", "key", "privatekey"),
];

/// Whether the value under a dictionary key named `name` is a secret, by the name alone.
///
/// The name is cut into words at case changes (`UnlockPIN` → `Unlock` `PIN`, `PINCode` → `PIN`
/// `Code`), digits and punctuation; a key is secret when a word contains `password`,
/// `passcode`, `passphrase`, `secret` or `token`, when a word is `PIN`, or when `bypass code`,
/// `recovery key` or `private key` are two words in a row. Case does not matter.
///
/// Public values keep their names readable: `PushMagic`, `Topic`, `UDID`, a certificate's
/// `Data`, `AwaitingConfiguration`.
///
/// ```
/// use mdm_protocol::is_secret_key;
///
/// for secret in ["BootstrapToken", "UnlockToken", "NewPassword", "UnlockPIN", "PINCode",
///                "ActivationLockBypassCode", "EncryptedNewRecoveryKey", "passwordHash"] {
///     assert!(is_secret_key(secret), "{secret}");
/// }
/// for public in ["PushMagic", "Topic", "Data", "Pinned", "Shipping", "AwaitingConfiguration"] {
///     assert!(!is_secret_key(public), "{public}");
/// }
/// ```
#[must_use]
pub fn is_secret_key(name: &str) -> bool {
    let words = words(name);
    let stem = |word: &String| SECRET_STEMS.iter().any(|stem| word.contains(stem));
    let whole = |word: &String| SECRET_WORDS.contains(&word.as_str());
    let joined = |word: &String| {
        SECRET_PHRASES
            .iter()
            .any(|(_, _, joined)| word.contains(joined))
    };
    let phrase = |pair: &[String]| match pair {
        [first, second] => SECRET_PHRASES
            .iter()
            .any(|(a, b, _)| first == a && second == b),
        _ => false,
    };
    words
        .iter()
        .any(|word| stem(word) || whole(word) || joined(word))
        || words.windows(2).any(phrase)
}

/// The lower-case words of a key name: split at punctuation, at a lower-case letter or digit
/// followed by an upper-case one (`newPassword`), before the last capital of a run followed by
/// a lower-case letter (`PINCode`), and between letters and digits.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(core::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&previous) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            let next = chars.get(i + 1).copied();
            let boundary = (c.is_uppercase() && (previous.is_lowercase() || previous.is_numeric()))
                || (c.is_uppercase()
                    && previous.is_uppercase()
                    && next.is_some_and(char::is_lowercase))
                || (c.is_numeric() != previous.is_numeric() && previous.is_alphanumeric());
            if boundary && !word.is_empty() {
                words.push(core::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_case_digits_and_punctuation() {
        let cases: [(&str, &[&str]); 9] = [
            ("UnlockPIN", &["unlock", "pin"]),
            ("PINCode", &["pin", "code"]),
            ("newPassword", &["new", "password"]),
            (
                "FDE_HasPersonalRecoveryKey",
                &["fde", "has", "personal", "recovery", "key"],
            ),
            ("UDID", &["udid"]),
            ("Password2Hint", &["password", "2", "hint"]),
            ("iPad8,12", &["i", "pad", "8", "12"]),
            ("", &[]),
            ("__", &[]),
        ];
        for (name, expected) in cases {
            assert_eq!(words(name), expected, "{name}");
        }
    }

    /// (key name, secret?): the name rule as a table.
    const NAMES: [(&str, bool); 44] = [
        ("BootstrapToken", true),
        ("UnlockToken", true),
        ("Token", true),
        ("PushToken", true),
        ("Password", true),
        ("NewPassword", true),
        ("CurrentPassword", true),
        ("PrivateKeyExportPassword", true),
        ("passwordHash", true),
        ("newpassword", true),
        ("Passcode", true),
        ("DevicePasscode", true),
        ("Passphrase", true),
        ("WiFiPassphrase", true),
        ("SharedSecret", true),
        ("ClientSecret", true),
        ("PIN", true),
        ("UnlockPIN", true),
        ("PINCode", true),
        ("Pin", true),
        ("device_pin", true),
        ("ActivationLockBypassCode", true),
        ("BypassCode", true),
        ("bypass_code", true),
        ("RecoveryKey", true),
        ("PersonalRecoveryKey", true),
        ("EncryptedNewRecoveryKey", true),
        ("PrivateKeyExport", true),
        ("PushMagic", false),
        ("Topic", false),
        ("UDID", false),
        ("Data", false),
        ("CommonName", false),
        ("AwaitingConfiguration", false),
        ("Pinned", false),
        ("Spinning", false),
        ("Shipping", false),
        ("Opinion", false),
        ("SerialNumber", false),
        ("MessageType", false),
        ("RequestType", false),
        ("Bypass", false),
        ("RecoveryLockEnabled", false),
        ("KeyType", false),
    ];

    #[test]
    fn the_name_rule() {
        for (name, secret) in NAMES {
            assert_eq!(is_secret_key(name), secret, "{name}");
        }
    }
}
