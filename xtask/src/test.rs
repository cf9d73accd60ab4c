//! `cargo xtask test`: every check CI runs.

use std::process::Command;

use crate::{
    codegen,
    shell::{self, cargo},
};

/// The bare-metal target used to prove `bypass-code` is `no_std`.
const BARE_METAL: &str = "thumbv7em-none-eabihf";

/// Runs every check in order, stopping at the first failure.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("`test` takes no arguments, found {arg:?}"));
    }
    shell::run("format", cargo().args(["fmt", "--all", "--", "--check"]))?;
    codegen_check()?;
    shell::run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    no_std_check()?;
    feature_matrix()?;
    shell::run(
        "docs",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    shell::run(
        "tests",
        cargo().args(["test", "--workspace", "--all-features"]),
    )?;
    eprintln!("\nxtask test: every check passed");
    Ok(())
}

/// The feature combinations the crates' documentation promises, each built alone with clippy
/// `-D warnings` (dead code in a combination fails it): `(package, features)`, where features
/// `None` means the defaults and `Some(list)` means `--no-default-features --features list`.
const FEATURE_MATRIX: [(&str, Option<&str>); 9] = [
    ("bypass-code", Some("")),
    ("bypass-code", Some("alloc,serde")),
    ("bypass-code", Some("std,getrandom")),
    ("escrow-client", Some("")),
    ("escrow-client", None),
    ("code-store", Some("")),
    // The system's SQLite (libsqlite3), not the bundled one.
    ("code-store", Some("sqlite")),
    ("code-store", Some("postgres")),
    ("dep-client", None),
];

fn feature_matrix() -> Result<(), String> {
    for (package, features) in FEATURE_MATRIX {
        let mut command = cargo();
        command.args(["clippy", "-p", package]);
        let shown = match features {
            None => "default features".to_owned(),
            Some(list) => {
                command.args(["--no-default-features", "--features", list]);
                format!("features [{list}]")
            }
        };
        command.args(["--", "-D", "warnings"]);
        shell::run(
            &format!("feature matrix: {package} with {shown}"),
            &mut command,
        )?;
    }
    Ok(())
}

/// `cargo xtask codegen --check` when Apple's schema is where codegen looks for it; a clear
/// notice when it is not (the committed code cannot be checked then).
fn codegen_check() -> Result<(), String> {
    let schema = shell::root().join(codegen::DEFAULT_SCHEMA);
    if schema.join("mdm").is_dir() {
        eprintln!("\n==> codegen: cargo xtask codegen --check");
        codegen::run(&["--check".to_owned()])
    } else {
        eprintln!(
            "\n==> codegen check SKIPPED: Apple's schema is not at {} (no mdm/ folder there), so \
             {} cannot be compared with it. Put the shared folder beside the repository to run it.",
            schema.display(),
            codegen::OUTPUT
        );
        Ok(())
    }
}

/// `bypass-code` without default features pulls in no `std`, and builds for a bare-metal target
/// when that target is installed.
fn no_std_check() -> Result<(), String> {
    let tree = shell::capture(cargo().args([
        "tree",
        "-p",
        "bypass-code",
        "--no-default-features",
        "-e",
        "normal,features",
        "--prefix",
        "none",
    ]))?;
    if !tree.status.success() {
        return Err(format!(
            "no_std check: cargo tree failed: {}",
            String::from_utf8_lossy(&tree.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&tree.stdout);
    let with_std: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("feature \"std\""))
        .collect();
    if !with_std.is_empty() {
        return Err(format!(
            "no_std check: a dependency of bypass-code turns `std` on:\n{}",
            with_std.join("\n")
        ));
    }
    eprintln!(
        "\n==> no_std: no dependency of bypass-code (without default features) enables `std`"
    );

    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == BARE_METAL)
        })
        .unwrap_or(false);
    if installed {
        shell::run(
            "no_std build",
            cargo()
                // Warnings there (code only the x86 path uses) fail the check as clippy's do.
                .env("RUSTFLAGS", "-D warnings")
                .args([
                    "build",
                    "-p",
                    "bypass-code",
                    "--no-default-features",
                    "--target",
                    BARE_METAL,
                ]),
        )
    } else {
        eprintln!(
            "==> no_std build skipped: target {BARE_METAL} is not installed \
             (`rustup target add {BARE_METAL}`)"
        );
        Ok(())
    }
}
