//! `alb generate | encode | inspect | verify`: codes and escrow keys.

use std::{
    io::{self, Write},
    process::ExitCode,
};

use alb_cli::{CodeReport, Error};
use alb_workflow::server_code;
use bypass_code::{BypassCode, EscrowKey};
use clap::Subcommand;

/// Subcommands about codes and their escrow keys.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make fresh codes from the OS CSPRNG and print each with its escrow key. With `--serial`
    /// or `--serials`, each code is a device's server code: committed durably to the store
    /// before it is printed.
    Generate {
        /// How many codes to make (without a device: codes not stored).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..),
              conflicts_with_all = ["serial", "serials"])]
        count: u64,
        /// The device's serial number: store the code as its server code.
        #[arg(long, conflicts_with = "serials")]
        serial: Option<String>,
        /// The device's UDID (with `--serial`), when known.
        #[arg(long, requires = "serial")]
        udid: Option<String>,
        /// A file of devices, one `SERIAL [UDID]` per line: a server code for each, with a
        /// progress bar on stderr.
        #[arg(long, value_name = "FILE")]
        serials: Option<std::path::PathBuf>,
        /// One JSON object per line: `code`, `escrow_key` (and `serial`, `udid` for devices).
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
    /// Exit 0 when `CODE` hashes to `ESCROW_KEY`, 1 when it does not.
    Verify {
        /// The code (canonical form).
        code: String,
        /// The escrow key (64 hexadecimal digits, either case).
        escrow_key: String,
    },
}

/// Runs one of the code subcommands.
pub fn run(command: Command, store: &super::store::StoreArgs) -> Result<ExitCode, Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::Generate {
            serial: Some(serial),
            udid,
            json,
            ..
        } => {
            let target = code_store::ServerCodeTarget::new(&serial, udid.as_deref())?;
            return super::generate::generate(store, super::generate::Targets::One(target), json);
        }
        Command::Generate {
            serials: Some(file),
            json,
            ..
        } => {
            return super::generate::generate(store, super::generate::Targets::File(file), json);
        }
        Command::Generate { count, json, .. } => {
            // Codes bound to no device: nothing to store. Escrow keys come from the batch engine.
            let mut left = usize::try_from(count).unwrap_or(usize::MAX);
            while left > 0 {
                let chunk = left.min(server_code::BATCH);
                for (code, key) in server_code::unbound_codes(chunk)? {
                    CodeReport::with_key(&code, &key, false).write(&mut out, json)?;
                }
                left -= chunk;
            }
        }
        Command::Encode { raw_hex, json } => {
            let code = alb_cli::parse_raw_hex(&raw_hex)?;
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
