//! `cargo xtask bench --instructions [--check | --save]`: instruction counts (callgrind) of the
//! fixed workloads of `alb-benches`' `instructions` binary, one line per path:
//! `instructions <path>: <count>`.
//!
//! Wall-clock figures move with the machine; an instruction count does not (the inputs are
//! fixed, one thread), so CI can gate on it: `--check` compares each count with the committed
//! baseline (`benches/instructions.baseline`) and fails when a path needs more than 5% more
//! instructions; `--save` writes this run's counts as the new baseline.
//!
//! Under valgrind the escrow-key engine is the one valgrind's CPU offers (it emulates neither
//! SHA-NI nor AVX-512, so the portable engine); the baseline keeps counts per engine, and a
//! check on an engine without a baseline fails, saying so.

use alloc::collections::BTreeMap;
use std::{fs, path::PathBuf, process::Command};

use crate::shell::{self, cargo, root};

/// Largest increase `--check` accepts, as a fraction of the baseline.
const TOLERANCE: f64 = 0.05;

/// What to do with the counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Print,
    Check,
    Save,
}

fn baseline_path() -> PathBuf {
    root().join("benches/instructions.baseline")
}

fn binary() -> PathBuf {
    root().join("target/release/instructions")
}

/// Runs the counts (`args` are what followed `--instructions`).
pub fn run(args: &[String]) -> Result<(), String> {
    let mode = match args {
        [] => Mode::Print,
        [one] if one == "--check" => Mode::Check,
        [one] if one == "--save" => Mode::Save,
        other => {
            return Err(format!(
                "`bench --instructions` takes [--check | --save], found {other:?}"
            ));
        }
    };
    let valgrind = shell::capture(Command::new("valgrind").arg("--version"))
        .map_err(|e| format!("{e}: install valgrind (Debian: apt-get install valgrind)"))?;
    if !valgrind.status.success() {
        return Err("valgrind --version failed: install valgrind".into());
    }
    shell::run(
        "build the workloads",
        cargo().args([
            "build",
            "--release",
            "-p",
            "alb-benches",
            "--bin",
            "instructions",
        ]),
    )?;
    let engine = under_valgrind(&["--engine"])?;
    let paths = under_valgrind(&["--list"])?;
    println!("instructions engine: {engine}");
    let mut counts = BTreeMap::new();
    for path in paths.lines().map(str::trim).filter(|p| !p.is_empty()) {
        let count = count(path)?;
        println!("instructions {path}: {count}");
        counts.insert(path.to_owned(), count);
    }
    match mode {
        Mode::Print => Ok(()),
        Mode::Save => save(&engine, &counts),
        Mode::Check => check(&engine, &counts),
    }
}

/// The workload binary's output under valgrind (so it sees valgrind's CPU).
fn under_valgrind(args: &[&str]) -> Result<String, String> {
    let output = shell::capture(Command::new("valgrind").arg("-q").arg(binary()).args(args))?;
    if !output.status.success() {
        return Err(format!(
            "instructions {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The instructions `path`'s workload executes inside `measured` (nothing else is collected).
fn count(path: &str) -> Result<u64, String> {
    let output = shell::capture(
        Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                "--toggle-collect=*measured*",
            ])
            .arg(binary())
            .arg(path),
    )?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("callgrind on {path} failed:\n{stderr}"));
    }
    stderr
        .lines()
        .find_map(|line| {
            line.split_once("Collected :")
                .map(|(_, n)| n.trim().to_owned())
        })
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("callgrind on {path}: no instruction count in\n{stderr}"))
}

/// The baseline: `<engine> <path> <count>` per line, `#` comments.
fn read_baseline() -> Result<BTreeMap<(String, String), u64>, String> {
    let path = baseline_path();
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut baseline = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [engine, name, count] = fields[..] else {
            return Err(format!(
                "{}:{}: expected `ENGINE PATH COUNT`",
                path.display(),
                number + 1
            ));
        };
        let count = count
            .parse::<u64>()
            .map_err(|e| format!("{}:{}: {e}", path.display(), number + 1))?;
        baseline.insert((engine.to_owned(), name.to_owned()), count);
    }
    Ok(baseline)
}

fn save(engine: &str, counts: &BTreeMap<String, u64>) -> Result<(), String> {
    // Other engines' lines are kept.
    let mut baseline = read_baseline().unwrap_or_default();
    baseline.retain(|(e, _), _| e != engine);
    for (path, count) in counts {
        baseline.insert((engine.to_owned(), path.clone()), *count);
    }
    let mut text = String::from(
        "# Instruction counts of the fixed workloads (cargo xtask bench --instructions --save).\n\
         # ENGINE PATH COUNT; `--check` fails when a count grows by more than 5%.\n",
    );
    for ((engine, path), count) in &baseline {
        text.push_str(&format!("{engine} {path} {count}\n"));
    }
    fs::write(baseline_path(), text).map_err(|e| format!("{}: {e}", baseline_path().display()))?;
    println!(
        "instructions: baseline written to {}",
        baseline_path().display()
    );
    Ok(())
}

fn check(engine: &str, counts: &BTreeMap<String, u64>) -> Result<(), String> {
    let baseline = read_baseline()?;
    let (lines, regressions) = compare(engine, counts, &baseline);
    for line in lines {
        println!("{line}");
    }
    if regressions.is_empty() {
        println!("instructions: every path within 5% of the baseline");
        Ok(())
    } else {
        Err(format!(
            "instruction counts:\n  {}",
            regressions.join("\n  ")
        ))
    }
}

/// Each count against the baseline: the lines to print, and the regressions (a path more than
/// [`TOLERANCE`] over its baseline, or without one for this engine).
fn compare(
    engine: &str,
    counts: &BTreeMap<String, u64>,
    baseline: &BTreeMap<(String, String), u64>,
) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut regressions = Vec::new();
    for (path, count) in counts {
        let Some(&base) = baseline.get(&(engine.to_owned(), path.clone())) else {
            regressions.push(format!(
                "{path}: no baseline for engine {engine} (run `cargo xtask bench --instructions --save`)"
            ));
            continue;
        };
        #[allow(clippy::cast_precision_loss)]
        let change = (*count as f64 - base as f64) / base as f64;
        let verdict = if change > TOLERANCE {
            regressions.push(format!(
                "{path}: {count} instructions, {:+.1}% over the baseline {base}",
                change * 100.0
            ));
            "REGRESSION"
        } else if change < -TOLERANCE {
            "faster (update the baseline with --save)"
        } else {
            "ok"
        };
        lines.push(format!(
            "instructions {path}: {count} vs baseline {base} ({:+.2}%) {verdict}",
            change * 100.0
        ));
    }
    (lines, regressions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_more_than_five_percent_over_its_baseline_is_a_regression() {
        let baseline: BTreeMap<(String, String), u64> = [
            (
                ("portable".to_owned(), "codec/encode".to_owned()),
                1_000_000,
            ),
            (
                ("portable".to_owned(), "codec/decode".to_owned()),
                1_000_000,
            ),
            (
                ("portable".to_owned(), "plist/parse-xml".to_owned()),
                1_000_000,
            ),
        ]
        .into();
        let counts: BTreeMap<String, u64> = [
            ("codec/encode".to_owned(), 1_049_000),
            ("codec/decode".to_owned(), 1_051_000),
            ("plist/parse-xml".to_owned(), 900_000),
        ]
        .into();
        let (lines, regressions) = compare("portable", &counts, &baseline);
        assert_eq!(lines.len(), 3);
        assert_eq!(regressions.len(), 1, "{regressions:?}");
        assert!(regressions[0].starts_with("codec/decode: 1051000 instructions, +5.1%"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("parse-xml") && l.contains("faster"))
        );

        // Another engine's baseline does not count for this one.
        let (_, regressions) = compare("sha-ni", &counts, &baseline);
        assert_eq!(regressions.len(), 3);
        assert!(regressions[0].contains("no baseline for engine sha-ni"));
    }

    #[test]
    fn the_committed_baseline_reads() {
        let baseline = read_baseline().unwrap_or_default();
        assert!(
            baseline.keys().any(|(engine, _)| engine == "portable"),
            "benches/instructions.baseline holds the portable engine's counts"
        );
    }
}
