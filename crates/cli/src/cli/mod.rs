//! The command line: one module per group of subcommands, flattened into one `alb` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod codes;
mod dep;
mod generate;
mod protocol;
mod store;
mod unlock;

/// Make, read and check Apple Activation Lock bypass codes.
#[derive(Debug, Parser)]
#[command(name = "alb", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The code store: `--store`, `--key-file`, `--cleartext` (global options).
    #[command(flatten)]
    pub store: store::StoreArgs,
}

/// Every subcommand, grouped by the crate it composes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Codes and escrow keys (`bypass-code`).
    #[command(flatten)]
    Codes(codes::Command),
    /// MDM commands, responses and check-in messages (`mdm-protocol`).
    #[command(flatten)]
    Protocol(protocol::Command),
    /// Removing Activation Lock (`escrow-client`).
    #[command(flatten)]
    Unlock(unlock::Command),
    /// The store of both codes per device (`code-store`).
    #[command(flatten)]
    Store(store::Command),
    /// Locking devices through Apple's device enrollment service (`dep-client`).
    #[command(flatten)]
    Dep(dep::Command),
}

/// Runs a parsed command line; `Ok` carries the exit status of a command that ran to completion.
pub fn run(cli: Cli) -> Result<ExitCode, alb_cli::Error> {
    match cli.command {
        Command::Codes(command) => codes::run(command, &cli.store),
        Command::Protocol(command) => protocol::run(command),
        Command::Unlock(command) => unlock::run(command, &cli.store),
        Command::Store(command) => store::run(command, &cli.store),
        Command::Dep(command) => dep::run(command, &cli.store),
    }
}
