//! The escrow-key parser never panics, and what it accepts prints back as the same digits
//! (upper or lower case as given, when the input is in one case).
#![no_main]

use bypass_code::EscrowKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(key) = input.parse::<EscrowKey>() {
        let upper = format!("{key:X}");
        assert_eq!(upper, input.to_ascii_uppercase());
        assert_eq!(format!("{key:x}"), input.to_ascii_lowercase());
        assert_eq!(upper.parse::<EscrowKey>().expect("round trip"), key);
    }
});
