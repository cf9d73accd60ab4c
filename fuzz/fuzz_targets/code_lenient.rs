//! The lenient parser never panics, and whatever it accepts is a code whose canonical text the
//! strict parser reads back to the same bytes. Raw bytes round-trip through the encoder.
#![no_main]

use bypass_code::BypassCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = core::str::from_utf8(data) {
        if let Ok(code) = BypassCode::parse_lenient(input) {
            let canonical = code.to_string();
            assert_eq!(canonical.parse::<BypassCode>().expect("canonical"), code);
        }
    }
    if let Ok(bytes) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        let code = BypassCode::from_bytes(bytes);
        let back: BypassCode = code.to_string().parse().expect("encoder output parses");
        assert_eq!(back.as_bytes(), &bytes);
    }
});
