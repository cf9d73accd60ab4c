//! The strict parser never panics; whatever it accepts re-encodes to the very same text, and the
//! lenient parser agrees with it.
#![no_main]

use bypass_code::BypassCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(code) = input.parse::<BypassCode>() {
        assert_eq!(code.to_string(), input, "strict accepts only the canonical form");
        let lenient = BypassCode::parse_lenient(input).expect("lenient accepts strict output");
        assert_eq!(lenient, code);
    }
});
