//! Integration tests of `mdm-protocol` (one binary; each concern in its own module).

// Test helpers outside `#[test]` functions unwrap too; std paths are natural in tests.
#![allow(
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod apple_examples;
mod builder;
mod errors;
mod fixtures;
mod generated;
mod interop;
mod proptests;
mod roundtrip;
mod samples;
mod schema;
mod secrets;
