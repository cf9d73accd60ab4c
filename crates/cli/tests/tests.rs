//! Integration tests of the `alb` binary and library (one test binary: each file is a module).

/// Every freed heap block of this test binary can be checked for secrets (`residue.rs`).
#[global_allocator]
static ALLOCATOR: heap_residue::ResidueAllocator = heap_residue::ResidueAllocator;

extern crate alloc;

mod codes;
mod config;
mod flow;
mod lock;
mod logging;
mod protocol;
mod residue;
mod serve;
mod store;
mod unlock;
mod untrusted;
