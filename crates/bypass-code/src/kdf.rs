//! The escrow-key derivation: PBKDF2-HMAC-SHA256, 4 zero bytes of salt, 50,000 iterations, one
//! 32-byte block.
//!
//! Three paths compute one key, all equal (tests and a fuzz target compare them):
//! - `reference()` (feature `reference`): the `pbkdf2` crate, the general implementation
//!   everything else is tested against;
//! - [`specialised`]: the portable loop for exactly this shape, in safe Rust. The HMAC inner and
//!   outer keyed states are computed once; every iteration is then two SHA-256 block compressions
//!   (`sha2`'s block function) whose padding words are constant;
//! - [`sha_ni`]: the same loop on x86's SHA extensions with the digest fed from the state
//!   registers straight into the next block's message registers, at the physical floor of
//!   100,000 compressions. `None` when the CPU lacks SHA-NI (detected at run time, without
//!   `std`) or is not x86.
//!
//! [`escrow_key`] (what [`BypassCode::escrow_key`](crate::BypassCode::escrow_key) calls) takes SHA-NI when the CPU has it and
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
//! assert_eq!(keys[1], kdf::specialised(&codes[1]));
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
//! | `pbkdf2` crate (`reference()`) | 1.4-1.6x |
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
//! Keyed states, digests, accumulators and blocks live in [`Zeroizing`](zeroize::Zeroizing) buffers or types that
//! zeroize on drop. The SIMD loops keep them in vector registers and compiler-chosen spill slots:
//! the stack area they used is overwritten with zeros after they return (see the crate's
//! `cpu` module for the limits).

#![forbid(unsafe_code)]

// The layers, each importing only those below it (and the crate's types):
//   parallel  threads over chunks (feature `std`)             -> batch
//   batch     grouping on one core, `BatchLengthError`         -> one, crate::cpu, crate::chain
//   one       one key: dispatch, portable loop, SHA-NI, pbkdf2 -> crate::cpu, crate::chain
//   crate::cpu    CPU detection, the SIMD loops (the `unsafe`) -> crate::chain
//   crate::chain  chain data: parameters, constants, starts    -> (crate types, sha2)
// This root only re-exports; nothing below imports it.

mod batch;
mod one;
#[cfg(feature = "std")]
mod parallel;

pub use crate::chain::{ITERATIONS, SALT};
pub use batch::{AVX512_LANES, BatchLengthError, SHA_NI_LANES, batch_width, escrow_keys};
#[cfg(feature = "reference")]
pub use one::reference;
pub use one::{escrow_key, sha_ni, specialised};
#[cfg(feature = "std")]
pub use parallel::escrow_keys_parallel;
