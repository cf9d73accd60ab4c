//! Integration tests of `alb-proxy` (one test binary: each file is a module).

mod config;
mod connector;
