#![doc = include_str!("../README.md")]
#![no_std]
// `deny` here, `forbid` in every module but `cpu`: the one place the SIMD loops are entered.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(any(feature = "std", test))]
#[macro_use]
extern crate std;

mod alphabet;
// The escrow-key engine, dependencies pointing down: `kdf` (one key, batch, threads) uses `cpu`
// (detection and the SIMD loops) and `chain` (the data of one PBKDF2 chain); `cpu` uses `chain`.
mod chain;
mod code;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod cpu;
mod error;
mod escrow_key;
pub mod kdf;

pub use alphabet::ALPHABET;
pub use code::{BypassCode, CODE_BYTES, DASH_INDICES, ENCODED_LEN, SYMBOLS};
pub use error::{CodeError, EscrowKeyError};
pub use escrow_key::{ESCROW_KEY_BYTES, ESCROW_KEY_HEX_LEN, EscrowKey};
#[cfg(feature = "getrandom")]
pub use getrandom;
pub use rand_core;
pub use subtle;
