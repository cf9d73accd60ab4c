//! The crate's integration tests, one binary.
#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

mod client;
mod common;
mod webhook;
mod webhook_errors;
