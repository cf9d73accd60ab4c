//! `alb generate | encode | inspect | verify`: codes and escrow keys.

use std::{
    io::{self, Write},
    process::ExitCode,
};

use alb::{CodeReport, Error};
use bypass_code::{BypassCode, EscrowKey};
use clap::Subcommand;

/// Subcommands about codes and their escrow keys.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make fresh codes from the OS CSPRNG and print each with its escrow key.
    Generate {
        /// How many codes to make.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// One JSON object per line: `code`, `escrow_key`.
        #[arg(long)]
        json: bool,
    },
    /// Print the code and escrow key of 16 given bytes (32 hex digits).
    Encode {
        /// The raw bytes as 32 hexadecimal digits.
        raw_hex: String,
        /// One JSON object: `code`, `escrow_key`, `raw`.
        #[arg(long)]
        json: bool,
    },
    /// Print the canonical code, raw bytes (hex) and escrow key of a code.
    Inspect {
        /// The code, canonical unless `--lenient`.
        code: String,
        /// Accept what people type: lower case, spaces, missing dashes, O/I/S/B look-alikes.
        #[arg(long)]
        lenient: bool,
        /// One JSON object: `code`, `escrow_key`, `raw`.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when CODE hashes to ESCROW_KEY, 1 when it does not.
    Verify {
        /// The code (canonical form).
        code: String,
        /// The escrow key (64 hexadecimal digits, either case).
        escrow_key: String,
    },
}

/// Runs one of the code subcommands.
pub fn run(command: Command) -> Result<ExitCode, Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::Generate { count, json } => {
            for _ in 0..count {
                let code = BypassCode::generate().map_err(Error::Random)?;
                CodeReport::new(&code, false).write(&mut out, json)?;
            }
        }
        Command::Encode { raw_hex, json } => {
            let code = alb::parse_raw_hex(&raw_hex)?;
            CodeReport::new(&code, true).write(&mut out, json)?;
        }
        Command::Inspect {
            code,
            lenient,
            json,
        } => {
            let code = if lenient {
                BypassCode::parse_lenient(&code)
            } else {
                code.parse()
            }
            .map_err(|source| Error::Code { source })?;
            CodeReport::new(&code, true).write(&mut out, json)?;
        }
        Command::Verify { code, escrow_key } => {
            let code: BypassCode = code.parse().map_err(|source| Error::Code { source })?;
            let key: EscrowKey = escrow_key
                .parse()
                .map_err(|source| Error::EscrowKey { source })?;
            return Ok(if key.verify(&code) {
                writeln!(out, "match")?;
                ExitCode::SUCCESS
            } else {
                writeln!(out, "no match")?;
                ExitCode::from(1)
            });
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
