//! Integration tests of `code-store` (one binary): the conformance suite run against every
//! backend, backend-specific encryption-at-rest checks, and how PostgreSQL is connected to.

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod backends;
mod conformance;
mod groups;
mod postgres_connect;
