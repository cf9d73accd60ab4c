//! The service's integration tests (one binary): keys and malformed webhooks, the journeys with
//! the NanoMDM stand-in on SQLite and PostgreSQL, two instances on one database.

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod asks;
mod common;
mod instances;
mod journey;
mod lock;
mod tls;
mod webhooks;
