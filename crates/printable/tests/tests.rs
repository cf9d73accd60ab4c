//! Integration tests of `printable` (one binary; each concern in its own module).

#![allow(
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod vectors;
