//! Integration tests of `dep-client` (one test binary: each file is a module): published OAuth
//! vectors, server token files made at run time (BER and DER) with every failure, and the
//! client end to end over real TLS against the loopback stand-in of the `test-support`
//! feature.

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

// The tests use the `test-support` feature: say so, rather than fail on a missing item.
#[cfg(not(feature = "test-support"))]
compile_error!(
    "the tests of this crate need its `test-support` feature: `cargo test --all-features`"
);

mod activation_lock;
mod common;
mod concurrency;
mod oauth_vectors;
mod session;
mod token_file;
