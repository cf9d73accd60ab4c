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

mod activation_lock;
mod common;
mod concurrency;
mod oauth_vectors;
mod session;
mod token_file;
