//! `alb`: the operator's command-line tool for Apple Activation Lock bypass codes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    let (args, context) = match cli::parse() {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    cli::init_logging(args.verbose);
    match cli::run(args, &context) {
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
