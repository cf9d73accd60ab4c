//! The escrow-key derivation: PBKDF2-HMAC-SHA256, 4 zero bytes of salt, 50,000 iterations, one
//! 32-byte block.
//!
//! Three paths compute one key, all equal (tests and a fuzz target compare them):
//! - [`reference()`]: the `pbkdf2` crate, the general implementation everything else is
//!   tested against;
//! - [`specialised`]: the portable loop for exactly this shape, in safe Rust. The HMAC inner and
//!   outer keyed states are computed once; every iteration is then two SHA-256 block compressions
//!   (`sha2`'s block function) whose padding words are constant;
//! - [`sha_ni`]: the same loop on x86's SHA extensions with the digest fed from the state
//!   registers straight into the next block's message registers, at the physical floor of
//!   100,000 compressions. `None` when the CPU lacks SHA-NI (detected at run time, without
//!   `std`) or is not x86.
//!
//! [`escrow_key`] (what [`BypassCode::escrow_key`] calls) takes SHA-NI when the CPU has it and
//! falls back to [`specialised`] everywhere else.
//!
//! For many codes, [`escrow_keys`] computes several keys at once on one core: sixteen as the
//! 32-bit lanes of AVX-512 registers (a software SHA-256, which on CPUs with both extensions
//! outruns the SHA unit), or [`SHA_NI_LANES`] SHA-NI chains interleaved (one chain is bound by
//! the latency of the SHA unit, several by its throughput); `escrow_keys_parallel` (feature
//! `std`) spreads them over every core. Both give the results of one-by-one derivation, in input
//! order.
//!
//! ```
//! use bypass_code::{BypassCode, EscrowKey, kdf};
//!
//! let codes = [BypassCode::from_bytes([0; 16]), BypassCode::from_bytes([0xff; 16])];
//! let mut keys = [EscrowKey::from_bytes([0; 32]), EscrowKey::from_bytes([0; 32])];
//! kdf::escrow_keys(&codes, &mut keys)?;
//! assert_eq!(keys[1], kdf::reference(&codes[1]));
//! assert!(kdf::sha_ni(&codes[0]).is_none_or(|key| key == keys[0]));
//! # Ok::<(), kdf::BatchLengthError>(())
//! ```
//!
//! # Speed
//! Per key, as a ratio to the floor (100,000 SHA-256 compressions in one `sha2` call, 3.2-3.7 ms)
//! measured in the same run, on the 2-core Xeon with SHA-NI and AVX-512 this was developed on;
//! reproduce with `cargo xtask bench escrow_key` (the ratios move with machine load: compare
//! within one run).
//!
//! | path | ratio |
//! |---|---|
//! | `pbkdf2` crate ([`reference()`]) | 1.4-1.6x |
//! | [`specialised`] | 1.2-1.3x |
//! | [`sha_ni`] (one key) | 0.92-1.03x |
//! | four SHA-NI chains interleaved (the batch on CPUs without AVX-512) | 0.78x |
//! | [`escrow_keys`], sixteen AVX-512 lanes | 0.34-0.38x |
//! | `escrow_keys_parallel`, both cores | 0.18-0.19x (1.9-2.1 times one core) |
//!
//! The SHA unit there issues one `sha256rnds2` every 0.74 ns against a latency of 1.0 ns, so
//! interleaved SHA-NI chains cannot go below about 0.75x; the AVX-512 software SHA-256 is bound
//! by the vector ports instead.
//!
//! # Secrets in memory
//! Keyed states, digests, accumulators and blocks live in [`Zeroizing`] buffers or types that
//! zeroize on drop. The SIMD loops keep them in vector registers and compiler-chosen spill slots:
//! the stack area they used is overwritten with zeros after they return (see the `cpu` module
//! for the limits).

#![forbid(unsafe_code)]

use core::fmt;

use sha2::{Sha256, block_api::compress256};
use zeroize::{Zeroize, Zeroizing};

use crate::{BypassCode, CODE_BYTES, ESCROW_KEY_BYTES, EscrowKey};

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use crate::cpu;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) mod x86_avx512;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) mod x86_sha;

/// PBKDF2 iteration count Apple specifies for the escrow key.
pub const ITERATIONS: u32 = 50_000;
/// The salt: four zero bytes.
pub const SALT: [u8; 4] = [0; 4];
/// Number of chains the SHA-NI batch interleaves on one core.
pub const SHA_NI_LANES: usize = 4;
/// Number of chains the AVX-512 batch runs at once on one core (one per 32-bit lane).
pub const AVX512_LANES: usize = 16;
/// Fewest codes the AVX-512 batch takes as one (partly idle) group when SHA-NI is also there:
/// sixteen lanes cost about as much as eight SHA-NI chains (0.38 and 0.78 times the floor per key
/// on the machine it was measured on).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const AVX512_PARTIAL_MIN: usize = 8;

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

/// The escrow key of `code`, by the fastest path this CPU has.
#[must_use]
pub fn escrow_key(code: &BypassCode) -> EscrowKey {
    sha_ni(code).unwrap_or_else(|| specialised(code))
}

/// The escrow key through the `pbkdf2` crate (the reference implementation).
#[must_use]
pub fn reference(code: &BypassCode) -> EscrowKey {
    let mut out = Zeroizing::new([0u8; ESCROW_KEY_BYTES]);
    pbkdf2::pbkdf2_hmac::<Sha256>(code.as_bytes(), &SALT, ITERATIONS, out.as_mut_slice());
    EscrowKey::from_bytes(*out)
}

/// The escrow key through the SHA-NI loop; `None` when the CPU lacks SHA-NI, `SSE2`, `SSSE3` or
/// `SSE4.1`, or is not x86.
#[must_use]
pub fn sha_ni(code: &BypassCode) -> Option<EscrowKey> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if let Some(engine) = cpu::ShaNi::detect() {
        let mut key = [EscrowKey::from_bytes([0; ESCROW_KEY_BYTES])];
        sha_ni_group(engine, core::array::from_ref(code), &mut key);
        let [key] = key;
        return Some(key);
    }
    let _ = code;
    None
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
    fn new(code: &BypassCode) -> Self {
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

/// The escrow key holding eight big-endian words.
fn key_from_words(words: &[u32; 8]) -> EscrowKey {
    let mut out = [0u8; ESCROW_KEY_BYTES];
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    let key = EscrowKey::from_bytes(out);
    out.zeroize();
    key
}

/// The escrow key through the portable loop specialised to this shape (no `unsafe`; `sha2`'s
/// block function picks the CPU's SHA extensions at run time where present). This is the fallback
/// of [`escrow_key`] and [`escrow_keys`] on CPUs without SHA-NI.
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
    key_from_words(&acc)
}

/// [`escrow_keys`] was given slices of different lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLengthError {
    /// Number of bypass codes given.
    pub codes: usize,
    /// Number of escrow-key slots given.
    pub keys: usize,
}

impl fmt::Display for BatchLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bypass codes but {} escrow-key slots: a batch needs one slot per code",
            self.codes, self.keys
        )
    }
}

impl core::error::Error for BatchLengthError {}

/// Checks that there is one key slot per code.
fn check_lengths(codes: &[BypassCode], keys: &[EscrowKey]) -> Result<(), BatchLengthError> {
    if codes.len() == keys.len() {
        Ok(())
    } else {
        Err(BatchLengthError {
            codes: codes.len(),
            keys: keys.len(),
        })
    }
}

/// How many keys the fastest batch path of this CPU computes at once on one core:
/// [`AVX512_LANES`] with AVX-512, [`SHA_NI_LANES`] with SHA-NI, else 1. Batches of a multiple of
/// it (per core) keep every lane busy.
#[must_use]
pub fn batch_width() -> usize {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if cpu::Avx512::detect().is_some() {
            return AVX512_LANES;
        }
        if cpu::ShaNi::detect().is_some() {
            return SHA_NI_LANES;
        }
    }
    1
}

/// Writes the escrow key of `codes[i]` into `keys[i]` for every `i`, on the calling thread.
///
/// With AVX-512, groups of [`AVX512_LANES`] codes run as sixteen lanes of a software SHA-256
/// (and a last, partly idle group when at least 8 codes are left or the CPU lacks SHA-NI); with
/// SHA-NI, groups of [`SHA_NI_LANES`] chains run interleaved (a group of fewer for the last
/// codes); without either, the keys are derived one by one by [`specialised`]. The results equal
/// [`escrow_key`] of each code. No allocation.
///
/// # Errors
/// [`BatchLengthError`] when the slices differ in length (nothing is written then).
pub fn escrow_keys(codes: &[BypassCode], keys: &mut [EscrowKey]) -> Result<(), BatchLengthError> {
    check_lengths(codes, keys)?;
    batch(codes, keys);
    Ok(())
}

/// [`escrow_keys`] once the lengths are known to be equal.
fn batch(codes: &[BypassCode], keys: &mut [EscrowKey]) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let sha_ni = cpu::ShaNi::detect();
        let (codes, keys) = match cpu::Avx512::detect() {
            Some(engine) => avx512_batch(engine, sha_ni.is_none(), codes, keys),
            None => (codes, keys),
        };
        if let Some(engine) = sha_ni {
            sha_ni_batch(engine, codes, keys);
            return;
        }
        portable_batch(codes, keys);
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    portable_batch(codes, keys);
}

/// The fallback batch: one key at a time by the portable loop.
fn portable_batch(codes: &[BypassCode], keys: &mut [EscrowKey]) {
    for (code, key) in codes.iter().zip(keys) {
        *key = specialised(code);
    }
}

/// Full groups of [`AVX512_LANES`] codes, and the rest as one group when it is worth it (or when
/// `take_rest`); returns the codes left for another path.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn avx512_batch<'c, 'k>(
    engine: cpu::Avx512,
    take_rest: bool,
    codes: &'c [BypassCode],
    keys: &'k mut [EscrowKey],
) -> (&'c [BypassCode], &'k mut [EscrowKey]) {
    let (groups, rest) = codes.as_chunks::<AVX512_LANES>();
    let (key_groups, key_rest) = keys.as_chunks_mut::<AVX512_LANES>();
    for (group, key_group) in groups.iter().zip(key_groups) {
        avx512_group(engine, group, key_group);
    }
    if !rest.is_empty() && (take_rest || rest.len() >= AVX512_PARTIAL_MIN) {
        avx512_group(engine, rest, key_rest);
        return (&[], &mut []);
    }
    (rest, key_rest)
}

/// Up to [`AVX512_LANES`] keys by one run of the AVX-512 loop; idle lanes repeat the last code.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn avx512_group(engine: cpu::Avx512, codes: &[BypassCode], keys: &mut [EscrowKey]) {
    let Some(last) = codes.last() else {
        return;
    };
    let starts: [ChainStart; AVX512_LANES] =
        core::array::from_fn(|lane| ChainStart::new(codes.get(lane).unwrap_or(last)));
    let mut words = Zeroizing::new([[0u32; 8]; AVX512_LANES]);
    engine.chains(&starts, &mut words);
    for (key, words) in keys.iter_mut().zip(words.iter()) {
        *key = key_from_words(words);
    }
}

/// Groups of [`SHA_NI_LANES`] chains, then one group for the rest.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn sha_ni_batch(engine: cpu::ShaNi, codes: &[BypassCode], keys: &mut [EscrowKey]) {
    let (groups, rest) = codes.as_chunks::<SHA_NI_LANES>();
    let (key_groups, key_rest) = keys.as_chunks_mut::<SHA_NI_LANES>();
    for (group, key_group) in groups.iter().zip(key_groups) {
        sha_ni_group(engine, group, key_group);
    }
    sha_ni_tail(engine, rest, key_rest);
}

/// The last `codes.len() < SHA_NI_LANES` codes, as one interleaved group.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn sha_ni_tail(engine: cpu::ShaNi, codes: &[BypassCode], keys: &mut [EscrowKey]) {
    /// Runs the tail as a group of `N` when it has exactly `N` codes.
    fn exactly<const N: usize>(
        engine: cpu::ShaNi,
        codes: &[BypassCode],
        keys: &mut [EscrowKey],
    ) -> bool {
        match (<&[_; N]>::try_from(codes), <&mut [_; N]>::try_from(keys)) {
            (Ok(codes), Ok(keys)) => {
                sha_ni_group(engine, codes, keys);
                true
            }
            _ => false,
        }
    }
    let done = codes.is_empty()
        || exactly::<3>(engine, codes, keys)
        || exactly::<2>(engine, codes, keys)
        || exactly::<1>(engine, codes, keys);
    if !done {
        // Unreachable while SHA_NI_LANES <= 4; kept correct for any value.
        for (code, key) in codes.iter().zip(keys) {
            sha_ni_group(
                engine,
                core::array::from_ref(code),
                core::array::from_mut(key),
            );
        }
    }
}

/// `N` keys by `N` interleaved SHA-NI chains.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn sha_ni_group<const N: usize>(
    engine: cpu::ShaNi,
    codes: &[BypassCode; N],
    keys: &mut [EscrowKey; N],
) {
    let starts: [ChainStart; N] = core::array::from_fn(|j| ChainStart::new(&codes[j]));
    let mut words = Zeroizing::new([[0u32; 8]; N]);
    engine.chains(&starts, &mut words);
    for (key, words) in keys.iter_mut().zip(words.iter()) {
        *key = key_from_words(words);
    }
}

/// Writes the escrow key of `codes[i]` into `keys[i]` for every `i`, using every core.
///
/// The codes are cut into chunks of [`batch_width`] codes (or fewer, when there are too few codes
/// to give every core such chunks); threads claim chunks until none are left and run
/// [`escrow_keys`] on each. The
/// calling thread takes part, so the work completes even if no thread can be started. Results are
/// in input order and equal [`escrow_key`] of each code.
///
/// # Errors
/// [`BatchLengthError`] when the slices differ in length (nothing is written then).
#[cfg(feature = "std")]
pub fn escrow_keys_parallel(
    codes: &[BypassCode],
    keys: &mut [EscrowKey],
) -> Result<(), BatchLengthError> {
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::{sync::Mutex, thread};

    check_lengths(codes, keys)?;
    let cores = thread::available_parallelism().map_or(1, core::num::NonZero::get);
    if cores < 2 || codes.len() < 2 {
        batch(codes, keys);
        return Ok(());
    }
    let width = batch_width();
    let chunk = if codes.len() >= width * cores {
        width
    } else {
        codes.len().div_ceil(cores)
    };
    let chunks: Vec<Mutex<(&[BypassCode], &mut [EscrowKey])>> = codes
        .chunks(chunk)
        .zip(keys.chunks_mut(chunk))
        .map(Mutex::new)
        .collect();
    let next = AtomicUsize::new(0);
    let work = || {
        while let Some(slot) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
            // Nothing panics while holding a chunk, so the lock is never poisoned; if it were,
            // the chunk would still be only ours to fill.
            let mut guard = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (codes, keys) = &mut *guard;
            batch(codes, keys);
        }
    };
    thread::scope(|scope| {
        for index in 1..cores.min(chunks.len()) {
            // A thread that cannot start leaves its share to the others and the caller.
            let _ = thread::Builder::new()
                .name(format!("escrow-key-{index}"))
                .spawn_scoped(scope, work);
        }
        work();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes made from a counter, distinct per `seed`.
    fn codes<const N: usize>(seed: u8) -> [BypassCode; N] {
        core::array::from_fn(|i| {
            let mut bytes = [seed; 16];
            bytes[0] = u8::try_from(i).unwrap();
            BypassCode::from_bytes(bytes)
        })
    }

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
        assert_eq!(escrow_key(&code), expected);
        if let Some(key) = sha_ni(&code) {
            assert_eq!(key, expected);
        }
    }

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

    #[test]
    fn portable_batch_equals_one_by_one() {
        let codes = codes::<3>(0xa5);
        let mut keys = core::array::from_fn::<_, 3, _>(|_| EscrowKey::from_bytes([0; 32]));
        portable_batch(&codes, &mut keys);
        for (code, key) in codes.iter().zip(&keys) {
            assert_eq!(*key, reference(code));
        }
    }

    #[test]
    fn batch_rejects_mismatched_lengths_without_writing() {
        let codes = codes::<2>(1);
        let mut keys = [EscrowKey::from_bytes([7; 32])];
        let error = escrow_keys(&codes, &mut keys).unwrap_err();
        assert_eq!(error, BatchLengthError { codes: 2, keys: 1 });
        assert_eq!(keys[0], EscrowKey::from_bytes([7; 32]));
        assert_eq!(
            format!("{error}"),
            "2 bypass codes but 1 escrow-key slots: a batch needs one slot per code"
        );
    }

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[test]
    fn every_sha_ni_group_width_equals_the_portable_loop() {
        let Some(engine) = cpu::ShaNi::detect() else {
            return;
        };
        fn check<const N: usize>(engine: cpu::ShaNi) {
            let codes = codes::<N>(0x3c);
            let mut keys = core::array::from_fn::<_, N, _>(|_| EscrowKey::from_bytes([0; 32]));
            sha_ni_group(engine, &codes, &mut keys);
            for (code, key) in codes.iter().zip(&keys) {
                assert_eq!(*key, specialised(code), "group of {N}");
            }
        }
        check::<1>(engine);
        check::<2>(engine);
        check::<3>(engine);
        check::<4>(engine);
        check::<5>(engine);
    }

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[test]
    fn sha_ni_batch_of_any_length_equals_the_portable_loop() {
        // Run explicitly: on a CPU with AVX-512 the public batch takes the AVX-512 path.
        let Some(engine) = cpu::ShaNi::detect() else {
            return;
        };
        let codes = codes::<11>(0x77);
        for n in [0, 4, 7, 11] {
            let mut keys = core::array::from_fn::<_, 11, _>(|_| EscrowKey::from_bytes([0; 32]));
            sha_ni_batch(engine, &codes[..n], &mut keys[..n]);
            for (code, key) in codes[..n].iter().zip(&keys) {
                assert_eq!(*key, specialised(code), "batch of {n}");
            }
        }
    }

    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    #[test]
    fn avx512_full_and_partial_groups_equal_the_portable_loop() {
        let Some(engine) = cpu::Avx512::detect() else {
            return;
        };
        let codes = codes::<17>(0xc3);
        let mut keys = core::array::from_fn::<_, 17, _>(|_| EscrowKey::from_bytes([0; 32]));
        // 16 in one group, then 1 as a partial group (taken because `take_rest`).
        let (rest, _) = avx512_batch(engine, true, &codes, &mut keys);
        assert!(rest.is_empty());
        for (code, key) in codes.iter().zip(&keys) {
            assert_eq!(*key, specialised(code));
        }
        // Fewer than AVX512_PARTIAL_MIN left with SHA-NI around: handed back untouched.
        let mut keys = core::array::from_fn::<_, 5, _>(|_| EscrowKey::from_bytes([9; 32]));
        let (rest, rest_keys) = avx512_batch(engine, false, &codes[..5], &mut keys);
        assert_eq!((rest.len(), rest_keys.len()), (5, 5));
        assert!(
            keys.iter()
                .all(|key| *key == EscrowKey::from_bytes([9; 32]))
        );
    }
}
