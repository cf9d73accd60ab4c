//! Running commands: cargo through `$CARGO`, paths relative to the workspace root.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The workspace root (the parent of this crate's directory).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A `cargo` command (the one that runs us), in the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it; an error says which step failed.
pub fn run(step: &str, command: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {step}: {}", describe(command));
    let status = command
        .status()
        .map_err(|e| format!("{step}: cannot start {}: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

/// Runs `command` and captures its output (not echoed).
pub fn capture(command: &mut Command) -> Result<Output, String> {
    command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(command)))
}

/// The command line as text, for messages.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
