//! Many escrow keys on every core: [`escrow_keys_parallel`] (feature `std`).
//!
//! The codes are cut into chunks of [`batch_width`] codes, or fewer when there are too few to give
//! every core such chunks; scoped threads claim chunks from a shared counter and run the one-core
//! batch on each. Imports only the batch layer (`batch`).

#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::{sync::Mutex, thread};

use super::batch::{BatchLengthError, batch_width, check_lengths, on_one_core};
use crate::{BypassCode, EscrowKey};

/// Writes the escrow key of `codes[i]` into `keys[i]` for every `i`, using every core.
///
/// The codes are cut into chunks of [`batch_width`] codes (or fewer, when there are too few codes
/// to give every core such chunks); threads claim chunks until none are left and run
/// [`escrow_keys`](super::escrow_keys) on each. The calling thread takes part, so the work
/// completes even if no thread can be started. Results are in input order and equal
/// [`escrow_key`](super::escrow_key) of each code.
///
/// # Errors
/// [`BatchLengthError`] when the slices differ in length (nothing is written then).
pub fn escrow_keys_parallel(
    codes: &[BypassCode],
    keys: &mut [EscrowKey],
) -> Result<(), BatchLengthError> {
    check_lengths(codes, keys)?;
    let cores = thread::available_parallelism().map_or(1, core::num::NonZero::get);
    if cores < 2 || codes.len() < 2 {
        on_one_core(codes, keys);
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
            on_one_core(codes, keys);
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
