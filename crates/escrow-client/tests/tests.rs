//! Integration tests of `escrow-client` (one test binary: each file is a module): real TLS
//! handshakes against the loopback recording server of the `test-support` feature.

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod common;
mod identity;
mod nanomdm;
mod outcomes;
mod tls;
mod wire;
