//! Integration tests of `bypass-code` (one test binary: each file is a module).

// The tests use the `reference` feature: say so, rather than fail on a missing item.
#[cfg(not(feature = "reference"))]
compile_error!("the tests of this crate need its `reference` feature: `cargo test --all-features`");

mod kdf;
mod proptests;
mod serde;
mod vectors;
