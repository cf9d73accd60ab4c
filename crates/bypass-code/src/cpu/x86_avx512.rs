//! The PBKDF2 loop for sixteen keys at once on AVX-512: SHA-256 in software, one key per 32-bit
//! lane of each 512-bit register.
//!
//! Every register holds the same state word (or message word) of sixteen independent chains, so
//! the digest of one block is the next block's message words as is: no shuffle, nothing leaves
//! the registers. The rounds use the native rotates (`vprord`) and three-input logic
//! (`vpternlogd` for `Ch`, `Maj` and three-way XOR). The padding words are constants, which the
//! compiler folds into the round constants and the first schedule words.
//!
//! No `unsafe` here: [`chains`] is compiled for `avx512f` and called (the one unsafe step) only
//! from the parent `cpu` module, after run-time detection; the intrinsics it uses take no
//! pointers. Secrets stay in ZMM registers and spill slots, which the `cpu` module scrubs from the
//! stack.
//!
//! Imports only the chain data (`crate::chain`) and `core::arch`.

#![forbid(unsafe_code)]

#[cfg(target_arch = "x86")]
use core::arch::x86::{
    __m128i, __m512i, _mm_extract_epi32, _mm512_add_epi32, _mm512_extracti32x4_epi32,
    _mm512_ror_epi32, _mm512_set_epi32, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_srli_epi32,
    _mm512_ternarylogic_epi32, _mm512_xor_si512,
};
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, __m512i, _mm_extract_epi32, _mm512_add_epi32, _mm512_extracti32x4_epi32,
    _mm512_ror_epi32, _mm512_set_epi32, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_srli_epi32,
    _mm512_ternarylogic_epi32, _mm512_xor_si512,
};

use crate::chain::{ChainStart, ITERATIONS, K};

/// Number of chains in one run of the loop.
pub(super) const LANES: usize = 16;

/// Word `i` of the sixteen eight-word values, one per lane (lane `l` from `values[l]`).
#[inline]
#[target_feature(enable = "avx512f")]
fn gather(values: [&[u32; 8]; LANES], i: usize) -> __m512i {
    let w = |lane: usize| values[lane][i].cast_signed();
    _mm512_set_epi32(
        w(15),
        w(14),
        w(13),
        w(12),
        w(11),
        w(10),
        w(9),
        w(8),
        w(7),
        w(6),
        w(5),
        w(4),
        w(3),
        w(2),
        w(1),
        w(0),
    )
}

/// Writes the sixteen lanes of `v` as word `i` of `out[0..16]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn scatter(v: __m512i, out: &mut [[u32; 8]; LANES], i: usize) {
    let quarters: [__m128i; 4] = [
        _mm512_extracti32x4_epi32::<0>(v),
        _mm512_extracti32x4_epi32::<1>(v),
        _mm512_extracti32x4_epi32::<2>(v),
        _mm512_extracti32x4_epi32::<3>(v),
    ];
    for (q, quarter) in quarters.into_iter().enumerate() {
        out[4 * q][i] = _mm_extract_epi32::<0>(quarter).cast_unsigned();
        out[4 * q + 1][i] = _mm_extract_epi32::<1>(quarter).cast_unsigned();
        out[4 * q + 2][i] = _mm_extract_epi32::<2>(quarter).cast_unsigned();
        out[4 * q + 3][i] = _mm_extract_epi32::<3>(quarter).cast_unsigned();
    }
}

/// `x` rotated right by `N` bits in every lane.
macro_rules! ror {
    ($x:expr, $n:literal) => {
        _mm512_ror_epi32::<$n>($x)
    };
}

/// `a ^ b ^ c`.
#[inline]
#[target_feature(enable = "avx512f")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi32::<0x96>(a, b, c)
}

/// One SHA-256 round on sixteen lanes; `$kw` is `K[t] + W[t]`. Updates `d` and `h` (the caller
/// rotates the names).
macro_rules! round {
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr, $h:expr, $kw:expr) => {{
        let sigma1 = xor3(ror!($e, 6), ror!($e, 11), ror!($e, 25));
        // Ch(e, f, g) = e ? f : g.
        let ch = _mm512_ternarylogic_epi32::<0xCA>($e, $f, $g);
        let t1 = _mm512_add_epi32(_mm512_add_epi32($h, $kw), _mm512_add_epi32(sigma1, ch));
        let sigma0 = xor3(ror!($a, 2), ror!($a, 13), ror!($a, 22));
        // Maj(a, b, c).
        let maj = _mm512_ternarylogic_epi32::<0xE8>($a, $b, $c);
        $d = _mm512_add_epi32($d, t1);
        $h = _mm512_add_epi32(t1, _mm512_add_epi32(sigma0, maj));
    }};
}

/// `σ0(x)`.
#[inline]
#[target_feature(enable = "avx512f")]
fn small_sigma0(x: __m512i) -> __m512i {
    xor3(ror!(x, 7), ror!(x, 18), _mm512_srli_epi32::<3>(x))
}

/// `σ1(x)`.
#[inline]
#[target_feature(enable = "avx512f")]
fn small_sigma1(x: __m512i) -> __m512i {
    xor3(ror!(x, 17), ror!(x, 19), _mm512_srli_epi32::<10>(x))
}

/// Eight rounds `t0..t0 + 8`, with the message schedule when `t0 >= 16`.
macro_rules! eight_rounds {
    ($s:ident, $w:ident, $t0:literal, $schedule:literal) => {{
        let [a, b, c, d, e, f, g, h] = &mut $s;
        eight_rounds!(@one $w, $t0, 0, $schedule, a, b, c, d, e, f, g, h);
        eight_rounds!(@one $w, $t0, 1, $schedule, h, a, b, c, d, e, f, g);
        eight_rounds!(@one $w, $t0, 2, $schedule, g, h, a, b, c, d, e, f);
        eight_rounds!(@one $w, $t0, 3, $schedule, f, g, h, a, b, c, d, e);
        eight_rounds!(@one $w, $t0, 4, $schedule, e, f, g, h, a, b, c, d);
        eight_rounds!(@one $w, $t0, 5, $schedule, d, e, f, g, h, a, b, c);
        eight_rounds!(@one $w, $t0, 6, $schedule, c, d, e, f, g, h, a, b);
        eight_rounds!(@one $w, $t0, 7, $schedule, b, c, d, e, f, g, h, a);
    }};
    (@one $w:ident, $t0:literal, $i:literal, $schedule:literal,
        $a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident) => {{
        const T: usize = $t0 + $i;
        if $schedule {
            $w[T % 16] = _mm512_add_epi32(
                _mm512_add_epi32($w[T % 16], small_sigma0($w[(T + 1) % 16])),
                _mm512_add_epi32($w[(T + 9) % 16], small_sigma1($w[(T + 14) % 16])),
            );
        }
        let kw = _mm512_add_epi32($w[T % 16], _mm512_set1_epi32(K[T].cast_signed()));
        round!((*$a), (*$b), (*$c), (*$d), (*$e), (*$f), (*$g), (*$h), kw);
    }};
}

/// Compresses, in every lane, the block `message || padding` (a 32-byte digest of a 64 + 32
/// byte message) from `init`, and evaluates to the new state with the feed-forward added.
///
/// A macro rather than a function: a target-feature function cannot be `inline(always)`, and a
/// call passes sixteen registers through memory each way.
macro_rules! compress_digest_block {
    ($init:expr, $message:expr) => {{
        let init: &[__m512i; 8] = $init;
        let message: &[__m512i; 8] = $message;
        let zero = _mm512_setzero_si512();
        let mut w = [zero; 16];
        w[..8].copy_from_slice(message);
        // Padding: 0x80 after the digest, the length (768 bits) in the last word.
        w[8] = _mm512_set1_epi32(0x8000_0000_u32.cast_signed());
        w[15] = _mm512_set1_epi32(0x300);
        let mut s = *init;
        eight_rounds!(s, w, 0, false);
        eight_rounds!(s, w, 8, false);
        eight_rounds!(s, w, 16, true);
        eight_rounds!(s, w, 24, true);
        eight_rounds!(s, w, 32, true);
        eight_rounds!(s, w, 40, true);
        eight_rounds!(s, w, 48, true);
        eight_rounds!(s, w, 56, true);
        for (word, start) in s.iter_mut().zip(init) {
            *word = _mm512_add_epi32(*word, *start);
        }
        s
    }};
}

/// The whole derivation of sixteen chains, from `U1` on; `out[l]` receives the key of
/// `starts[l]` as eight big-endian words.
#[target_feature(enable = "avx512f")]
pub(super) fn chains(starts: &[ChainStart; LANES], out: &mut [[u32; 8]; LANES]) {
    let inner_states = starts.each_ref().map(|start| &start.keyed.inner);
    let outer_states = starts.each_ref().map(|start| &start.keyed.outer);
    let firsts = starts.each_ref().map(|start| &start.first);
    let zero = _mm512_setzero_si512();
    let (mut inner, mut outer, mut u) = ([zero; 8], [zero; 8], [zero; 8]);
    for i in 0..8 {
        inner[i] = gather(inner_states, i);
        outer[i] = gather(outer_states, i);
        u[i] = gather(firsts, i);
    }
    let mut acc = u;
    for _ in 1..ITERATIONS {
        let digest = compress_digest_block!(&inner, &u);
        u = compress_digest_block!(&outer, &digest);
        for (a, word) in acc.iter_mut().zip(&u) {
            *a = _mm512_xor_si512(*a, *word);
        }
    }
    for (i, word) in acc.into_iter().enumerate() {
        scatter(word, out, i);
    }
}
