//! The PBKDF2 loop on x86's SHA extensions (SHA-NI), specialised to the escrow-key shape.
//!
//! No `unsafe` here: [`chains`] is compiled for the `sha`, `sse2`, `ssse3` and `sse4.1` target
//! features and called (the one unsafe step) only from the parent `cpu` module, after run-time
//! detection. Inside, every intrinsic is a safe call (Rust lets target-feature code call the
//! intrinsics of its own features safely, and none here takes a pointer): values enter with
//! `_mm_set_epi32` and leave with `_mm_extract_epi32`.
//!
//! # The loop
//! SHA-NI keeps a SHA-256 state in two registers, `ABEF` and `CDGH`. Every block compressed here
//! is a 32-byte digest followed by constant padding (both HMAC messages of an iteration are
//! 64 + 32 bytes long; `U1`, whose inner message differs, is computed by the portable code), so
//! each iteration compresses the previous digest from the inner keyed state, then that digest from
//! the outer keyed state, and XORs the outer digest into the accumulator. In each compression:
//! - words 8-15, the `W + K` sums of rounds 8-15 and `σ0` of words 9-12 are constants;
//! - the feed-forward is never added to the state: the final `ABEF`/`CDGH` are shuffled
//!   (`pshufd`) into message order and the keyed state's words, already in that order, are added
//!   there, folded with the round constants. The shuffled `ABEF` holds `A`, `B` in its low lanes,
//!   which is all the next block's first `sha256rnds2` reads, so from one block's last round to
//!   the next block's first there are one shuffle and one addition; the digest never leaves the
//!   registers;
//! - the message schedule (which here depends on the digest, so it cannot run ahead of the rounds
//!   the way it does when hashing data) has its recurrence shortened to `sha256msg2` plus one
//!   addition (see [`schedule`]).
//!
//! One chain is bound by the latency of `sha256rnds2` and runs at the floor (100,000 compressions
//! of a bulk hash). `N` independent chains (keys) run interleaved, four rounds of every chain at
//! a time, and are bound by the SHA unit's throughput instead.
//!
//! The keyed states, digests and accumulators live in XMM registers and compiler-chosen spill
//! slots; the `cpu` module scrubs the stack after the call (see there for the limits).
//!
//! Imports only the chain data (`crate::chain`) and `core::arch`.

#![forbid(unsafe_code)]

#[cfg(target_arch = "x86")]
use core::arch::x86::{
    __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_setzero_si128,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_slli_si128, _mm_srli_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64, _mm_xor_si128,
};
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_setzero_si128,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_slli_si128, _mm_srli_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64, _mm_xor_si128,
};

use crate::chain::{ChainStart, ITERATIONS, K};

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

/// Four words in the message layout, from lane 0.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn words(w: &[u32; 8], first: usize) -> __m128i {
    lanes(w[first], w[first + 1], w[first + 2], w[first + 3])
}

/// A vector's four words, lane 0 first.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn unlanes(v: __m128i) -> [u32; 4] {
    [
        _mm_extract_epi32::<0>(v).cast_unsigned(),
        _mm_extract_epi32::<1>(v).cast_unsigned(),
        _mm_extract_epi32::<2>(v).cast_unsigned(),
        _mm_extract_epi32::<3>(v).cast_unsigned(),
    ]
}

/// One HMAC keyed state, in the forms the loop uses.
#[derive(Clone, Copy)]
struct Keyed {
    /// The state as `ABEF` (lane 3 holds A, lane 0 holds F) ...
    abef: __m128i,
    /// ... and `CDGH`: where a compression from this state starts.
    cdgh: __m128i,
    /// The feed-forward of such a compression (`H0..H3`, `H4..H7`) in message order: its digest
    /// is the shuffled final state plus these.
    m0: __m128i,
    /// See `m0`.
    m1: __m128i,
    /// `H0 + K0`, `H1 + K1` in lanes 0-1: with the shuffled final `A`, `B` added, the `W + K` of
    /// the next compression's first two rounds.
    wk0: __m128i,
    /// `H2 + K2`, `H3 + K3` in lanes 0-1: the same for rounds 2-3 (with `C`, `D`).
    wk0_hi: __m128i,
    /// `H4..H7 + K4..K7`: the same for rounds 4-7.
    wk1: __m128i,
}

impl Keyed {
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn new(state: &[u32; 8]) -> Self {
        let m0 = words(state, 0);
        let m1 = words(state, 4);
        let wk0 = _mm_add_epi32(m0, k(0));
        Self {
            // Lane 0 holds F (resp. H), lane 3 holds A (resp. C).
            abef: lanes(state[5], state[4], state[1], state[0]),
            cdgh: lanes(state[7], state[6], state[3], state[2]),
            m0,
            m1,
            wk0,
            wk0_hi: _mm_shuffle_epi32::<0x0E>(wk0),
            wk1: _mm_add_epi32(m1, k(1)),
        }
    }
}

/// Four rounds of every chain: `$lo` holds `W + K` of the first two rounds of chain `$j` in
/// lanes 0-1, `$hi` those of the last two.
macro_rules! four_rounds {
    ($abef:ident, $cdgh:ident, $j:ident => $lo:expr, $hi:expr) => {
        for $j in 0..N {
            // sha256rnds2 takes CDGH and ABEF and returns the new ABEF after two rounds; the old
            // ABEF is then the new CDGH.
            $cdgh[$j] = _mm_sha256rnds2_epu32($cdgh[$j], $abef[$j], $lo);
            $abef[$j] = _mm_sha256rnds2_epu32($abef[$j], $cdgh[$j], $hi);
        }
    };
    ($abef:ident, $cdgh:ident, $j:ident => $wk:expr) => {
        for $j in 0..N {
            let wk = $wk;
            $cdgh[$j] = _mm_sha256rnds2_epu32($cdgh[$j], $abef[$j], wk);
            $abef[$j] = _mm_sha256rnds2_epu32($abef[$j], $cdgh[$j], _mm_shuffle_epi32::<0x0E>(wk));
        }
    };
}

/// Message words `4g..4g+4` from the four groups before them:
/// `W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]`.
///
/// The usual form is `msg2(msg1(w16, w12) + alignr(w4, w8), w4)`. Its `W[t-7]` vector takes its
/// last lane from `w4`, the group just computed, which puts a shift and an addition before
/// `msg2` on the recurrence from group to group. That recurrence then ran slower than the rounds
/// it feeds (the schedule depends on the digest, so it cannot run ahead across blocks here). Lane 3
/// of `msg2`'s first operand only ever enters lane 3 of its result, linearly, so that term is
/// added after `msg2` instead: the recurrence is `msg2` plus one addition.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn schedule(w16: __m128i, w12: __m128i, w8: __m128i, w4: __m128i) -> __m128i {
    let early = _mm_add_epi32(_mm_sha256msg1_epu32(w16, w12), _mm_srli_si128::<4>(w8));
    late_lane(_mm_sha256msg2_epu32(early, w4), w4)
}

/// Adds lane 0 of `w4` (`W[t-7]` of the group's last word) to lane 3 of `partial`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn late_lane(partial: __m128i, w4: __m128i) -> __m128i {
    _mm_add_epi32(partial, _mm_slli_si128::<12>(w4))
}

/// Compresses, for every chain `j`, the block `m0[j] || m1[j] || padding` (a digest of a
/// 64 + 32 byte message) from the keyed state `$keyed[j]`, leaving the final state without the
/// feed-forward in `abef[j]`/`cdgh[j]`. `wk0`, `wk0_hi`, `wk1` are the `W + K` of rounds 0-7,
/// computed with the message.
///
/// A macro rather than a function: a target-feature function cannot be `inline(always)`, and a
/// call would pass the states of all chains through memory twice per iteration.
macro_rules! compress_digest_block {
    ($c:ident, $keyed:ident, $abef:ident, $cdgh:ident, $msg:ident) => {{
        let mut w0 = $msg.m0;
        let mut w1 = $msg.m1;
        let mut w2 = [$c.zero; N];
        let mut w3 = [$c.zero; N];
        for j in 0..N {
            $abef[j] = $keyed[j].abef;
            $cdgh[j] = $keyed[j].cdgh;
        }

        four_rounds!($abef, $cdgh, j => $msg.wk0[j], $msg.wk0_hi[j]);
        four_rounds!($abef, $cdgh, j => $msg.wk1[j]);
        four_rounds!($abef, $cdgh, _j => $c.wk2, $c.wk2_hi);
        four_rounds!($abef, $cdgh, _j => $c.wk3, $c.wk3_hi);
        // Words 16-19: their `W[t-7]` are words 9-12, all zero.
        for j in 0..N {
            w0[j] = _mm_sha256msg2_epu32(_mm_sha256msg1_epu32(w0[j], w1[j]), $c.pad3);
        }
        four_rounds!($abef, $cdgh, j => _mm_add_epi32(w0[j], k(4)));
        // Words 20-23, 24-27, 28-31: the constant groups enter as `pad2`, `pad3`.
        for j in 0..N {
            w1[j] = schedule(w1[j], $c.pad2, $c.pad3, w0[j]);
        }
        four_rounds!($abef, $cdgh, j => _mm_add_epi32(w1[j], k(5)));
        for j in 0..N {
            let early = _mm_add_epi32($c.msg1_23, _mm_srli_si128::<4>(w0[j]));
            w2[j] = late_lane(_mm_sha256msg2_epu32(early, w1[j]), w1[j]);
        }
        four_rounds!($abef, $cdgh, j => _mm_add_epi32(w2[j], k(6)));
        for j in 0..N {
            w3[j] = schedule($c.pad3, w0[j], w1[j], w2[j]);
        }
        four_rounds!($abef, $cdgh, j => _mm_add_epi32(w3[j], k(7)));

        // Groups 8-15: the general schedule over a rolling window of four groups.
        macro_rules! general {
            ($g:expr, $a:ident, $b:ident, $cc:ident, $d:ident) => {
                for j in 0..N {
                    $a[j] = schedule($a[j], $b[j], $cc[j], $d[j]);
                }
                four_rounds!($abef, $cdgh, j => _mm_add_epi32($a[j], k($g)));
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
    }};
}

/// The next block's message (and its first `W + K` sums) from the final state of a compression
/// that started from `$keyed`, by shuffles and the folded feed-forward: the digest never leaves
/// the registers.
///
/// The shuffled `ABEF` already holds `A`, `B` in lanes 0-1 and the shuffled `CDGH` holds `C`, `D`:
/// the next compression's first rounds wait for one shuffle and one addition only.
macro_rules! digest_to_message {
    ($keyed:ident, $abef:ident, $cdgh:ident, $msg:ident) => {
        for j in 0..N {
            // Lanes F E B A → A B E F, and H G D C → C D G H.
            let abef_in_order = _mm_shuffle_epi32::<0x1B>($abef[j]);
            let cdgh_in_order = _mm_shuffle_epi32::<0x1B>($cdgh[j]);
            $msg.wk0[j] = _mm_add_epi32(abef_in_order, $keyed[j].wk0);
            $msg.wk0_hi[j] = _mm_add_epi32(cdgh_in_order, $keyed[j].wk0_hi);
            let low = _mm_unpacklo_epi64(abef_in_order, cdgh_in_order);
            let high = _mm_unpackhi_epi64(abef_in_order, cdgh_in_order);
            $msg.wk1[j] = _mm_add_epi32(high, $keyed[j].wk1);
            $msg.m0[j] = _mm_add_epi32(low, $keyed[j].m0);
            $msg.m1[j] = _mm_add_epi32(high, $keyed[j].m1);
        }
    };
}

/// A digest of every chain as the next block's first words and first `W + K` sums.
#[derive(Clone, Copy)]
struct Message<const N: usize> {
    /// Words 0-3.
    m0: [__m128i; N],
    /// Words 4-7.
    m1: [__m128i; N],
    /// `W + K` of rounds 0-1 in lanes 0-1.
    wk0: [__m128i; N],
    /// `W + K` of rounds 2-3 in lanes 0-1.
    wk0_hi: [__m128i; N],
    /// `W + K` of rounds 4-7.
    wk1: [__m128i; N],
}

/// Values every compression of a digest block uses.
#[derive(Clone, Copy)]
struct Constants {
    /// An all-zero vector.
    zero: __m128i,
    /// Words 8-11: `0x80000000, 0, 0, 0`.
    pad2: __m128i,
    /// Words 12-15: `0, 0, 0, 768` (the message length in bits).
    pad3: __m128i,
    /// `W + K` of rounds 8-9 (lanes 0-1) ...
    wk2: __m128i,
    /// ... 10-11 ...
    wk2_hi: __m128i,
    /// ... 12-13 ...
    wk3: __m128i,
    /// ... and 14-15.
    wk3_hi: __m128i,
    /// `σ0(W[t-15]) + W[t-16]` of words 24-27: from words 8-12 only, so constant.
    msg1_23: __m128i,
}

impl Constants {
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn new() -> Self {
        let pad2 = lanes(0x8000_0000, 0, 0, 0);
        let pad3 = lanes(0, 0, 0, 0x300);
        let wk2 = _mm_add_epi32(pad2, k(2));
        let wk3 = _mm_add_epi32(pad3, k(3));
        Self {
            zero: _mm_setzero_si128(),
            pad2,
            pad3,
            wk2,
            wk2_hi: _mm_shuffle_epi32::<0x0E>(wk2),
            wk3,
            wk3_hi: _mm_shuffle_epi32::<0x0E>(wk3),
            msg1_23: _mm_sha256msg1_epu32(pad2, pad3),
        }
    }
}

/// The whole derivation of `N` interleaved chains, from `U1` on; `out[j]` receives the key of
/// `starts[j]` as eight big-endian words.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) fn chains<const N: usize>(starts: &[ChainStart; N], out: &mut [[u32; 8]; N]) {
    let c = Constants::new();
    let zero_keyed = Keyed::new(&[0; 8]);
    let (mut inner, mut outer) = ([zero_keyed; N], [zero_keyed; N]);
    let mut msg = Message {
        m0: [c.zero; N],
        m1: [c.zero; N],
        wk0: [c.zero; N],
        wk0_hi: [c.zero; N],
        wk1: [c.zero; N],
    };
    for (j, start) in starts.iter().enumerate() {
        inner[j] = Keyed::new(&start.keyed.inner);
        outer[j] = Keyed::new(&start.keyed.outer);
        // U1: the first message of the loop and the accumulator's first term.
        msg.m0[j] = words(&start.first, 0);
        msg.m1[j] = words(&start.first, 4);
        msg.wk0[j] = _mm_add_epi32(msg.m0[j], k(0));
        msg.wk0_hi[j] = _mm_shuffle_epi32::<0x0E>(msg.wk0[j]);
        msg.wk1[j] = _mm_add_epi32(msg.m1[j], k(1));
    }
    let (mut acc0, mut acc1) = (msg.m0, msg.m1);

    let (mut abef, mut cdgh) = ([c.zero; N], [c.zero; N]);
    for _ in 1..ITERATIONS {
        compress_digest_block!(c, inner, abef, cdgh, msg);
        digest_to_message!(inner, abef, cdgh, msg);
        compress_digest_block!(c, outer, abef, cdgh, msg);
        digest_to_message!(outer, abef, cdgh, msg);
        for j in 0..N {
            acc0[j] = _mm_xor_si128(acc0[j], msg.m0[j]);
            acc1[j] = _mm_xor_si128(acc1[j], msg.m1[j]);
        }
    }

    for (j, words) in out.iter_mut().enumerate() {
        let [w0, w1, w2, w3] = unlanes(acc0[j]);
        let [w4, w5, w6, w7] = unlanes(acc1[j]);
        *words = [w0, w1, w2, w3, w4, w5, w6, w7];
    }
}
