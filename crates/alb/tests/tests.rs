//! Integration tests of the `alb` binary and library (one test binary: each file is a module).

mod codes;
mod flow;
mod protocol;
mod store;
mod unlock;
