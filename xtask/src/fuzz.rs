//! `cargo xtask fuzz [TARGET...] [--seconds N] [--runs N] [--parallel N] [--smoke]`: runs
//! cargo-fuzz on every target of `fuzz/Cargo.toml` (or the ones named), with the committed
//! seed corpora, and reports the executions each ran without a finding.
//!
//! With a nightly toolchain installed the targets run under the address sanitizer
//! (`rustup run nightly cargo fuzz`); otherwise on stable without a sanitizer (`-s none`).
//! `--runs N` stops a target after N executions (or `--seconds`, whichever comes first);
//! `--parallel N` runs N targets at a time.

use std::process::Command;

use crate::shell::{self, root};

/// Seconds per target for `--smoke` (CI).
const SMOKE_SECONDS: u64 = 5;
/// Seconds per target by default.
const DEFAULT_SECONDS: u64 = 60;

/// What to run.
struct Campaign {
    seconds: u64,
    runs: Option<u64>,
    parallel: usize,
    targets: Vec<String>,
    nightly: bool,
}

fn number(option: &str, value: Option<&String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{option} needs a number"))?;
    value
        .parse::<u64>()
        .map_err(|e| format!("{option} {value:?}: {e}"))
}

/// Runs the fuzz targets.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = None;
    let mut runs = None;
    let mut parallel = 1;
    let mut smoke = false;
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--seconds" => seconds = Some(number("--seconds", args.next())?),
            "--runs" => runs = Some(number("--runs", args.next())?),
            "--parallel" => {
                parallel = usize::try_from(number("--parallel", args.next())?.max(1))
                    .map_err(|e| e.to_string())?;
            }
            other if !other.starts_with('-') => only.push(other.to_owned()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let seconds = seconds.unwrap_or(if smoke {
        SMOKE_SECONDS
    } else {
        DEFAULT_SECONDS
    });

    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml"))
        .map_err(|e| format!("fuzz/Cargo.toml: {e}"))?;
    let mut targets = targets(&manifest);
    if !only.is_empty() {
        if let Some(unknown) = only.iter().find(|t| !targets.contains(t)) {
            return Err(format!(
                "no fuzz target {unknown:?}; targets: {}",
                targets.join(", ")
            ));
        }
        targets = only;
    }

    let has_cargo_fuzz = shell::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        return Err("cargo-fuzz is not installed: `cargo install cargo-fuzz --locked`".into());
    }
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "cargo", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let campaign = Campaign {
        seconds,
        runs,
        parallel,
        targets,
        nightly,
    };
    eprintln!(
        "fuzzing with {} for {seconds} s per target{}{}",
        if nightly {
            "nightly + address sanitizer"
        } else {
            "stable, no sanitizer"
        },
        runs.map(|n| format!(" or {n} executions"))
            .unwrap_or_default(),
        if parallel > 1 {
            format!(", {parallel} at a time")
        } else {
            String::new()
        }
    );
    shell::run("fuzz build", &mut campaign.fuzz("build"))?;

    let mut report = Vec::new();
    for group in campaign.targets.chunks(campaign.parallel) {
        let running: Vec<(&String, std::process::Child)> = group
            .iter()
            .map(|target| {
                let mut command = campaign.run_command(target)?;
                eprintln!("\n==> fuzz {target}: {}", shell::describe(&command));
                let child = command
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("fuzz {target}: cannot start: {e}"))?;
                Ok((target, child))
            })
            .collect::<Result<_, String>>()?;
        for (target, child) in running {
            let output = child
                .wait_with_output()
                .map_err(|e| format!("fuzz {target}: {e}"))?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !output.status.success() {
                eprintln!("{stderr}");
                // What ran before the failure is not lost with it.
                println!("\n== fuzz summary (up to the failure) ==");
                for line in &report {
                    println!("{line}");
                }
                return Err(format!("fuzz target {target} found a failure (see above)"));
            }
            let stat = |name: &str| {
                stderr
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map_or_else(|| "?".to_owned(), |n| n.trim().to_owned())
            };
            let line = format!(
                "fuzz {target}: {} executions ({} per second, at most {} s), no finding",
                stat("stat::number_of_executed_units:"),
                stat("stat::average_exec_per_sec:"),
                campaign.seconds,
            );
            // As each target ends, so a long campaign shows its figures as it goes.
            eprintln!("{line}");
            report.push(line);
        }
    }
    println!("\n== fuzz summary ==");
    for line in report {
        println!("{line}");
    }
    Ok(())
}

impl Campaign {
    /// `cargo fuzz SUB` on the chosen toolchain, in the workspace root.
    fn fuzz(&self, sub: &str) -> Command {
        if self.nightly {
            // `+nightly` needs rustup's cargo proxy; `$CARGO` is the stable toolchain's cargo.
            let mut command = Command::new("rustup");
            command
                .current_dir(root())
                .args(["run", "nightly", "cargo", "fuzz", sub]);
            command
        } else {
            let mut command = shell::cargo();
            command.args(["fuzz", sub, "-s", "none"]);
            command
        }
    }

    /// `cargo fuzz run TARGET CORPUS -- limits`.
    fn run_command(&self, target: &str) -> Result<Command, String> {
        let corpus = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let mut command = self.fuzz("run");
        command.arg(target).arg(&corpus).args([
            "--",
            &format!("-max_total_time={}", self.seconds),
            "-rss_limit_mb=2048",
            "-max_len=65536",
            "-print_final_stats=1",
        ]);
        if let Some(runs) = self.runs {
            command.arg(format!("-runs={runs}"));
        }
        Ok(command)
    }
}

/// The `[[bin]]` names of the fuzz manifest.
fn targets(manifest: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let name = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            targets.push(name.to_owned());
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_from_bin_sections_only() {
        let manifest = "[package]\nname = \"alb-fuzz\"\n\n[[bin]]\nname = \"a\"\npath = \"x\"\n\n[[bin]]\nname = \"b\"\n";
        assert_eq!(targets(manifest), ["a", "b"]);
    }
}
