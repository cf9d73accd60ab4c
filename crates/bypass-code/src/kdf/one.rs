//! One escrow key: the dispatching [`escrow_key`] and the three paths it chooses from or is
//! tested against.
//!
//! - `reference()` (feature `reference`): the `pbkdf2` crate, the general implementation
//!   everything else is tested against;
//! - [`specialised`]: the portable loop for exactly this shape, in safe Rust. The HMAC inner and
//!   outer keyed states are computed once; every iteration is then two SHA-256 block compressions
//!   (`sha2`'s block function) whose padding words are constant;
//! - [`sha_ni`]: the same loop on x86's SHA extensions (`cpu::ShaNi`), one chain at the latency
//!   of the SHA unit.
//!
//! Imports the chain data (`crate::chain`) and the SHA-NI token (`crate::cpu`); the batch and
//! thread layers above import [`specialised`] from here.

#![forbid(unsafe_code)]

use sha2::block_api::compress256;
use zeroize::Zeroizing;

#[cfg(feature = "reference")]
use crate::chain::SALT;
use crate::chain::{self, ChainStart, DIGEST_BLOCK_TEMPLATE, ITERATIONS, store_digest};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use crate::cpu;
use crate::{BypassCode, EscrowKey};

/// The escrow key of `code`, by the fastest path this CPU has.
#[must_use]
pub fn escrow_key(code: &BypassCode) -> EscrowKey {
    sha_ni(code).unwrap_or_else(|| specialised(code))
}

/// The escrow key through the `pbkdf2` crate (the reference implementation).
#[cfg(feature = "reference")]
#[cfg_attr(docsrs, doc(cfg(feature = "reference")))]
#[must_use]
pub fn reference(code: &BypassCode) -> EscrowKey {
    let mut out = Zeroizing::new([0u8; crate::ESCROW_KEY_BYTES]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(code.as_bytes(), &SALT, ITERATIONS, out.as_mut_slice());
    EscrowKey::from_bytes(*out)
}

/// The escrow key through the SHA-NI loop; `None` when the CPU lacks SHA-NI, `SSE2`, `SSSE3` or
/// `SSE4.1`, or is not x86.
#[must_use]
pub fn sha_ni(code: &BypassCode) -> Option<EscrowKey> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if let Some(engine) = cpu::ShaNi::detect() {
        let mut key = [EscrowKey::from_bytes([0; crate::ESCROW_KEY_BYTES])];
        chain::derive(core::array::from_ref(code), &mut key, |starts, words| {
            engine.chains(starts, words);
        });
        let [key] = key;
        return Some(key);
    }
    let _ = code;
    None
}

/// The escrow key through the portable loop specialised to this shape (no `unsafe`; `sha2`'s
/// block function picks the CPU's SHA extensions at run time where present). This is the fallback
/// of [`escrow_key`] and [`escrow_keys`](super::escrow_keys) on CPUs without SHA-NI.
#[must_use]
pub fn specialised(code: &BypassCode) -> EscrowKey {
    let start = ChainStart::new(code);
    let keyed = &start.keyed;
    let mut block = Zeroizing::new(DIGEST_BLOCK_TEMPLATE);
    let mut acc = Zeroizing::new(start.first);
    let mut state = Zeroizing::new(start.first);

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
    chain::key_from_words(&acc)
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
        #[cfg(feature = "reference")]
        assert_eq!(reference(&code), expected);
        assert_eq!(specialised(&code), expected);
        assert_eq!(escrow_key(&code), expected);
        if let Some(key) = sha_ni(&code) {
            assert_eq!(key, expected);
        }
    }
}
