//! `alb generate --serial S [--udid U]` / `--serials FILE`: the server-code journey, printed.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use alb_cli::{Error, write_json_line};
use alb_workflow::{
    device_list, input,
    server_code::{self, IssuedCode},
};
use code_store::ServerCodeTarget;
use printable::Escaped;
use serde::Serialize;
use zeroize::Zeroizing;

use super::store::{StoreArgs, runtime};

/// Which devices `alb generate` makes server codes for.
#[derive(Debug)]
pub enum Targets {
    /// One device.
    One(ServerCodeTarget),
    /// A file of serial numbers (`SERIAL [UDID]` per line).
    File(PathBuf),
}

/// One issued code as printed by `alb generate --serial(s) --json`.
#[derive(Serialize)]
struct IssuedJson<'a> {
    serial: &'a str,
    udid: &'a str,
    code: &'a str,
    escrow_key: &'a str,
}

/// `alb generate --serial S [--udid U]` / `--serials FILE`: the server-code journey
/// ([`server_code::issue_server_codes`]): each code is printed when its commit returned.
pub fn generate(args: &StoreArgs, targets: Targets, json: bool) -> Result<ExitCode, Error> {
    let targets = match targets {
        Targets::One(target) => vec![target],
        Targets::File(path) => {
            let name = path.display().to_string();
            let bytes = input::read_file(
                &path,
                &format!("serial list {name}"),
                input::MAX_SERIAL_LIST_BYTES,
            )?;
            device_list::parse_device_list(&name, &bytes)?
        }
    };
    let runtime = runtime()?;
    let store = args.open(&runtime)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(targets.len()).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if targets.len() == 1 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let print = |issued: IssuedCode| -> Result<(), Error> {
        let code_text = Zeroizing::new(issued.code.to_string());
        let key_text = Zeroizing::new(issued.escrow_key.to_string());
        progress.suspend(|| {
            if json {
                write_json_line(
                    &mut out,
                    &IssuedJson {
                        serial: &issued.serial,
                        udid: issued.udid.as_str(),
                        code: &code_text,
                        escrow_key: &key_text,
                    },
                )?;
            } else {
                writeln!(
                    out,
                    "{}  {}  {}",
                    Escaped(&issued.serial),
                    code_text.as_str(),
                    key_text.as_str()
                )?;
            }
            out.flush()
        })?;
        progress.inc(1);
        Ok(())
    };
    runtime.block_on(server_code::issue_server_codes(&store, &targets, print))?;
    progress.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}
