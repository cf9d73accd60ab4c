//! The service's integration tests (one binary).

mod common;
mod webhooks;
mod journey;
mod instances;
