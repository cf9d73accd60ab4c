//! Every escrow-key path agrees on arbitrary 16-byte codes: the SHA-NI loop (when the CPU has it),
//! the portable loop and the `pbkdf2` crate; and a batch (the code, its complement and the code
//! again) equals one-by-one derivation, in order.
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

    let complement = BypassCode::from_bytes(bytes.map(|b| !b));
    let codes = [code.clone(), complement.clone(), code];
    let mut keys = [const { EscrowKey::from_bytes([0; 32]) }; 3];
    kdf::escrow_keys(&codes, &mut keys).expect("equal lengths");
    assert_eq!(keys[0], expected, "batch, first");
    assert_eq!(keys[1], kdf::escrow_key(&complement), "batch, second");
    assert_eq!(keys[2], expected, "batch, third");
});
