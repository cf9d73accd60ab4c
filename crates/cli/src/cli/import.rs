//! `alb import`: a backup's lines (`alb export`) back into the store, each refused line named.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use alb_cli::{Error, write_json_line};
use alb_workflow::{
    backup::{self, ImportLineError},
    input,
};
use code_store::AnyStore;
use serde::Serialize;

/// The import input: the file, or standard input for `-` or nothing; and its name for errors.
fn import_input(file: Option<&PathBuf>) -> Result<(String, Box<dyn io::Read>), Error> {
    Ok(match file {
        Some(path) if path.as_os_str() != "-" => {
            let name = path.display().to_string();
            let file = input::open(path, &name)?;
            (name, Box::new(file))
        }
        _ => ("standard input".to_owned(), Box::new(io::stdin())),
    })
}

/// A refused import line, or the counts at the end, as `alb import --json` prints them.
#[derive(Serialize)]
#[serde(untagged)]
enum ImportJson {
    Refused {
        line: usize,
        /// Always `refused`.
        outcome: &'static str,
        error: String,
    },
    Counts {
        changed: u64,
        unchanged: u64,
        refused: u64,
    },
}

pub(super) async fn import(
    store: &AnyStore,
    out: &mut impl Write,
    file: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode, Error> {
    let (name, reader) = import_input(file.as_ref())?;
    let (mut changed, mut unchanged, mut refused) = (0_u64, 0_u64, 0_u64);
    let mut refuse = |out: &mut dyn Write, line: usize, error: String| -> io::Result<()> {
        alb_cli::diagnostic(format_args!("import: {error}"));
        refused += 1;
        if json {
            write_json_line(
                out,
                &ImportJson::Refused {
                    line,
                    outcome: "refused",
                    error,
                },
            )?;
        }
        Ok(())
    };
    for (index, line) in input::Lines::new(name, reader, input::MAX_IMPORT_LINE_BYTES).enumerate() {
        let line = match line {
            Ok(line) => line,
            // A line too long or not UTF-8: refused, and the next one is read.
            Err(e) if e.is_line_error() => {
                refuse(out, index + 1, e.to_string())?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if line.text.trim().is_empty() {
            continue;
        }
        match backup::import_line(store, line.number, &line.text).await {
            Ok(outcome) if outcome.changed() => changed += 1,
            Ok(_) => unchanged += 1,
            Err(e @ ImportLineError::Refused { .. }) => refuse(out, line.number, e.to_string())?,
            Err(e) => return Err(e.into()),
        }
    }
    if json {
        write_json_line(
            out,
            &ImportJson::Counts {
                changed,
                unchanged,
                refused,
            },
        )?;
    } else {
        writeln!(
            out,
            "imported: {changed} changed, {unchanged} unchanged, {refused} refused"
        )?;
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
