//! Rust names for schema names: a word table for Apple's mixed-case words (`iOS`, `iTunes`,
//! `WiFi`…) applied before `heck`'s case conversion, keyword escapes, and enum variant names.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Words that case conversion would split wrongly (`iOSApp` → `i_os_app`), with the spelling
/// that converts well. Applied in order, on the raw name.
const WORDS: [(&str, &str); 17] = [
    ("iOS", "Ios"),
    ("iPadOS", "Ipados"),
    ("macOS", "Macos"),
    ("tvOS", "Tvos"),
    ("watchOS", "Watchos"),
    ("visionOS", "Visionos"),
    ("iTunes", "Itunes"),
    ("iCloud", "Icloud"),
    ("iPad", "Ipad"),
    ("iPhone", "Iphone"),
    ("WiFi", "Wifi"),
    ("IPv4", "Ipv4"),
    ("IPv6", "Ipv6"),
    ("eSIM", "Esim"),
    ("NSExtension", "NsExtension"),
    ("softwareupdate", "SoftwareUpdate"),
    ("OSUpdate", "OsUpdate"),
];

/// Strict and reserved keywords (2024 edition) that need `r#` as field names.
const KEYWORDS: [&str; 48] = [
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

fn words(name: &str) -> String {
    let mut out = name.to_owned();
    for (word, spelling) in WORDS {
        out = out.replace(word, spelling);
    }
    out
}

/// `snake_case` of a schema name, as a field or module name (keywords get `r#`).
pub fn field(name: &str) -> String {
    let snake = snake(name);
    if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else if matches!(snake.as_str(), "self" | "super" | "crate") {
        format!("{snake}_")
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{snake}")
    } else {
        snake
    }
}

/// `snake_case` of a schema name.
pub fn snake(name: &str) -> String {
    words(name).to_snake_case()
}

/// `UpperCamelCase` of a schema name, as a type or variant name.
pub fn camel(name: &str) -> String {
    let camel = words(name).to_upper_camel_case();
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{camel}")
    } else if camel.is_empty() {
        "Empty".to_owned()
    } else {
        camel
    }
}

/// Names a generated module may not give a type: they would shadow what the code uses.
pub const RESERVED_TYPES: [&str; 22] = [
    "Self",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Default",
    "Clone",
    "Debug",
    "PartialEq",
    "From",
    "Into",
    "Value",
    "Dictionary",
    "Data",
    "Date",
    "BTreeMap",
    "P",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acronyms_convert_as_words() {
        assert_eq!(field("SupportsiOSAppInstalls"), "supports_ios_app_installs");
        assert_eq!(field("WiFiMAC"), "wifi_mac");
        assert_eq!(field("PrimaryIPv6AddressList"), "primary_ipv6_address_list");
        assert_eq!(field("eSIMServerURL"), "esim_server_url");
        assert_eq!(field("iTunesStoreID"), "itunes_store_id");
        assert_eq!(
            field("FDE_PersonalRecoveryKeyCMS"),
            "fde_personal_recovery_key_cms"
        );
        assert_eq!(field("MDMOptions"), "mdm_options");
        assert_eq!(field("ac-power"), "ac_power");
        assert_eq!(field("Where"), "r#where");
        assert_eq!(camel("ActiveNSExtensions"), "ActiveNsExtensions");
        assert_eq!(camel("not supported"), "NotSupported");
        assert_eq!(camel("MIGRATING_DATA"), "MigratingData");
        assert_eq!(camel("com.apple.maid"), "ComAppleMaid");
        assert_eq!(camel("AvailableOSUpdates"), "AvailableOsUpdates");
        assert_eq!(camel("1.0"), "V10");
    }
}
