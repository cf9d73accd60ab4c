//! Integration tests of `mdm-protocol` (one binary; each concern in its own module).

// Test helpers outside `#[test]` functions unwrap too; std paths are natural in tests.
#![allow(
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

// The tests use the `test-support` feature: say so, rather than fail on a missing item.
#[cfg(not(feature = "test-support"))]
compile_error!(
    "the tests of this crate need its `test-support` feature: `cargo test --all-features`"
);

/// Every freed heap block of this test binary can be checked for secrets (`residue.rs`).
#[global_allocator]
static ALLOCATOR: heap_residue::ResidueAllocator = heap_residue::ResidueAllocator;

mod apple_examples;
mod builder;
mod errors;
mod fixtures;
mod generated;
mod interop;
mod proptests;
mod residue;
mod roundtrip;
mod samples;
mod schema;
mod secret_keys;
mod secrets;
mod writeback;
