//! The command line: one module per group of subcommands, flattened into one `alb` command.

use std::process::ExitCode;

use std::io::Write as _;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod codes;
mod config;
mod dep;
mod generate;
mod import;
mod ingest;
mod protocol;
mod serve;
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
    /// The configuration file (`--config`, global).
    #[command(flatten)]
    pub config: config::ConfigArgs,
    /// Log what the libraries do on standard error: `-v` informs, `-vv` debugs, `-vvv` traces
    /// (`RUST_LOG`, when set, chooses instead). Secrets never appear in the log.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Sends the libraries' `tracing` output to standard error, as `-v` or `RUST_LOG` asks.
pub fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    // A second initialisation (never in the binary) is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
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
    /// Run the service beside the MDM server: NanoMDM/MicroMDM webhooks into the store (`POST
    /// /webhook`), devices asked for their codes at enrolment through NanoMDM, and the JSON API
    /// (`/v1/devices/...`). Prints `listening on URL`; stops cleanly on SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
    /// Print the shell completion script (`alb completions bash > /etc/bash_completion.d/alb`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page in roff (`alb man > /usr/local/share/man/man1/alb.1`).
    Man,
    /// Show every setting the configuration file and `ALB_*` variables can hold: its value
    /// (passwords hidden) and where it comes from (flag, environment, file, default).
    Config(config::ShowArgs),
}

/// What the command line was read with: the configuration file and the parsed matches.
pub struct Context {
    settings: Vec<config::Setting>,
    file: config::ConfigFile,
    matches: clap::ArgMatches,
}

/// Reads the configuration file, then the command line with the file's values as defaults.
/// On a bad file or command line, prints why and gives the exit status.
pub fn parse() -> Result<(Cli, Context), ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = Cli::command();
    let settings = config::settings(&command);
    let file = match config::load(config::locate(&args), &settings) {
        Ok(file) => file,
        Err(error) => {
            alb_cli::diagnostic(&error);
            return Err(ExitCode::from(2));
        }
    };
    let matches = config::apply(command, &file).get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    Ok((
        cli,
        Context {
            settings,
            file,
            matches,
        },
    ))
}

/// Runs a parsed command line; `Ok` carries the exit status of a command that ran to completion.
pub fn run(cli: Cli, context: &Context) -> Result<ExitCode, alb_cli::Error> {
    match cli.command {
        Command::Codes(command) => codes::run(command, &cli.store),
        Command::Protocol(command) => protocol::run(command, &cli.store),
        Command::Unlock(command) => unlock::run(command, &cli.store),
        Command::Store(command) => store::run(command, &cli.store),
        Command::Dep(command) => dep::run(command, &cli.store),
        Command::Serve(args) => serve::run(&args, &cli.store),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "alb", &mut out);
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(args) => {
            let matches = context
                .matches
                .subcommand_matches("config")
                .unwrap_or(&context.matches);
            config::show(&args, &context.settings, &context.file, matches)
        }
    }
}
