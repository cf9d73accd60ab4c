//! The escrow-key derivation: PBKDF2-HMAC-SHA256, 4 zero bytes of salt, 50,000 iterations, one
//! 32-byte block.
//!
//! Two paths compute it:
//! - [`reference`]: the RustCrypto `pbkdf2` crate, the general implementation everything else is
//!   tested against;
//! - [`specialised`]: a loop for exactly this shape. The HMAC inner and outer keyed states are
//!   computed once; every iteration is then two SHA-256 block compressions whose padding words are
//!   constant. This is the physical floor of the derivation (100,000 compressions) plus the cost
//!   of moving each 32-byte digest into the next block.
//!
//! [`escrow_key`] (what [`BypassCode::escrow_key`] calls) uses the specialised path; tests prove it
//! equal to the reference for every published vector and for random codes.

use sha2::{Sha256, block_api::compress256};
use zeroize::Zeroizing;

use crate::{BypassCode, CODE_BYTES, ESCROW_KEY_BYTES, EscrowKey};

/// PBKDF2 iteration count Apple specifies for the escrow key.
pub const ITERATIONS: u32 = 50_000;
/// The salt: four zero bytes.
pub const SALT: [u8; 4] = [0; 4];

/// SHA-256's initial state.
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The escrow key of `code`, by the fastest path this build has.
#[must_use]
pub fn escrow_key(code: &BypassCode) -> EscrowKey {
    specialised(code)
}

/// The escrow key through the `pbkdf2` crate (the reference implementation).
#[must_use]
pub fn reference(code: &BypassCode) -> EscrowKey {
    let mut out = Zeroizing::new([0u8; ESCROW_KEY_BYTES]);
    pbkdf2::pbkdf2_hmac::<Sha256>(code.as_bytes(), &SALT, ITERATIONS, out.as_mut_slice());
    EscrowKey::from_bytes(*out)
}

/// The HMAC-SHA256 states keyed by a 16-byte password: after the inner and outer key blocks.
pub(crate) struct KeyedStates {
    /// State after compressing `key ^ ipad`.
    pub inner: [u32; 8],
    /// State after compressing `key ^ opad`.
    pub outer: [u32; 8],
}

impl Drop for KeyedStates {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.inner);
        zeroize::Zeroize::zeroize(&mut self.outer);
    }
}

impl KeyedStates {
    /// Computes both keyed states for `password` (shorter than a block, so used as is).
    pub(crate) fn new(password: &[u8; CODE_BYTES]) -> Self {
        let mut inner_block = Zeroizing::new([0x36u8; 64]);
        let mut outer_block = Zeroizing::new([0x5cu8; 64]);
        for (i, byte) in password.iter().enumerate() {
            inner_block[i] ^= byte;
            outer_block[i] ^= byte;
        }
        let mut inner = IV;
        let mut outer = IV;
        compress256(&mut inner, core::slice::from_ref(&*inner_block));
        compress256(&mut outer, core::slice::from_ref(&*outer_block));
        Self { inner, outer }
    }
}

/// The first inner message: `salt || INT(1)`, padded for a 64 + 8 byte message.
pub(crate) const FIRST_INNER_BLOCK: [u8; 64] = {
    let mut block = [0u8; 64];
    // salt (4 zero bytes) then the big-endian block index 1.
    block[7] = 1;
    block[8] = 0x80;
    // Message length in bits: (64 + 8) * 8 = 576 = 0x0240.
    block[62] = 0x02;
    block[63] = 0x40;
    block
};

/// A block carrying a 32-byte digest, padded for a 64 + 32 byte message (bytes 0..32 are set per
/// use).
pub(crate) const DIGEST_BLOCK_TEMPLATE: [u8; 64] = {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    // Message length in bits: (64 + 32) * 8 = 768 = 0x0300.
    block[62] = 0x03;
    block
};

/// Writes the state as the big-endian digest into the first 32 bytes of `block`.
#[inline(always)]
fn store_digest(state: &[u32; 8], block: &mut [u8; 64]) {
    for (chunk, word) in block[..32].chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// The escrow key through the loop specialised to this shape (no `unsafe`; uses `sha2`'s block
/// function, which picks the CPU's SHA extensions at run time where present).
#[must_use]
pub fn specialised(code: &BypassCode) -> EscrowKey {
    let keyed = KeyedStates::new(code.as_bytes());
    let mut block = Zeroizing::new(DIGEST_BLOCK_TEMPLATE);
    let mut acc = Zeroizing::new([0u32; 8]);
    let mut state = Zeroizing::new([0u32; 8]);

    // U1 = HMAC(P, salt || INT(1)).
    *state = keyed.inner;
    compress256(&mut state, &[FIRST_INNER_BLOCK]);
    store_digest(&state, &mut block);
    *state = keyed.outer;
    compress256(&mut state, core::slice::from_ref(&*block));
    *acc = *state;

    // U2..U50000 = HMAC(P, U_{i-1}); T = U1 ^ U2 ^ ...
    for _ in 1..ITERATIONS {
        store_digest(&state, &mut block);
        *state = keyed.inner;
        compress256(&mut state, core::slice::from_ref(&*block));
        store_digest(&state, &mut block);
        *state = keyed.outer;
        compress256(&mut state, core::slice::from_ref(&*block));
        for (a, s) in acc.iter_mut().zip(state.iter()) {
            *a ^= s;
        }
    }

    let mut out = [0u8; ESCROW_KEY_BYTES];
    for (chunk, word) in out.chunks_exact_mut(4).zip(acc.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    let key = EscrowKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_checked_vector() {
        // password = 16 × 0x11 (checked against an independent implementation).
        let code = BypassCode::from_bytes([0x11; 16]);
        let expected: EscrowKey =
            "9f1d73750670f0135ec662c14b6bc20885bfdb412541634fda5432de2b3b6e98"
                .parse()
                .unwrap();
        assert_eq!(reference(&code), expected);
        assert_eq!(specialised(&code), expected);
    }
}
