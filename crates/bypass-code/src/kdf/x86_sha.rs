//! The PBKDF2 loop on x86's SHA extensions (SHA-NI), specialised to the escrow-key shape.
//!
//! This is the crate's only `unsafe`: one call into a function compiled for the `sha`, `sse2`,
//! `ssse3` and `sse4.1` target features, made only through a [`ShaNi`] token, which exists only
//! after `cpufeatures` (CPUID, no `std` needed) found those features on the running CPU. Inside,
//! every intrinsic is a safe call (Rust lets target-feature code call intrinsics of its own
//! features safely, and no intrinsic here takes a pointer): values enter with `_mm_set_epi32`
//! and leave with `_mm_extract_epi32`.
//!
//! # The loop
//! SHA-NI keeps a SHA-256 state in two registers, `ABEF` and `CDGH`. Every block compressed here
//! is a 32-byte digest followed by constant padding (both HMAC messages of an iteration are
//! 64 + 32 bytes long), so each iteration:
//! 1. compresses the previous outer digest from the inner keyed state: message words 0-7 are the
//!    digest, words 8-15 and the `W + K` sums of rounds 8-15 are constants, as is `σ0` of
//!    words 9-12;
//! 2. adds the keyed state (feed-forward) and turns `ABEF`/`CDGH` straight into the next block's
//!    message registers with four shuffles, never storing the digest;
//! 3. does the same from the outer keyed state, and XORs the result into an accumulator kept in
//!    the `ABEF`/`CDGH` layout, converted once at the end.
//!
//! `N` independent chains (keys) run interleaved, group of four rounds by group of four rounds:
//! one chain is bound by the latency of `sha256rnds2`, several fill the SHA unit's throughput.
//!
//! # Secrets left behind
//! Inputs and outputs are the caller's (zeroized there). The keyed states, digests and
//! accumulators live in XMM registers and in spill slots the compiler chooses on this function's
//! stack frame. Rust cannot name those, so [`ShaNi::chains`] overwrites the stack area the call
//! used with zeros afterwards ([`scrub_stack`], best effort: it covers the frame when it is smaller
//! than [`SCRUB_BYTES`], which it is by a wide margin); the XMM registers keep their last values
//! until other code overwrites them, which is the same limit every SIMD hash implementation has.

#![allow(unsafe_code)]

#[cfg(target_arch = "x86")]
use core::arch::x86::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi32, _mm_set_epi32, _mm_setzero_si128,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_unpackhi_epi64, _mm_unpacklo_epi64, _mm_xor_si128,
};
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi32, _mm_set_epi32, _mm_setzero_si128,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_unpackhi_epi64, _mm_unpacklo_epi64, _mm_xor_si128,
};

use zeroize::Zeroize;

use super::{ChainStart, ITERATIONS, K};

cpufeatures::new!(cpuid_sha, "sha", "sse2", "ssse3", "sse4.1");

/// Bytes of stack zeroed after the SIMD loop returns (its frame is a few hundred bytes).
pub(super) const SCRUB_BYTES: usize = 4096;

/// Proof that the running CPU has SHA-NI and the SSE levels the loop needs.
///
/// Only [`ShaNi::detect`] makes one, after the CPUID check; the check runs once per process
/// (`cpufeatures` caches it in an atomic).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShaNi(cpuid_sha::InitToken);

impl ShaNi {
    /// The token when this CPU supports SHA-NI, `SSE2`, `SSSE3` and `SSE4.1`.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let (token, present) = cpuid_sha::init_get();
        present.then_some(Self(token))
    }

    /// Runs `N` independent PBKDF2 chains interleaved; `out[j]` receives the derived key of
    /// `starts[j]` as eight big-endian words.
    pub(crate) fn chains<const N: usize>(self, starts: &[ChainStart; N], out: &mut [[u32; 8]; N]) {
        // SAFETY: `chains_sha_ni` is compiled for `sha`, `sse2`, `ssse3` and `sse4.1`, and calling
        // it is sound exactly when the CPU executes those instructions. A `ShaNi` exists only
        // when `detect` found all four with CPUID. The function takes plain references and does
        // no pointer arithmetic.
        unsafe { chains_sha_ni(starts, out) };
        scrub_stack();
    }
}

/// Overwrites the stack area below the caller's frame (where the SIMD loop's frame and spill
/// slots were) with zeros.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; SCRUB_BYTES];
    // Volatile writes: not removed although the array is dead afterwards.
    area.zeroize();
    core::hint::black_box(&mut area);
}

/// A vector from four words, lane 0 first.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn lanes(w0: u32, w1: u32, w2: u32, w3: u32) -> __m128i {
    _mm_set_epi32(
        w3.cast_signed(),
        w2.cast_signed(),
        w1.cast_signed(),
        w0.cast_signed(),
    )
}

/// `W + K` of the four rounds of group `g` (words `4g..4g+4`).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn k(g: usize) -> __m128i {
    lanes(K[4 * g], K[4 * g + 1], K[4 * g + 2], K[4 * g + 3])
}

/// A SHA-256 state (`H0..H7`) as the `ABEF` and `CDGH` registers.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn to_registers(state: &[u32; 8]) -> (__m128i, __m128i) {
    // Lane 0 holds F (resp. H), lane 3 holds A (resp. C).
    (
        lanes(state[5], state[4], state[1], state[0]),
        lanes(state[7], state[6], state[3], state[2]),
    )
}

/// The `ABEF` and `CDGH` registers back as `H0..H7`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn from_registers(abef: __m128i, cdgh: __m128i, state: &mut [u32; 8]) {
    let word = |lane: i32| lane.cast_unsigned();
    *state = [
        word(_mm_extract_epi32::<3>(abef)),
        word(_mm_extract_epi32::<2>(abef)),
        word(_mm_extract_epi32::<3>(cdgh)),
        word(_mm_extract_epi32::<2>(cdgh)),
        word(_mm_extract_epi32::<1>(abef)),
        word(_mm_extract_epi32::<0>(abef)),
        word(_mm_extract_epi32::<1>(cdgh)),
        word(_mm_extract_epi32::<0>(cdgh)),
    ];
}

/// Four rounds of every chain; `$wk` is the `W + K` vector of chain `$j`.
macro_rules! four_rounds {
    ($abef:ident, $cdgh:ident, $j:ident => $wk:expr) => {
        for $j in 0..N {
            let wk = $wk;
            // sha256rnds2 takes CDGH and ABEF and returns the new ABEF after two rounds; the old
            // ABEF is then the new CDGH.
            $cdgh[$j] = _mm_sha256rnds2_epu32($cdgh[$j], $abef[$j], wk);
            $abef[$j] = _mm_sha256rnds2_epu32($abef[$j], $cdgh[$j], _mm_shuffle_epi32::<0x0E>(wk));
        }
    };
}

/// Message words `4g..4g+4` from the four groups before them:
/// `W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn schedule(w16: __m128i, w12: __m128i, w8: __m128i, w4: __m128i) -> __m128i {
    let partial = _mm_add_epi32(_mm_sha256msg1_epu32(w16, w12), _mm_alignr_epi8::<4>(w4, w8));
    _mm_sha256msg2_epu32(partial, w4)
}

/// Compresses, for every chain `j`, the block `digest[j] || padding` (64 + 32 byte message)
/// starting from the keyed state `init_*[j]`, and leaves the state plus the feed-forward in
/// `abef`/`cdgh`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[allow(clippy::too_many_arguments)] // Registers of N chains; a struct would be spilled whole.
fn compress_digest_block<const N: usize>(
    abef: &mut [__m128i; N],
    cdgh: &mut [__m128i; N],
    init_abef: &[__m128i; N],
    init_cdgh: &[__m128i; N],
    m0: &[__m128i; N],
    m1: &[__m128i; N],
) {
    // Words 8-11: 0x80000000, 0, 0, 0; words 12-15: 0, 0, 0, 768 (the message length in bits).
    let pad2 = lanes(0x8000_0000, 0, 0, 0);
    let pad3 = lanes(0, 0, 0, 0x300);
    let wk2 = _mm_add_epi32(pad2, k(2));
    let wk3 = _mm_add_epi32(pad3, k(3));
    // `σ0(W[t-15]) + W[t-16]` of words 24-27: from words 8-12 only, so constant.
    let msg1_23 = _mm_sha256msg1_epu32(pad2, pad3);

    let mut w0 = *m0;
    let mut w1 = *m1;
    let mut w2 = [_mm_setzero_si128(); N];
    let mut w3 = [_mm_setzero_si128(); N];
    *abef = *init_abef;
    *cdgh = *init_cdgh;

    four_rounds!(abef, cdgh, j => _mm_add_epi32(w0[j], k(0)));
    four_rounds!(abef, cdgh, j => _mm_add_epi32(w1[j], k(1)));
    four_rounds!(abef, cdgh, _j => wk2);
    four_rounds!(abef, cdgh, _j => wk3);
    // Words 16-19: their `W[t-7]` are words 9-12, all zero.
    for j in 0..N {
        w0[j] = _mm_sha256msg2_epu32(_mm_sha256msg1_epu32(w0[j], w1[j]), pad3);
    }
    four_rounds!(abef, cdgh, j => _mm_add_epi32(w0[j], k(4)));
    // Words 20-23, 24-27, 28-31: the constant groups enter as `pad2`, `pad3`.
    for j in 0..N {
        w1[j] = schedule(w1[j], pad2, pad3, w0[j]);
    }
    four_rounds!(abef, cdgh, j => _mm_add_epi32(w1[j], k(5)));
    for j in 0..N {
        let partial = _mm_add_epi32(msg1_23, _mm_alignr_epi8::<4>(w1[j], w0[j]));
        w2[j] = _mm_sha256msg2_epu32(partial, w1[j]);
    }
    four_rounds!(abef, cdgh, j => _mm_add_epi32(w2[j], k(6)));
    for j in 0..N {
        w3[j] = schedule(pad3, w0[j], w1[j], w2[j]);
    }
    four_rounds!(abef, cdgh, j => _mm_add_epi32(w3[j], k(7)));

    // Groups 8-15: the general schedule over a rolling window of four groups.
    macro_rules! general {
        ($g:expr, $a:ident, $b:ident, $c:ident, $d:ident) => {
            for j in 0..N {
                $a[j] = schedule($a[j], $b[j], $c[j], $d[j]);
            }
            four_rounds!(abef, cdgh, j => _mm_add_epi32($a[j], k($g)));
        };
    }
    general!(8, w0, w1, w2, w3);
    general!(9, w1, w2, w3, w0);
    general!(10, w2, w3, w0, w1);
    general!(11, w3, w0, w1, w2);
    general!(12, w0, w1, w2, w3);
    general!(13, w1, w2, w3, w0);
    general!(14, w2, w3, w0, w1);
    general!(15, w3, w0, w1, w2);

    for j in 0..N {
        abef[j] = _mm_add_epi32(abef[j], init_abef[j]);
        cdgh[j] = _mm_add_epi32(cdgh[j], init_cdgh[j]);
    }
}

/// The digest in `ABEF`/`CDGH` as message words 0-3 and 4-7 (lane 0 first), by shuffles only.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn digest_to_message<const N: usize>(
    abef: &[__m128i; N],
    cdgh: &[__m128i; N],
    m0: &mut [__m128i; N],
    m1: &mut [__m128i; N],
) {
    for j in 0..N {
        // Lanes F E B A → A B E F, and H G D C → C D G H.
        let abef_in_order = _mm_shuffle_epi32::<0x1B>(abef[j]);
        let cdgh_in_order = _mm_shuffle_epi32::<0x1B>(cdgh[j]);
        m0[j] = _mm_unpacklo_epi64(abef_in_order, cdgh_in_order);
        m1[j] = _mm_unpackhi_epi64(abef_in_order, cdgh_in_order);
    }
}

/// The whole derivation of `N` interleaved chains, from `U1` on.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn chains_sha_ni<const N: usize>(starts: &[ChainStart; N], out: &mut [[u32; 8]; N]) {
    let zero = _mm_setzero_si128();
    let (mut inner_abef, mut inner_cdgh) = ([zero; N], [zero; N]);
    let (mut outer_abef, mut outer_cdgh) = ([zero; N], [zero; N]);
    let (mut acc_abef, mut acc_cdgh) = ([zero; N], [zero; N]);
    let (mut m0, mut m1) = ([zero; N], [zero; N]);
    for (j, start) in starts.iter().enumerate() {
        (inner_abef[j], inner_cdgh[j]) = to_registers(&start.keyed.inner);
        (outer_abef[j], outer_cdgh[j]) = to_registers(&start.keyed.outer);
        // U1 is both the first message of the loop and the accumulator's first term.
        (acc_abef[j], acc_cdgh[j]) = to_registers(&start.first);
    }
    digest_to_message(&acc_abef, &acc_cdgh, &mut m0, &mut m1);

    let (mut abef, mut cdgh) = ([zero; N], [zero; N]);
    for _ in 1..ITERATIONS {
        compress_digest_block(&mut abef, &mut cdgh, &inner_abef, &inner_cdgh, &m0, &m1);
        digest_to_message(&abef, &cdgh, &mut m0, &mut m1);
        compress_digest_block(&mut abef, &mut cdgh, &outer_abef, &outer_cdgh, &m0, &m1);
        digest_to_message(&abef, &cdgh, &mut m0, &mut m1);
        for j in 0..N {
            acc_abef[j] = _mm_xor_si128(acc_abef[j], abef[j]);
            acc_cdgh[j] = _mm_xor_si128(acc_cdgh[j], cdgh[j]);
        }
    }

    for (j, words) in out.iter_mut().enumerate() {
        from_registers(acc_abef[j], acc_cdgh[j], words);
    }
}
