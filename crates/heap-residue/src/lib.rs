#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The one `unsafe` item is the `GlobalAlloc` implementation below.
#![deny(unsafe_code)]

use core::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
};
use std::{
    alloc::System,
    sync::{Mutex, MutexGuard, PoisonError},
};

/// The longest secret [`watch`] looks for.
pub const MAX_SECRET: usize = 64;
/// The shortest secret [`watch`] looks for (shorter ones would match by chance).
pub const MIN_SECRET: usize = 8;

static ARMED: AtomicBool = AtomicBool::new(false);
static SECRET: [AtomicU8; MAX_SECRET] = [const { AtomicU8::new(0) }; MAX_SECRET];
static SECRET_LEN: AtomicUsize = AtomicUsize::new(0);
static RESIDUES: AtomicUsize = AtomicUsize::new(0);
static ONE_WATCH: Mutex<()> = Mutex::new(());

/// The system allocator, looking into every block freed while a [`Watch`] is active.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResidueAllocator;

/// An active watch for one secret: counts the freed blocks that held it until dropped.
#[derive(Debug)]
pub struct Watch {
    _one: MutexGuard<'static, ()>,
}

/// Starts watching for `secret` (8 to 64 bytes), waiting for any other watch to end first.
///
/// # Panics
/// When `secret` is shorter than [`MIN_SECRET`] or longer than [`MAX_SECRET`] bytes.
#[must_use]
pub fn watch(secret: &[u8]) -> Watch {
    assert!(
        (MIN_SECRET..=MAX_SECRET).contains(&secret.len()),
        "a watched secret is {MIN_SECRET} to {MAX_SECRET} bytes"
    );
    let one = ONE_WATCH.lock().unwrap_or_else(PoisonError::into_inner);
    for (slot, byte) in SECRET.iter().zip(secret) {
        slot.store(*byte, Ordering::Relaxed);
    }
    SECRET_LEN.store(secret.len(), Ordering::Relaxed);
    RESIDUES.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::Release);
    Watch { _one: one }
}

impl Watch {
    /// How many blocks freed since the watch began held the secret.
    #[must_use]
    pub fn residues(&self) -> usize {
        RESIDUES.load(Ordering::Acquire)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        ARMED.store(false, Ordering::Release);
    }
}

/// Counts a residue when `block` holds the watched secret.
fn inspect(block: &[u8]) {
    let len = SECRET_LEN.load(Ordering::Relaxed);
    let mut secret = [0u8; MAX_SECRET];
    for (byte, slot) in secret.iter_mut().zip(&SECRET).take(len) {
        *byte = slot.load(Ordering::Relaxed);
    }
    let Some(secret) = secret.get(..len) else {
        return;
    };
    if len >= MIN_SECRET && block.windows(len).any(|window| window == secret) {
        RESIDUES.fetch_add(1, Ordering::AcqRel);
    }
}

#[allow(unsafe_code)]
// SAFETY: every method forwards to `System` with the caller's own arguments, which meet
// `System`'s contract because they meet `GlobalAlloc`'s; the only addition is reading a block
// that is still allocated (before it is given back), for exactly its layout's size.
unsafe impl GlobalAlloc for ResidueAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout has a non-zero size (`GlobalAlloc::alloc`'s contract).
        // Zeroed, so that every byte `dealloc` reads was written.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Acquire) {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes from this allocator (the
            // caller's contract), initialised (handed out zeroed), not yet freed.
            inspect(unsafe { core::slice::from_raw_parts(ptr, layout.size()) });
        }
        // SAFETY: the caller's `ptr` and `layout` (`GlobalAlloc::dealloc`'s contract).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !ARMED.load(Ordering::Acquire) {
            // SAFETY: the caller's arguments (`GlobalAlloc::realloc`'s contract).
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // While watching, a move is an allocation, a copy and a free the watch can see.
        // SAFETY: `new_size` with `layout.align()` is a valid layout (the caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the caller's contract).
        let new = unsafe { System.alloc_zeroed(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least `min` bytes long.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
