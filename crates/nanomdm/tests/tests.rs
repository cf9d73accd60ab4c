//! Integration tests of `alb-nanomdm` (one test binary: each file is a module): webhook bodies
//! as NanoMDM and MicroMDM send them, and the API client against local stand-ins.

// Helpers shared by the test modules are test code too.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]

mod client;
mod common;
mod webhook;
mod webhook_errors;
