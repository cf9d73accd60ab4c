//! `alb generate | encode | inspect | verify`, run as a user runs them.

use std::process::{Command, Output};

use bypass_code::{BypassCode, EscrowKey};

const RAW: &str = "522f23bdcf104d886760d24e535a676b";
const CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
const KEY: &str = "821A819614C0238129F699179285086BC250F95183B8FC0CF2EC8E8A1A3909B6";

fn alb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alb"))
        .args(args)
        .env_remove("ALB_STORE_KEY")
        .output()
        .expect("alb runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn generate_json_prints_valid_matching_pairs() {
    let output = alb(&["generate", "--count", "3", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3);
    let mut codes = Vec::new();
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let code: BypassCode = value["code"].as_str().unwrap().parse().unwrap();
        let key: EscrowKey = value["escrow_key"].as_str().unwrap().parse().unwrap();
        assert!(key.verify(&code), "{line}");
        assert!(value.get("raw").is_none());
        codes.push(code);
    }
    assert!(codes[0] != codes[1] && codes[1] != codes[2] && codes[0] != codes[2]);
}

#[test]
fn generate_text_prints_code_and_key_per_line() {
    let output = alb(&["generate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let mut fields = text.split_whitespace();
    let code: BypassCode = fields.next().unwrap().parse().unwrap();
    let key: EscrowKey = fields.next().unwrap().parse().unwrap();
    assert!(key.verify(&code));
    assert_eq!(fields.next(), None);
}

#[test]
fn encode_prints_the_published_vector() {
    let output = alb(&["encode", RAW, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("{{\"code\":\"{CODE}\",\"escrow_key\":\"{KEY}\",\"raw\":\"{RAW}\"}}\n")
    );
}

#[test]
fn inspect_strict_and_lenient() {
    let strict = alb(&["inspect", CODE]);
    assert!(strict.status.success());
    assert_eq!(
        stdout(&strict),
        format!("code:       {CODE}\nraw:        {RAW}\nescrow_key: {KEY}\n")
    );
    let lenient = alb(&[
        "inspect",
        "--lenient",
        "--json",
        " a8qk7 gfg21 6rht vou9 756p l7e3 ",
    ]);
    assert!(lenient.status.success(), "{}", stderr(&lenient));
    assert!(stdout(&lenient).contains(CODE));
    let refused = alb(&["inspect", "a8qk7-gfg21-6rht-v0u9-756p-l7e3"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn verify_exit_status_says_whether_they_match() {
    let matching = alb(&["verify", CODE, &KEY.to_ascii_lowercase()]);
    assert_eq!(matching.status.code(), Some(0));
    let other = "DEAB860D28DEB5B7121D6D8FCF0F78E1471756D1B2C566C03277C23EA8930B4F";
    let mismatch = alb(&["verify", CODE, other]);
    assert_eq!(mismatch.status.code(), Some(1));
}

#[test]
fn invalid_input_names_position_and_reason_on_one_stderr_line() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["inspect", "A8QK7-GFB21-6RHT-V0U9-756P-L7E3"],
            "invalid symbol 'B' at position 9",
        ),
        (
            &["inspect", "A8QK7-GFG21-6RHT-V0U9-756P-L7E9"],
            "last symbol '9' at position 31",
        ),
        (&["inspect", "A8QK7"], "31 characters"),
        (
            &["encode", "522f23bdcf104d886760d24e535a676"],
            "32 hexadecimal digits",
        ),
        (&["verify", CODE, "XYZ"], "64 hexadecimal digits"),
    ];
    for (args, reason) in cases {
        let output = alb(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(reason), "{args:?}: {message}");
    }
}

#[test]
fn encode_rejects_a_bad_digit_with_its_position() {
    let output = alb(&["encode", "522f23bdcf104d886760d24e535a67zb"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid hexadecimal digit 'z' at position 31"));
}

/// `alb ARGS` as on a new machine whose home directory is `home`: no store or key configured.
fn on_new_machine(home: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alb"));
    command
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("ALB_STORE")
        .env_remove("ALB_STORE_KEY");
    command
}

#[test]
fn default_store_gets_a_private_key_file_on_first_use_and_keeps_it() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| on_new_machine(home.path(), args).output().unwrap();
    let first = run(&["generate", "--serial", "C02XK1ABJG5H", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("created a new store key"));
    let key_file = home.path().join(".config/alb/store.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    let printed: serde_json::Value = serde_json::from_str(stdout(&first).trim()).unwrap();

    let shown = run(&["show", "C02XK1ABJG5H", "--json", "--reveal"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(!stderr(&shown).contains("created a new store key"));
    assert!(stdout(&shown).contains(printed["code"].as_str().unwrap()));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key_text);

    // The database (and its write-ahead log) holds no code in clear.
    let code = printed["code"].as_str().unwrap().as_bytes();
    let dir = home.path().join(".local/share/alb");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(code.len()).any(|w| w == code));
        files += 1;
    }
    assert!(files >= 1);
}

/// Several `alb` processes started at once on a new machine: one store key and one database
/// file are made, every process uses them, and every printed code reads back with that key.
#[test]
fn first_use_by_several_processes_at_once_makes_one_key_and_one_store() {
    let home = tempfile::tempdir().unwrap();
    let command = |args: &[&str]| {
        let mut command = on_new_machine(home.path(), args);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let serials: Vec<String> = (0..6).map(|i| format!("C02RACE{i:05}")).collect();
    let children: Vec<_> = serials
        .iter()
        .map(|serial| {
            command(&["generate", "--serial", serial, "--json"])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = 0;
    for (serial, child) in serials.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{serial}: {}", stderr(&out));
        created += usize::from(stderr(&out).contains("created a new store key"));
        let printed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        let shown = command(&["show", serial, "--json", "--reveal"])
            .output()
            .unwrap();
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert!(stdout(&shown).contains(printed["code"].as_str().unwrap()));
    }
    assert_eq!(created, 1, "exactly one process made the key");
    let config: Vec<_> = std::fs::read_dir(home.path().join(".config/alb"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(config, vec![std::ffi::OsString::from("store.key")]);
}
