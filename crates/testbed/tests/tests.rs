//! End-to-end scenarios: simulated devices, the `alb` workflow, a real store (SQLite and a
//! throw-away PostgreSQL) and the escrow stand-in over real mutual TLS. One test binary.
//!
//! `ALB_SKIP_POSTGRES=1` skips the PostgreSQL runs; `ALB_LOAD_DEVICES=100000` is the full load
//! run (default 2,000).

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod common;

mod enroll;
mod escrow_service;
mod faults;
mod load;
mod nanomdm;
mod retention;
mod server_code;
