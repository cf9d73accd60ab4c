//! `cargo xtask fuzz [TARGET] [--seconds N] [--smoke]`: runs cargo-fuzz on every target of
//! `fuzz/Cargo.toml` (or one), with the committed seed corpora, and reports the executions each
//! ran without a finding.
//!
//! With a nightly toolchain installed the targets run under the address sanitizer
//! (`cargo +nightly fuzz`); otherwise on stable without a sanitizer (`-s none`).

use std::process::Command;

use crate::shell::{self, root};

/// Seconds per target for `--smoke` (CI).
const SMOKE_SECONDS: u64 = 5;
/// Seconds per target by default.
const DEFAULT_SECONDS: u64 = 60;

/// Runs the fuzz targets.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = None;
    let mut smoke = false;
    let mut only = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                seconds = Some(
                    value
                        .parse::<u64>()
                        .map_err(|e| format!("--seconds {value:?}: {e}"))?,
                );
            }
            other if !other.starts_with('-') && only.is_none() => only = Some(other.to_owned()),
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
    if let Some(only) = only {
        if !targets.contains(&only) {
            return Err(format!(
                "no fuzz target {only:?}; targets: {}",
                targets.join(", ")
            ));
        }
        targets = vec![only];
    }

    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        return Err("cargo-fuzz is not installed: `cargo install cargo-fuzz --locked`".into());
    }
    let nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let fuzz = |sub: &str| {
        let mut command = Command::new("cargo");
        command.current_dir(root());
        if nightly {
            command.args(["+nightly", "fuzz", sub]);
        } else {
            command.args(["fuzz", sub, "-s", "none"]);
        }
        command
    };
    eprintln!(
        "fuzzing with {} for {seconds} s per target",
        if nightly {
            "nightly + address sanitizer"
        } else {
            "stable, no sanitizer"
        }
    );
    shell::run("fuzz build", &mut fuzz("build"))?;

    let mut report = Vec::new();
    for target in &targets {
        let corpus = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let mut command = fuzz("run");
        command.arg(target).arg(&corpus).args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-rss_limit_mb=2048",
            "-max_len=65536",
            "-print_final_stats=1",
        ]);
        eprintln!("\n==> fuzz {target}: {}", shell::describe(&command));
        let output = shell::capture(&mut command)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            eprintln!("{stderr}");
            return Err(format!("fuzz target {target} found a failure (see above)"));
        }
        let execs = stderr
            .lines()
            .find_map(|line| line.strip_prefix("stat::number_of_executed_units:"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| "?".into());
        report.push(format!(
            "fuzz {target}: {execs} executions in {seconds} s, no finding"
        ));
    }
    println!("\n== fuzz summary ==");
    for line in report {
        println!("{line}");
    }
    Ok(())
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
