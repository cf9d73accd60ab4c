//! One PBKDF2-HMAC-SHA256 chain of the escrow-key shape, as data: the parameters, the SHA-256
//! constants, the HMAC keyed states, where a chain starts and how its result becomes a key.
//!
//! The lowest layer of the escrow-key engine: the SIMD loops (`cpu::x86_sha`, `cpu::x86_avx512`)
//! and the public derivations (`kdf::one`, `kdf::batch`) all start from a [`ChainStart`] and end
//! in [`key_from_words`]; this module imports neither of them, only the crate's types and `sha2`.
//!
//! A chain is `U1 = HMAC(P, salt || INT(1))`, then `U_i = HMAC(P, U_{i-1})` up to
//! [`ITERATIONS`], and the key `T = U1 ^ U2 ^ ...`. With a 16-byte password and one 32-byte
//! output block, every HMAC after `U1` is two compressions of a [`DIGEST_BLOCK_TEMPLATE`]-shaped
//! block, one from each [`KeyedStates`] state.

#![forbid(unsafe_code)]

use sha2::block_api::compress256;
use zeroize::{Zeroize, Zeroizing};

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

/// SHA-256's round constants: the first 32 bits of the fractional parts of the cube roots of the
/// first 64 primes (checked by a unit test).
#[cfg_attr(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    allow(dead_code, reason = "used by the SHA-NI loop and its test")
)]
pub(crate) const K: [u32; 64] = [
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
];

/// The HMAC-SHA256 states keyed by a 16-byte password: after the inner and outer key blocks.
pub(crate) struct KeyedStates {
    /// State after compressing `key ^ ipad`.
    pub inner: [u32; 8],
    /// State after compressing `key ^ opad`.
    pub outer: [u32; 8],
}

impl Drop for KeyedStates {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
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

/// Where every chain starts: the keyed states and `U1 = HMAC(P, salt || INT(1))`.
pub(crate) struct ChainStart {
    /// The HMAC keyed states of the password.
    pub keyed: KeyedStates,
    /// `U1` as eight big-endian words: the first term of the XOR and the next message.
    pub first: [u32; 8],
}

impl Drop for ChainStart {
    fn drop(&mut self) {
        self.first.zeroize();
    }
}

impl ChainStart {
    /// Computes the keyed states of `code` and `U1` (four compressions, portable).
    pub(crate) fn new(code: &BypassCode) -> Self {
        let keyed = KeyedStates::new(code.as_bytes());
        let mut block = Zeroizing::new(DIGEST_BLOCK_TEMPLATE);
        let mut first = keyed.inner;
        compress256(&mut first, &[FIRST_INNER_BLOCK]);
        store_digest(&first, &mut block);
        first = keyed.outer;
        compress256(&mut first, core::slice::from_ref(&*block));
        Self { keyed, first }
    }
}

/// The first inner message: `salt || INT(1)`, padded for a 64 + 8 byte message.
const FIRST_INNER_BLOCK: [u8; 64] = {
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
pub(crate) fn store_digest(state: &[u32; 8], block: &mut [u8; 64]) {
    for (chunk, word) in block[..32].chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// The escrow key holding eight big-endian words.
pub(crate) fn key_from_words(words: &[u32; 8]) -> EscrowKey {
    let mut out = [0u8; ESCROW_KEY_BYTES];
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    let key = EscrowKey::from_bytes(out);
    out.zeroize();
    key
}

/// Writes the escrow key of `codes[j]` into `keys[j]`, running the `N` chains with `chains` (a
/// loop that writes the derived key of `starts[j]` into `out[j]` as eight big-endian words).
///
/// The starts and the words are zeroized when this returns.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) fn derive<const N: usize>(
    codes: &[BypassCode; N],
    keys: &mut [EscrowKey; N],
    chains: impl FnOnce(&[ChainStart; N], &mut [[u32; 8]; N]),
) {
    let starts: [ChainStart; N] = core::array::from_fn(|j| ChainStart::new(&codes[j]));
    let mut words = Zeroizing::new([[0u32; 8]; N]);
    chains(&starts, &mut words);
    for (key, words) in keys.iter_mut().zip(words.iter()) {
        *key = key_from_words(words);
    }
}

#[cfg(test)]
mod tests {
    use sha2::Sha256;

    use super::*;

    #[test]
    fn round_constants_are_cube_roots_of_primes() {
        let primes = (2u128..).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0));
        for (k, prime) in K.iter().zip(primes) {
            // floor(cbrt(p) * 2^32) is the largest x with x^3 <= p * 2^96; K is its low 32 bits.
            let target = prime << 96;
            let (mut low, mut high) = (0u128, 1u128 << 36);
            while high - low > 1 {
                let mid = (low + high) / 2;
                if mid * mid * mid <= target {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            assert_eq!(u128::from(*k), low & 0xffff_ffff, "prime {prime}");
        }
    }

    #[test]
    fn chain_start_is_the_first_hmac_output() {
        use hmac::{Hmac, KeyInit, Mac};
        let code = BypassCode::from_bytes(*b"0123456789abcdef");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(code.as_bytes()).unwrap();
        mac.update(&[0, 0, 0, 0, 0, 0, 0, 1]);
        let expected = mac.finalize().into_bytes();
        let start = ChainStart::new(&code);
        let mut block = DIGEST_BLOCK_TEMPLATE;
        store_digest(&start.first, &mut block);
        assert_eq!(&block[..32], expected.as_slice());
    }
}
