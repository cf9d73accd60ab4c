//! Integration tests of `bypass-code` (one test binary: each file is a module).

mod kdf;
mod proptests;
mod serde;
mod vectors;
