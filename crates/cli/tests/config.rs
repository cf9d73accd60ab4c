//! The configuration file and `ALB_*` variables: flags win over the environment, which wins over
//! the file, which wins over the defaults; `alb config` shows each and hides passwords.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::{
    path::Path,
    process::{Command, Output},
};

/// `alb ARGS` with `XDG_CONFIG_HOME` at `home` and no inherited `ALB_*` or `XDG_DATA_HOME`.
fn alb(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alb"));
    command.args(args).env("XDG_CONFIG_HOME", home);
    for (name, _) in std::env::vars() {
        if name.starts_with("ALB_") {
            command.env_remove(name);
        }
    }
    command
        .env("XDG_DATA_HOME", home.join("data"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn write_config(home: &Path, body: &str) {
    std::fs::create_dir_all(home.join("alb")).unwrap();
    std::fs::write(home.join("alb/config.toml"), body).unwrap();
}

/// The settings `alb config --json` reports, by key: (value, source).
fn shown(output: &Output) -> std::collections::HashMap<String, (serde_json::Value, String)> {
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    report["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                (s["value"].clone(), s["source"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

#[test]
fn the_store_comes_from_the_flag_then_the_environment_then_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let at = |name: &str| home.join(name);
    write_config(
        home,
        &format!(
            "# the store every command uses\nstore = \"sqlite:{}\"\n",
            at("from-file.sqlite3").display()
        ),
    );
    let generate = ["generate", "--serial", "C02CONFIG01", "--cleartext"];

    let out = alb(home, &generate, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(at("from-file.sqlite3").exists(), "the file's store is used");

    let env_store = format!("sqlite:{}", at("from-env.sqlite3").display());
    let out = alb(home, &generate, &[("ALB_STORE", &env_store)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        at("from-env.sqlite3").exists(),
        "the environment wins over the file"
    );

    let flag_store = format!("sqlite:{}", at("from-flag.sqlite3").display());
    let mut args = generate.to_vec();
    args.extend(["--store", &flag_store]);
    let out = alb(home, &args, &[("ALB_STORE", &env_store)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(at("from-flag.sqlite3").exists(), "the flag wins over both");

    // Without a file, the default store under XDG_DATA_HOME.
    std::fs::remove_file(home.join("alb/config.toml")).unwrap();
    let out = alb(home, &generate, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(at("data/alb/store.sqlite3").exists());
}

#[test]
fn a_subcommand_option_is_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    // `alb unlock` needs --org-name and --guid: the file gives them, so the error is about the
    // identity file (which does not exist), not about a missing option.
    write_config(
        home,
        "org_name = \"Example School\"\nguid = \"ops@example.com\"\nidentity = \"/nonexistent/apns.pem\"\n",
    );
    let out = alb(
        home,
        &[
            "unlock",
            "--code",
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            "--serial",
            "C02CONFIG02",
            "--product-type",
            "iPad4,1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/apns.pem"), "{err}");
    assert!(!err.contains("required"), "{err}");
}

#[test]
fn alb_config_shows_each_source_and_hides_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    write_config(
        home,
        "store = \"postgres://alb:s3cret-pw@db.example/alb\"\norg-name = \"From File\"\n\
         guid = \"file@example.com\"\nmax-tries = 4\n",
    );
    let out = alb(
        home,
        &["config", "--json"],
        &[("ALB_GUID", "env@example.com")],
    );
    assert!(
        !text(&out.stdout).contains("s3cret-pw"),
        "{}",
        text(&out.stdout)
    );
    let settings = shown(&out);
    assert_eq!(
        settings["store"],
        (
            "postgres://alb:***@db.example/alb".into(),
            "file".to_owned()
        )
    );
    assert_eq!(
        settings["org-name"],
        ("From File".into(), "file".to_owned())
    );
    assert_eq!(
        settings["guid"],
        ("env@example.com".into(), "environment".to_owned())
    );
    assert_eq!(settings["max-tries"], ("4".into(), "file".to_owned()));
    assert_eq!(settings["endpoint"].1, "unset");

    // A global flag given to `alb config` itself wins, and is shown as a flag.
    let out = alb(home, &["--store", "memory:", "config", "--json"], &[]);
    assert_eq!(shown(&out)["store"], ("memory:".into(), "flag".to_owned()));

    // Without a file, the store is the default one.
    std::fs::remove_file(home.join("alb/config.toml")).unwrap();
    let out = alb(home, &["config", "--json"], &[]);
    let store = &shown(&out)["store"];
    assert_eq!(store.1, "default");
    assert!(
        store
            .0
            .as_str()
            .unwrap()
            .ends_with("data/alb/store.sqlite3")
    );

    // The text form names the file and the variable of each setting.
    write_config(home, "org-name = \"From File\"\n");
    let out = alb(home, &["config"], &[]);
    let printed = text(&out.stdout);
    assert!(printed.contains("config.toml"), "{printed}");
    assert!(
        printed.contains("org-name = \"From File\"  # file (ALB_ORG_NAME)"),
        "{printed}"
    );
}

#[test]
fn a_bad_file_is_refused_with_its_name_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let cases: [(&str, &[&str]); 4] = [
        ("stor = \"memory:\"\n", &["unknown key `stor`", "store"]),
        ("store = [1]\n", &["`store` must be a string"]),
        ("store = \n", &["not TOML", "line 1"]),
        ("\u{1b}[31m = 1\n", &["not TOML"]),
    ];
    for (body, expected) in cases {
        write_config(home, body);
        let out = alb(home, &["config"], &[]);
        assert_eq!(out.status.code(), Some(2), "{body:?}");
        let err = text(&out.stderr);
        assert!(err.contains("config.toml"), "{body:?}: {err}");
        for part in expected {
            assert!(err.contains(part), "{body:?}: {err}");
        }
        assert!(
            !err.contains('\u{1b}'),
            "no raw escape on the terminal: {err:?}"
        );
    }
    // A named file must exist; the default one may not.
    let out = alb(home, &["--config", "/nonexistent/alb.toml", "config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/alb.toml"));
    let out = alb(
        home,
        &["config"],
        &[("ALB_CONFIG", "/nonexistent/alb.toml")],
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_file(home.join("alb/config.toml")).unwrap();
    assert!(alb(home, &["config"], &[]).status.success());
    // A huge file is not read whole.
    write_config(home, &"# padding\n".repeat(10_000));
    let out = alb(home, &["config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("larger than"));
}
