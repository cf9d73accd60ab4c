//! The service's integration tests (one binary).

mod common;
mod instances;
mod journey;
mod webhooks;
