//! Property tests: round trips and "never panics" for both parsers.

use bypass_code::{BypassCode, EscrowKey};
use proptest::prelude::*;

/// Characters people plausibly type, plus some that are never valid.
fn typed_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('0', '9'),
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        Just('-'),
        Just(' '),
        Just('\t'),
        any::<char>(),
    ]
}

proptest! {
    #[test]
    fn bytes_to_code_to_bytes(bytes in any::<[u8; 16]>()) {
        let text = BypassCode::from_bytes(bytes).to_string();
        prop_assert_eq!(text.len(), 31);
        let back: BypassCode = text.parse().unwrap();
        prop_assert_eq!(back.as_bytes(), &bytes);
    }

    #[test]
    fn strict_output_is_accepted_by_lenient(bytes in any::<[u8; 16]>(), lower in any::<bool>()) {
        let code = BypassCode::from_bytes(bytes);
        let mut text = code.to_string();
        if lower {
            text = text.to_ascii_lowercase();
        }
        prop_assert_eq!(BypassCode::parse_lenient(&text).unwrap(), code);
    }

    #[test]
    fn strict_parser_never_panics_and_accepts_only_canonical(input in "\\PC{0,40}") {
        if let Ok(code) = input.parse::<BypassCode>() {
            prop_assert_eq!(code.to_string(), input);
        }
    }

    #[test]
    fn near_codes_never_panic(chars in proptest::collection::vec(typed_char(), 0..40)) {
        let input: String = chars.into_iter().collect();
        let strict = input.parse::<BypassCode>();
        let lenient = BypassCode::parse_lenient(&input);
        if let Ok(code) = strict {
            prop_assert_eq!(lenient.unwrap(), code);
        }
        if let Ok(code) = BypassCode::parse_lenient(&input) {
            let canonical: BypassCode = code.to_string().parse().unwrap();
            prop_assert_eq!(canonical, code);
        }
    }

    #[test]
    fn escrow_key_text_round_trips(bytes in any::<[u8; 32]>()) {
        let key = EscrowKey::from_bytes(bytes);
        let upper = key.to_string();
        prop_assert_eq!(upper.parse::<EscrowKey>().unwrap(), key.clone());
        prop_assert_eq!(format!("{key:x}").parse::<EscrowKey>().unwrap(), key);
    }

    #[test]
    fn escrow_key_parser_never_panics(input in "\\PC{0,70}") {
        let _ = input.parse::<EscrowKey>();
    }
}
