//! `alb`: the operator's command-line tool for Apple Activation Lock bypass codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(status) => status,
        Err(error) => {
            alb_cli::diagnostic(&error);
            if let Some(hint) = error.hint() {
                eprintln!("alb: hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}
