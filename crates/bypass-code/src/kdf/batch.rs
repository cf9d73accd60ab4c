//! Many escrow keys on one core: [`escrow_keys`] and the grouping behind it.
//!
//! With AVX-512, groups of [`AVX512_LANES`] codes run as the sixteen 32-bit lanes of a software
//! SHA-256 (on CPUs with both extensions it outruns the SHA unit); a last, partly idle group is
//! worth it from `AVX512_PARTIAL_MIN` codes when SHA-NI is there to take fewer, and always
//! without SHA-NI. With SHA-NI, groups of [`SHA_NI_LANES`] chains run interleaved (one chain is
//! bound by the latency of the SHA unit, several by its throughput), the last codes as a smaller
//! group. Without either, the keys are derived one by one by [`specialised`].
//!
//! Imports the one-key layer ([`specialised`]), the chain data (`crate::chain`) and the CPU tokens
//! (`crate::cpu`); the thread layer (`parallel`) runs [`on_one_core`] on each of its chunks.

#![forbid(unsafe_code)]

use core::fmt;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use zeroize::Zeroizing;

use super::one::specialised;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use crate::chain::{self, ChainStart};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use crate::cpu;
use crate::{BypassCode, EscrowKey};

/// Number of chains the SHA-NI batch interleaves on one core.
pub const SHA_NI_LANES: usize = 4;
/// Number of chains the AVX-512 batch runs at once on one core (one per 32-bit lane).
pub const AVX512_LANES: usize = 16;
/// Fewest codes the AVX-512 batch takes as one (partly idle) group when SHA-NI is also there:
/// sixteen lanes cost about as much as eight SHA-NI chains (0.38 and 0.78 times the floor per key
/// on the machine it was measured on).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const AVX512_PARTIAL_MIN: usize = 8;

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
pub(super) fn check_lengths(
    codes: &[BypassCode],
    keys: &[EscrowKey],
) -> Result<(), BatchLengthError> {
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
/// [`escrow_key`](super::escrow_key) of each code. No allocation.
///
/// # Errors
/// [`BatchLengthError`] when the slices differ in length (nothing is written then).
pub fn escrow_keys(codes: &[BypassCode], keys: &mut [EscrowKey]) -> Result<(), BatchLengthError> {
    check_lengths(codes, keys)?;
    on_one_core(codes, keys);
    Ok(())
}

/// [`escrow_keys`] once the lengths are known to be equal.
pub(super) fn on_one_core(codes: &[BypassCode], keys: &mut [EscrowKey]) {
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
        *key = chain::key_from_words(words);
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
    chain::derive(codes, keys, |starts, words| engine.chains(starts, words));
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

    #[cfg(feature = "reference")]
    #[test]
    fn portable_batch_equals_one_by_one() {
        let codes = codes::<3>(0xa5);
        let mut keys = core::array::from_fn::<_, 3, _>(|_| EscrowKey::from_bytes([0; 32]));
        portable_batch(&codes, &mut keys);
        for (code, key) in codes.iter().zip(&keys) {
            assert_eq!(*key, crate::kdf::one::reference(code));
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
