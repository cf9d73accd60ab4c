//! `alb ingest`: device messages (check-ins, command results) into the store, one file each.

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use alb_cli::{Error, write_json_line};
use alb_workflow::{device_report, input};
use code_store::{AnyStore, Event, Timestamp, Udid};
use printable::Escaped;
use serde::Serialize;
use zeroize::Zeroizing;

/// Reads one message: the file, or standard input for `-`, at most the protocol's size limit.
fn read_message(path: &Path, source: &str) -> Result<Zeroizing<Vec<u8>>, input::InputError> {
    let limit = mdm_protocol::Limits::DEFAULT.max_bytes;
    if path.as_os_str() == "-" {
        input::read_all(source, io::stdin().lock(), limit)
    } else {
        input::read_file(path, source, limit)
    }
}

/// One ingested file as `alb ingest --json` prints it.
#[derive(Serialize)]
struct IngestJson<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// `changed`, `unchanged`, `refused` (a serial number another device has) or `skipped`
    /// (not read or not a device message).
    outcome: &'static str,
    events: Vec<&'static str>,
    ignored: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(super) async fn ingest(
    store: &AnyStore,
    out: &mut impl Write,
    files: Vec<PathBuf>,
    json: bool,
) -> Result<ExitCode, Error> {
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files
    };
    let mut skipped = 0_u64;
    let skip = |out: &mut dyn Write, source: &str, error: String| -> io::Result<()> {
        if json {
            write_json_line(
                out,
                &IngestJson {
                    file: source,
                    device: None,
                    message: None,
                    outcome: "skipped",
                    events: Vec::new(),
                    ignored: Vec::new(),
                    error: Some(error),
                },
            )
        } else {
            Ok(())
        }
    };
    for path in &files {
        let source = path.display().to_string();
        let bytes = match read_message(path, &source) {
            Ok(bytes) => bytes,
            Err(e) => {
                alb_cli::diagnostic(format_args!("ingest: {e}"));
                skip(out, &source, e.to_string())?;
                skipped += 1;
                continue;
            }
        };
        match device_report::ingest(store, &bytes, Timestamp::now()).await {
            Ok(ingested) => {
                // A device claiming another enrolled device's serial number was refused.
                let refused = ingested
                    .outcomes
                    .iter()
                    .any(|o| o.ignored.contains(&code_store::Ignored::SerialTaken));
                if refused {
                    skipped += 1;
                }
                let device = ingested.udid.as_ref().map_or("-", Udid::as_str);
                if json {
                    let changed = ingested.outcomes.iter().any(code_store::Outcome::changed);
                    write_json_line(
                        out,
                        &IngestJson {
                            file: &source,
                            device: ingested.udid.as_ref().map(Udid::as_str),
                            message: Some(&ingested.message),
                            outcome: if refused {
                                "refused"
                            } else if changed {
                                "changed"
                            } else {
                                "unchanged"
                            },
                            events: ingested
                                .outcomes
                                .iter()
                                .flat_map(|o| o.events.iter().map(Event::name))
                                .collect(),
                            ignored: ingested
                                .outcomes
                                .iter()
                                .flat_map(|o| o.ignored.iter().map(|i| i.name()))
                                .collect(),
                            error: None,
                        },
                    )?;
                } else {
                    for line in ingested.describe() {
                        let text = format!("{source}: {device}: {}: {line}", ingested.message);
                        writeln!(out, "{}", Escaped(&text))?;
                    }
                }
            }
            Err(device_report::IngestError::Store(e)) => return Err(e.into()),
            Err(e) => {
                alb_cli::diagnostic(format_args!("ingest: {source}: skipped: {e}"));
                skip(out, &source, e.to_string())?;
                skipped += 1;
            }
        }
    }
    Ok(if skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
