//! Every escrow-key path agrees on arbitrary 16-byte codes: the SHA-NI loop (when the CPU has it),
//! the portable loop and the `pbkdf2` crate. And a batch of 17 codes made from the input (a full
//! sixteen-lane AVX-512 group plus one, or SHA-NI groups, depending on the CPU) equals one-by-one
//! derivation, in order.
#![no_main]

use bypass_code::{BypassCode, EscrowKey, kdf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: [u8; 16]| {
    let code = BypassCode::from_bytes(bytes);
    let expected = kdf::reference(&code);
    assert_eq!(kdf::specialised(&code), expected, "portable loop");
    if let Some(key) = kdf::sha_ni(&code) {
        assert_eq!(key, expected, "SHA-NI loop");
    }

    // The code itself at positions 0 and 16, variants (one byte complemented) in between.
    let codes: Vec<BypassCode> = (0..17)
        .map(|i| {
            let mut variant = bytes;
            if (1..16).contains(&i) {
                variant[i] = !variant[i];
            }
            BypassCode::from_bytes(variant)
        })
        .collect();
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); codes.len()];
    kdf::escrow_keys(&codes, &mut keys).expect("equal lengths");
    assert_eq!(keys[0], expected, "batch, first");
    assert_eq!(keys[16], expected, "batch, last");
    for (i, (code, key)) in codes.iter().zip(&keys).enumerate().skip(1).take(15) {
        assert_eq!(*key, kdf::escrow_key(code), "batch, position {i}");
    }
});
