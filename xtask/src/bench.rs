//! `cargo xtask bench [--quick]`: runs the criterion benchmarks, then prints one summary line per
//! figure, computed from criterion's results of this very run.
//!
//! Groups and their lines:
//! - `escrow_key/<id>`: `escrow_key <id>: <ms> ms/key, <ratio>x floor`, where the ratio is against
//!   `escrow_key/floor` measured in the same run (per key when a throughput of n elements is set),
//!   then how much faster the batch on every core is than on one (`batch-1-core` over
//!   `batch-all-cores`, same run);
//! - `parse/<id>`: `parse <id>: <n> responses/s`;
//! - `ingest/<id>`: `ingest <id>: <n> responses/s`;
//! - `lock/<store>`: `lock <store>: <n> devices/s, <ratio>x the batch escrow-key engine alone`,
//!   the ratio against `lock/hashing-only` of the same run;
//! - `serve/webhook-<store>`: `serve webhook <store>: <n> events/s, <ratio>x ingest <store> (<m>
//!   responses/s), p50 <ms> ms, p99 <ms> ms`, the ratio against `ingest/<store>` of the same run,
//!   the percentiles from the `latency.json` the benchmark writes beside criterion's results;
//! - any other group: `<group> <id>: <n> elements/s`.

use std::{
    fs,
    path::{Path, PathBuf},
    time::SystemTime,
};

use crate::shell::{self, cargo};

/// One benchmark's result: median time of one iteration and the items it processed.
#[derive(Debug)]
struct Figure {
    group: String,
    id: String,
    median_ns: f64,
    elements: f64,
    /// The median and 99th-percentile latency of one request, in milliseconds (`serve` only).
    latency_ms: Option<(f64, f64)>,
}

impl Figure {
    fn per_item_ns(&self) -> f64 {
        self.median_ns / self.elements
    }
}

/// Runs the benchmarks and prints the summary.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.first().is_some_and(|a| a == "--instructions") {
        return crate::instructions::run(&args[1..]);
    }
    let mut quick = false;
    let mut filter = None;
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            other if !other.starts_with('-') && filter.is_none() => filter = Some(other.to_owned()),
            other => return Err(format!("`bench` takes [--quick] [FILTER], found {other:?}")),
        }
    }
    let started = SystemTime::now();
    let mut command = cargo();
    command.args(["bench", "-p", "alb-benches", "--"]);
    if quick {
        command.args(["--quick", "--warm-up-time", "1", "--noplot"]);
    } else {
        command.arg("--noplot");
    }
    if let Some(filter) = &filter {
        command.arg(filter);
    }
    shell::run("benchmarks", &mut command)?;

    let criterion = shell::root().join("target/criterion");
    let mut figures = collect(&criterion, started)?;
    if figures.is_empty() {
        return Err("no benchmark results were written by this run".into());
    }
    for figure in figures.iter_mut().filter(|f| f.group == "serve") {
        let path = criterion
            .join("serve")
            .join(&figure.id)
            .join("latency.json");
        let fresh = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|m| m >= started);
        if fresh && let Ok(json) = read_json(&path) {
            figure.latency_ms = json["p50_ms"].as_f64().zip(json["p99_ms"].as_f64());
        }
    }
    println!("\n== summary (medians of this run) ==");
    for line in summary(&figures) {
        println!("{line}");
    }
    Ok(())
}

/// Reads every `<group>/<id>/new/{estimates,benchmark}.json` written since `since`.
fn collect(dir: &Path, since: SystemTime) -> Result<Vec<Figure>, String> {
    let mut figures = Vec::new();
    for estimates in find(dir, "estimates.json") {
        let Some(new_dir) = estimates.parent().filter(|p| p.ends_with("new")) else {
            continue;
        };
        let fresh = fs::metadata(&estimates)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified >= since);
        if !fresh {
            continue;
        }
        let estimates_json = read_json(&estimates)?;
        let benchmark_json = read_json(&new_dir.join("benchmark.json"))?;
        let median_ns = estimates_json["median"]["point_estimate"]
            .as_f64()
            .ok_or_else(|| format!("{}: no median", estimates.display()))?;
        let group = benchmark_json["group_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = benchmark_json["function_id"]
            .as_str()
            .or_else(|| benchmark_json["value_str"].as_str())
            .unwrap_or_default()
            .to_owned();
        let elements = benchmark_json["throughput"]["Elements"]
            .as_f64()
            .or_else(|| benchmark_json["throughput"]["ElementsAndBytes"]["elements"].as_f64())
            .unwrap_or(1.0)
            .max(1.0);
        figures.push(Figure {
            group,
            id,
            median_ns,
            elements,
            latency_ms: None,
        });
    }
    figures.sort_by(|a, b| (&a.group, &a.id).cmp(&(&b.group, &b.id)));
    Ok(figures)
}

/// The summary lines in the established formats.
fn summary(figures: &[Figure]) -> Vec<String> {
    let floor = figures
        .iter()
        .find(|f| f.group == "escrow_key" && f.id == "floor")
        .map(Figure::per_item_ns);
    let mut lines = Vec::new();
    // Escrow-key paths first, in a fixed order that reads as a story, then the rest.
    let order = [
        "pbkdf2-crate",
        "specialised",
        "sha-ni",
        "batch-1-core",
        "batch-all-cores",
    ];
    let mut escrow: Vec<&Figure> = figures
        .iter()
        .filter(|f| f.group == "escrow_key" && f.id != "floor")
        .collect();
    escrow.sort_by_key(|f| order.iter().position(|o| *o == f.id).unwrap_or(order.len()));
    for figure in escrow {
        let ms = figure.per_item_ns() / 1e6;
        match floor {
            Some(floor) => lines.push(format!(
                "escrow_key {}: {ms:.2} ms/key, {:.2}x floor",
                figure.id,
                figure.per_item_ns() / floor
            )),
            None => lines.push(format!("escrow_key {}: {ms:.2} ms/key", figure.id)),
        }
    }
    if let Some(floor) = floor {
        lines.push(format!(
            "escrow_key floor: {:.2} ms per 100,000 SHA-256 compressions",
            floor / 1e6
        ));
    }
    let per_key = |id: &str| {
        figures
            .iter()
            .find(|f| f.group == "escrow_key" && f.id == id)
            .map(Figure::per_item_ns)
    };
    if let (Some(one), Some(all)) = (per_key("batch-1-core"), per_key("batch-all-cores")) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        lines.push(format!(
            "escrow_key batch scaling: every core ({cores}) {:.2}x faster than one core",
            one / all
        ));
    }
    let hashing = figures
        .iter()
        .find(|f| f.group == "lock" && f.id == "hashing-only")
        .map(Figure::per_item_ns);
    for figure in figures
        .iter()
        .filter(|f| f.group == "lock" && f.id != "hashing-only")
    {
        let rate = 1e9 / figure.per_item_ns();
        lines.push(match hashing {
            Some(hashing) => format!(
                "lock {}: {rate:.0} devices/s, {:.2}x the batch escrow-key engine alone ({:.0} keys/s)",
                figure.id,
                hashing / figure.per_item_ns(),
                1e9 / hashing
            ),
            None => format!("lock {}: {rate:.0} devices/s", figure.id),
        });
    }
    for figure in figures.iter().filter(|f| f.group == "serve") {
        let rate = 1e9 / figure.per_item_ns();
        let store = figure.id.strip_prefix("webhook-").unwrap_or(&figure.id);
        let mut line = format!("serve webhook {store}: {rate:.0} events/s");
        if let Some(ingest) = figures
            .iter()
            .find(|f| f.group == "ingest" && f.id == store)
        {
            let ingest_rate = 1e9 / ingest.per_item_ns();
            line.push_str(&format!(
                ", {:.2}x ingest {store} ({ingest_rate:.0} responses/s)",
                rate / ingest_rate
            ));
        }
        if let Some((p50, p99)) = figure.latency_ms {
            line.push_str(&format!(", p50 {p50:.1} ms, p99 {p99:.1} ms"));
        }
        lines.push(line);
    }
    for figure in figures
        .iter()
        .filter(|f| f.group != "escrow_key" && f.group != "lock" && f.group != "serve")
    {
        let unit = match figure.group.as_str() {
            "parse" | "ingest" => "responses",
            _ => "elements",
        };
        lines.push(format!(
            "{} {}: {:.0} {unit}/s",
            figure.group,
            figure.id,
            1e9 / figure.per_item_ns()
        ));
    }
    lines
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every file named `name` under `dir`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(group: &str, id: &str, median_ns: f64, elements: f64) -> Figure {
        Figure {
            group: group.into(),
            id: id.into(),
            median_ns,
            elements,
            latency_ms: None,
        }
    }

    #[test]
    fn summary_lines_follow_the_established_format() {
        let lines = summary(&[
            figure("escrow_key", "floor", 4_000_000.0, 1.0),
            figure("escrow_key", "batch-1-core", 10_000_000.0, 4.0),
            figure("escrow_key", "batch-all-cores", 10_000_000.0, 8.0),
            figure("escrow_key", "pbkdf2-crate", 6_000_000.0, 1.0),
            figure("parse", "xml", 10_000.0, 1.0),
            figure("lock", "hashing-only", 64_000_000.0, 64.0),
            figure("lock", "sqlite", 80_000_000.0, 64.0),
            figure("ingest", "sqlite", 64_000_000.0, 64.0),
            Figure {
                latency_ms: Some((2.0, 9.5)),
                ..figure("serve", "webhook-sqlite", 64_000_000.0, 256.0)
            },
        ]);
        assert_eq!(
            lines,
            [
                "escrow_key pbkdf2-crate: 6.00 ms/key, 1.50x floor",
                "escrow_key batch-1-core: 2.50 ms/key, 0.62x floor",
                "escrow_key batch-all-cores: 1.25 ms/key, 0.31x floor",
                "escrow_key floor: 4.00 ms per 100,000 SHA-256 compressions",
                &format!(
                    "escrow_key batch scaling: every core ({}) 2.00x faster than one core",
                    std::thread::available_parallelism().map_or(1, usize::from)
                ),
                "lock sqlite: 800 devices/s, 0.80x the batch escrow-key engine alone (1000 keys/s)",
                "serve webhook sqlite: 4000 events/s, 4.00x ingest sqlite (1000 responses/s), p50 2.0 ms, p99 9.5 ms",
                "parse xml: 100000 responses/s",
                "ingest sqlite: 1000 responses/s",
            ]
        );
    }
}
