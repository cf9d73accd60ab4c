//! `cargo xtask`: the workspace's automation, in Rust (no shell scripts beyond `.ci/run`).
//!
//! ```text
//! cargo xtask test                      fmt check, clippy -D warnings, every test and doc test,
//!                                       docs, and the no_std check of bypass-code
//! cargo xtask bench [--quick]           criterion benchmarks, then one summary line per figure
//! cargo xtask bench --instructions [--check | --save]
//!                                       instruction counts (callgrind) of fixed workloads;
//!                                       --check fails on a path 5% over the committed baseline
//! cargo xtask fuzz [TARGET...] [--seconds N] [--runs N] [--parallel N] [--smoke]
//!                                       cargo-fuzz on every target (or those named)
//! cargo xtask demo                      the whole flow on one machine (simulated devices, a
//!                                       stand-in for Apple's escrow service, a temporary store)
//! cargo xtask codegen [--schema DIR] [--check]
//!                                       mdm-protocol's src/generated/ from Apple's YAML schema
//!                                       (default DIR: crates/mdm-protocol/vendor/apple-device-management);
//!                                       --check fails when the committed code differs
//! ```
#![forbid(unsafe_code)]

extern crate alloc;

mod bench;
mod codegen;
mod fuzz;
mod instructions;
mod shell;
mod test;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("codegen") => codegen::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("{}", USAGE);
            Ok(())
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the testbed's demo example: the whole flow, step by step.
fn demo(args: &[String]) -> Result<(), String> {
    shell::run(
        "demo",
        shell::cargo()
            .args([
                "run",
                "--quiet",
                "-p",
                "alb-testbed",
                "--example",
                "demo",
                "--",
            ])
            .args(args),
    )
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test                               fmt check, clippy -D warnings, all tests and doc tests,
                                     rustdoc warnings, the no_std check of bypass-code
  bench [--quick]                    criterion benchmarks, then the summary lines
  bench --instructions [--check | --save]
                                     instruction counts (callgrind) of fixed workloads, one
                                     line each; --check fails on a path more than 5% over
                                     benches/instructions.baseline, --save rewrites it
  fuzz [TARGET...] [--seconds N] [--runs N] [--parallel N] [--smoke]
                                     cargo-fuzz on every target (or those named), each until
                                     N seconds or N executions, N at a time; --smoke = a few
                                     seconds each
  demo                               the whole flow on one machine: simulated devices, a
                                     stand-in for Apple's escrow service, a temporary store
  codegen [--schema DIR] [--check]   mdm-protocol's src/generated/ from Apple's YAML schema
                                     (default DIR: crates/mdm-protocol/vendor/apple-device-management);
                                     --check fails, naming the files, when the committed code
                                     differs";
