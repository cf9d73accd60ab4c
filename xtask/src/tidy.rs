//! Repository hygiene, checked by `cargo test` (as rust-analyzer's `tidy` does): rules a
//! reviewer would otherwise have to remember.
//!
//! - no file in a library's `src/` is longer than [`LONG_FILE`] lines unless its first lines
//!   say why (`tidy: long file: <reason>`);
//! - xtask never spawns a bare `cargo` (it uses `$CARGO`, the cargo that runs it);
//! - no test-only crate is a runtime dependency of a crate;
//! - every crate's README (its crate documentation) opens with an example.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::shell::root;

/// The longest a source file may be without a reason written at its top.
const LONG_FILE: usize = 600;
/// The marker that gives that reason.
const LONG_FILE_MARKER: &str = "tidy: long file:";

/// Crates that exist for tests and benchmarks only: never a runtime dependency of another crate.
const TEST_ONLY: &[&str] = &[
    "proptest",
    "criterion",
    "rcgen",
    "libfuzzer-sys",
    "arbitrary",
    "alb-test-support",
    "alb-testbed",
    "alb-benches",
];

/// Runtime uses of crates otherwise test-only, each with its reason.
const ALLOWED: &[(&str, &str, &str)] = &[(
    "dep-client",
    "rcgen",
    "signs the self-signed certificate an organisation uploads to Apple's portal",
)];

/// The workspace's crates that are themselves test or automation code: they may depend on
/// test-only crates.
const TEST_CRATES: &[&str] = &["alb-test-support", "alb-testbed", "alb-benches", "xtask"];

/// Every package directory of the workspace: `crates/*`, `benches`, `xtask`.
fn packages() -> Vec<PathBuf> {
    let root = root();
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.extend(
        ["benches", "xtask"]
            .iter()
            .map(|d| root.join(d))
            .filter(|p| p.join("Cargo.toml").is_file()),
    );
    dirs
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The `package.name` of a manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// The names of a manifest's runtime dependencies: every key of `[dependencies]` and
/// `[target.'...'.dependencies]` (optional ones included: a feature can turn them on).
fn runtime_dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            let section = line.trim_matches(|c| c == '[' || c == ']');
            in_dependencies = section == "dependencies"
                || (section.starts_with("target.") && section.ends_with(".dependencies"));
        } else if in_dependencies
            && !line.is_empty()
            && !line.starts_with('#')
            && let Some((name, _)) = line.split_once('=')
        {
            let name = name.trim().trim_matches('"');
            // `foo.workspace = true` and `foo = { ... }` both name `foo`.
            names.push(name.split('.').next().unwrap_or(name).to_owned());
        }
    }
    names
}

fn is_library(package: &Path) -> bool {
    package.join("src/lib.rs").is_file()
}

#[test]
fn library_files_are_short_or_say_why() {
    let mut long = Vec::new();
    for package in packages().into_iter().filter(|p| is_library(p)) {
        for file in rust_files(&package.join("src")) {
            let text = read(&file);
            let lines = text.lines().count();
            let explained = text
                .lines()
                .take(10)
                .any(|line| line.contains(LONG_FILE_MARKER));
            if lines > LONG_FILE && !explained {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {LONG_FILE} lines hold more than one concept: split them, or say why at \
         their top with `{LONG_FILE_MARKER} <reason>`:\n{}",
        long.join("\n")
    );
}

#[test]
fn xtask_never_spawns_a_bare_cargo() {
    let offending: Vec<String> = rust_files(&root().join("xtask/src"))
        .into_iter()
        .filter(|f| !f.ends_with("tidy.rs"))
        .flat_map(|file| {
            read(&file)
                .lines()
                .enumerate()
                .filter(|(_, line)| line.contains("Command::new(\"cargo\")"))
                .map(|(n, _)| format!("{}:{}", file.display(), n + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offending.is_empty(),
        "spawn cargo through shell::cargo() ($CARGO, the cargo running xtask), not by name:\n{}",
        offending.join("\n")
    );
}

#[test]
fn no_test_only_crate_is_a_runtime_dependency() {
    let mut offending = Vec::new();
    for package in packages() {
        let manifest = read(&package.join("Cargo.toml"));
        let name = package_name(&manifest).unwrap_or_default();
        if TEST_CRATES.contains(&name.as_str()) {
            continue;
        }
        for dependency in runtime_dependencies(&manifest) {
            let allowed = ALLOWED
                .iter()
                .any(|(krate, dep, _)| *krate == name && *dep == dependency);
            if TEST_ONLY.contains(&dependency.as_str()) && !allowed {
                offending.push(format!("{name} depends on {dependency}"));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "test-only crates belong in [dev-dependencies]:\n{}",
        offending.join("\n")
    );
}

#[test]
fn every_crate_readme_opens_with_an_example() {
    let mut offending = Vec::new();
    for package in packages() {
        let readme = package.join("README.md");
        if !readme.is_file() {
            if is_library(&package) {
                offending.push(format!("{}: no README.md", package.display()));
            }
            continue;
        }
        let text = read(&readme);
        // The example comes before the first section: the reader meets it first.
        let opening = text.split("\n## ").next().unwrap_or_default();
        let example = opening.lines().any(|line| {
            let fence = line.trim();
            fence == "```rust" || fence == "```" || fence == "```sh" || fence == "```console"
        });
        if !example {
            offending.push(readme.display().to_string());
        }
    }
    assert!(
        offending.is_empty(),
        "each crate's README opens with an example, before its first `##` section:\n{}",
        offending.join("\n")
    );
}

/// Whether the manifest says `publish = false`.
fn unpublished(manifest: &str) -> bool {
    manifest
        .lines()
        .any(|line| line.replace(' ', "") == "publish=false")
}

#[test]
fn every_published_crate_carries_its_licences_and_changelog() {
    let licences: Vec<(&str, String)> = ["LICENSE-MIT", "LICENSE-APACHE"]
        .into_iter()
        .map(|name| (name, read(&root().join(name))))
        .collect();
    let mut offending = Vec::new();
    for package in packages() {
        let manifest = read(&package.join("Cargo.toml"));
        if unpublished(&manifest) {
            continue;
        }
        for (name, text) in &licences {
            match fs::read_to_string(package.join(name)) {
                Ok(copy) if copy == *text => {}
                Ok(_) => offending.push(format!(
                    "{}: {name} differs from the root's",
                    package.display()
                )),
                Err(_) => offending.push(format!("{}: no {name}", package.display())),
            }
        }
        let changelog = fs::read_to_string(package.join("CHANGELOG.md")).unwrap_or_default();
        if !changelog.contains("## [Unreleased]") {
            offending.push(format!(
                "{}: no CHANGELOG.md with an `## [Unreleased]` section (Keep a Changelog)",
                package.display()
            ));
        }
        for field in [
            "description",
            "documentation",
            "keywords",
            "categories",
            "readme",
        ] {
            if !manifest
                .lines()
                .any(|line| line.starts_with(&format!("{field} ")))
            {
                offending.push(format!("{}: no `{field}` in Cargo.toml", package.display()));
            }
        }
        if !manifest.contains("[package.metadata.docs.rs]") {
            offending.push(format!(
                "{}: no [package.metadata.docs.rs]",
                package.display()
            ));
        }
    }
    assert!(
        offending.is_empty(),
        "published crates carry what the registry shows:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_manifest_readers_read_what_cargo_reads() {
    let manifest = "[package]\nname = \"demo\"\n\n[dependencies]\nfoo = \"1\"\nbar.workspace = true\n\
                    # a comment\nbaz = { workspace = true, optional = true }\n\n\
                    [target.'cfg(unix)'.dependencies]\nqux = \"1\"\n\n[dev-dependencies]\nproptest = \"1\"\n";
    assert_eq!(package_name(manifest).as_deref(), Some("demo"));
    assert_eq!(runtime_dependencies(manifest), ["foo", "bar", "baz", "qux"]);
}
