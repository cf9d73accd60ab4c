//! Run-time CPU feature detection and the SIMD escrow-key loops: the crate's only `unsafe`.
//!
//! This module owns the loops ([`x86_sha`], SHA-NI; [`x86_avx512`], sixteen AVX-512 lanes) and
//! is their only caller. They are safe functions compiled for target features the baseline x86
//! target lacks; calling one is sound exactly when the running CPU has those features. A
//! [`ShaNi`] or [`Avx512`] token exists only after `cpufeatures` (CPUID, with the OS
//! register-state check for AVX-512; no `std` needed) found them, and the tokens' methods are the
//! only callers. Each call is one `unsafe` block; the loops take plain references and do no
//! pointer arithmetic. The loop modules themselves `forbid(unsafe_code)`: the `allow` below covers
//! this file only.
//!
//! # Where it sits
//! `cpu` and its loops import only the chain data ([`crate::chain`]: [`ChainStart`] in, eight
//! words per key out); the escrow-key derivations (`kdf::one`, `kdf::batch`) import `cpu` and
//! `chain`. Nothing here knows of keys, batches or threads, and nothing below imports upwards.
//!
//! # Secrets left behind
//! Inputs and outputs are the caller's (zeroized there). Inside a loop the keyed states, digests
//! and accumulators live in vector registers and in spill slots the compiler chooses on the loop's
//! stack frame. Rust cannot name those, so after every call [`scrub_stack`] overwrites the stack
//! area the loop used with zeros. This is best effort: it covers the loop's frame when that is
//! smaller than [`SCRUB_BYTES`] (with rustc 1.95 the frames are 1.3 KiB for four SHA-NI chains
//! and 4.8 KiB for the AVX-512 loop, whose sixteen message words spill). The vector registers
//! keep their last values until other code overwrites them: Rust cannot clear them without inline
//! assembly, a limit every SIMD hash implementation shares.

#![allow(unsafe_code)] // The one file exempt from the crate's `forbid(unsafe_code)`.

use zeroize::Zeroize;

use crate::chain::ChainStart;

mod x86_avx512;
mod x86_sha;

cpufeatures::new!(cpuid_sha, "sha", "sse2", "ssse3", "sse4.1");
cpufeatures::new!(cpuid_avx512, "avx512f");

/// Bytes of stack zeroed after a SIMD loop returns (its largest frame is about 4.8 KiB).
const SCRUB_BYTES: usize = 8192;

/// Proof that the running CPU has SHA-NI and the SSE levels the SHA-NI loop needs.
///
/// Only [`ShaNi::detect`] makes one; the CPUID check runs once per process (`cpufeatures` caches
/// it in an atomic).
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
        // SAFETY: `x86_sha::chains` is compiled for `sha`, `sse2`, `ssse3` and `sse4.1`; calling
        // it is sound exactly when the CPU executes those instructions. A `ShaNi` exists only
        // when `detect` found all four with CPUID. The function takes plain references.
        unsafe { x86_sha::chains(starts, out) };
        scrub_stack();
    }
}

/// Proof that the running CPU (and the operating system, which must save the 512-bit
/// registers) supports AVX-512F.
///
/// Only [`Avx512::detect`] makes one, once per process as for [`ShaNi`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(cpuid_avx512::InitToken);

impl Avx512 {
    /// The token when this CPU and OS support AVX-512F.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let (token, present) = cpuid_avx512::init_get();
        present.then_some(Self(token))
    }

    /// Runs sixteen independent PBKDF2 chains, one per 32-bit lane; `out[l]` receives the
    /// derived key of `starts[l]` as eight big-endian words.
    pub(crate) fn chains(
        self,
        starts: &[ChainStart; x86_avx512::LANES],
        out: &mut [[u32; 8]; x86_avx512::LANES],
    ) {
        // SAFETY: `x86_avx512::chains` is compiled for `avx512f`; calling it is sound exactly
        // when the CPU executes AVX-512F instructions and the OS saves the ZMM registers. An
        // `Avx512` exists only when `detect` found both (CPUID and XGETBV). The function takes
        // plain references.
        unsafe { x86_avx512::chains(starts, out) };
        scrub_stack();
    }
}

/// Overwrites the stack area below the caller's frame (where a SIMD loop's frame and spill slots
/// were) with zeros.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; SCRUB_BYTES];
    // Volatile writes: not removed although the array is dead afterwards.
    area.zeroize();
    core::hint::black_box(&mut area);
}
