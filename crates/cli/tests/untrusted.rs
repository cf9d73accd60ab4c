//! Untrusted input through the real binary: secrets without a typed model are never printed
//! (without `--reveal`), device text never reaches the terminal raw, and every read is bounded
//! with a precise error.

// Helpers shared by these tests are test code too.
#![allow(clippy::unwrap_used)]

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Output, Stdio},
};

/// The memory `alb` may use in the bounded-read tests (`ulimit -d`, KiB): far above what it
/// needs, far below the inputs the tests send.
const DATA_LIMIT_KIB: u32 = 256 * 1024;

/// `alb ARGS` with standard input `stdin`, no store variables inherited, under
/// [`DATA_LIMIT_KIB`]: an unbounded read ends in an allocation failure instead of a success.
fn alb(args: &[&str], stdin: impl AsRef<[u8]> + Send + 'static) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -d {DATA_LIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_alb"))
        .args(args)
        .env_remove("ALB_STORE")
        .env_remove("ALB_STORE_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // Fed from another thread: `alb` may stop reading (and close its end) before the end.
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_ref());
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn plist(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>{body}</dict></plist>\n"
    )
}

fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// `bootstrap-token-SECRET-0123456789` as base64 (the check-in) and hex (`alb parse --json`).
const TOKEN_BASE64: &str = "Ym9vdHN0cmFwLXRva2VuLVNFQ1JFVC0wMTIzNDU2Nzg5";
const TOKEN_HEX: &str = "626f6f7473747261702d746f6b656e2d5345435245542d30313233343536373839";

fn secret_messages(dir: &Path) -> Vec<String> {
    vec![
        write(
            dir,
            "bootstrap.plist",
            plist(&format!(
                "<key>MessageType</key><string>SetBootstrapToken</string>\
                 <key>UDID</key><string>0000FE00-3E6F1B1A1B2C3D4E</string>\
                 <key>AwaitingConfiguration</key><false/>\
                 <key>BootstrapToken</key><data>{TOKEN_BASE64}</data>"
            )),
        ),
        write(
            dir,
            "recovery.plist",
            plist(
                "<key>CommandUUID</key><string>5A1B</string><key>Command</key><dict>\
                 <key>RequestType</key><string>SetRecoveryLock</string>\
                 <key>CurrentPassword</key><string>old-RECOVERY-secret</string>\
                 <key>NewPassword</key><string>new-RECOVERY-secret</string></dict>",
            ),
        ),
        write(
            dir,
            "restrictions.plist",
            plist(
                "<key>CommandUUID</key><string>7C2D</string><key>Command</key><dict>\
                 <key>RequestType</key><string>ClearRestrictionsPassword</string>\
                 <key>RestrictionsPassword</key><string>RESTRICTIONS-secret</string></dict>",
            ),
        ),
        write(
            dir,
            "nested.plist",
            plist(
                "<key>CommandUUID</key><string>9E3F</string><key>Command</key><dict>\
                 <key>RequestType</key><string>Settings</string><key>Settings</key><array>\
                 <dict><key>Item</key><string>Lock</string><key>RecoveryKey</key><dict>\
                 <key>Parts</key><array><string>NESTED-secret</string></array></dict>\
                 <key>UnlockPIN</key><string>NESTED-pin-secret</string></dict></array></dict>",
            ),
        ),
    ]
}

fn assert_no_secret(shown: &str) {
    for secret in [
        "SECRET",
        "RECOVERY",
        "RESTRICTIONS",
        "NESTED",
        TOKEN_BASE64,
        TOKEN_HEX,
    ] {
        assert!(!shown.contains(secret), "{secret} in:\n{shown}");
    }
}

#[test]
fn secrets_without_a_typed_model_are_never_printed_unless_revealed() {
    let dir = tempfile::tempdir().unwrap();
    let files = secret_messages(dir.path());
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["parse"]
            .iter()
            .chain(extra)
            .map(|&s| s.to_owned())
            .collect();
        args.extend(files.iter().cloned());
        args
    };
    for extra in [&["--json"][..], &[]] {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = alb(&args, "");
        assert!(output.status.success(), "{}", text(&output.stderr));
        let shown = text(&output.stdout);
        // One summary line per message (and, in text, its fields indented below it).
        let summaries = shown.lines().filter(|l| !l.starts_with("  ")).count();
        assert_eq!(summaries, 4, "{shown}");
        assert_no_secret(&shown);
        assert_no_secret(&text(&output.stderr));
    }
    let json = text(&alb(&["parse", "--json", &files[0], &files[2]], "").stdout);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["message_type"], "SetBootstrapToken");
    assert_eq!(lines[0]["payload"]["BootstrapToken"], "<redacted>");
    assert_eq!(lines[0]["payload"]["AwaitingConfiguration"], false);
    assert_eq!(lines[1]["request_type"], "ClearRestrictionsPassword");

    let args = args(&["--json", "--reveal"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let revealed = text(&alb(&args, "").stdout);
    for secret in [
        TOKEN_HEX,
        "new-RECOVERY-secret",
        "RESTRICTIONS-secret",
        "NESTED-pin-secret",
    ] {
        assert!(
            revealed.contains(secret),
            "{secret} not revealed:\n{revealed}"
        );
    }

    // Ingested (nothing to store for these) and in errors: never shown either.
    let ingest = alb(
        &["ingest", "--store", "memory:", "--cleartext", &files[0]],
        "",
    );
    assert!(ingest.status.success(), "{}", text(&ingest.stderr));
    assert!(text(&ingest.stdout).contains("SetBootstrapToken: nothing to store"));
    assert_no_secret(&text(&ingest.stdout));
    let duplicate = write(
        dir.path(),
        "duplicate.plist",
        plist(&format!(
            "<key>MessageType</key><string>SetBootstrapToken</string>\
             <key>BootstrapToken</key><data>{TOKEN_BASE64}</data>\
             <key>BootstrapToken</key><data>{TOKEN_BASE64}</data>"
        )),
    );
    for command in [
        &["parse", &duplicate][..],
        &["ingest", "--store", "memory:", &duplicate],
    ] {
        let output = alb(command, "");
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("BootstrapToken: duplicate key"), "{stderr}");
        assert_no_secret(&stderr);
    }
}

/// What a device may put in a string: a window title, a screen clear, C1 CSI, DEL, a bidi
/// override.
const HOSTILE: &str = "Evil\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}2J\u{7f}\u{202e}gpj.exe";
const HOSTILE_ESCAPED: &str = "Evil\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}2J\\u{7f}\\u{202e}gpj.exe";

fn assert_printable(bytes: &[u8]) {
    let shown = text(bytes);
    let raw: Vec<char> = shown
        .chars()
        .filter(|&c| c != '\n' && printable::needs_escape(c))
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in {shown:?}");
}

#[test]
fn device_text_never_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let checkin = write(
        dir.path(),
        "checkin.plist",
        plist(&format!(
            "<key>MessageType</key><string>{HOSTILE}</string>\
             <key>UDID</key><string>{HOSTILE}</string>"
        )),
    );
    let response = write(
        dir.path(),
        "response.plist",
        plist(&format!(
            "<key>Status</key><string>Acknowledged</string><key>UDID</key><string>{HOSTILE}</string>\
             <key>CommandUUID</key><string>{HOSTILE}</string>"
        )),
    );
    let duplicate = write(
        dir.path(),
        "duplicate.plist",
        plist(&format!(
            "<key>Status</key><string>Idle</string>\
             <key>{HOSTILE}</key><true/><key>{HOSTILE}</key><true/>"
        )),
    );
    let bad_status = write(
        dir.path(),
        "status.plist",
        plist(&format!("<key>Status</key><string>{HOSTILE}</string>")),
    );

    let text_output = alb(&["parse", &checkin, &response], "");
    assert!(
        text_output.status.success(),
        "{}",
        text(&text_output.stderr)
    );
    assert_printable(&text_output.stdout);
    let shown = text(&text_output.stdout);
    assert!(
        shown.contains(&format!("message_type={HOSTILE_ESCAPED}")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("udid={HOSTILE_ESCAPED}")),
        "{shown}"
    );

    let json_output = alb(&["parse", "--json", &checkin, &response], "");
    assert!(json_output.status.success());
    assert_printable(&json_output.stdout);
    let first: serde_json::Value =
        serde_json::from_str(text(&json_output.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        first["message_type"], HOSTILE,
        "JSON reads back to the text sent"
    );

    for (args, message) in [
        (
            vec!["parse", duplicate.as_str()],
            format!("{HOSTILE_ESCAPED}: duplicate key"),
        ),
        (
            vec!["parse", bad_status.as_str()],
            "Status: expected Acknowledged".to_owned(),
        ),
        (
            vec!["ingest", "--store", "memory:", duplicate.as_str()],
            format!("{HOSTILE_ESCAPED}: duplicate key"),
        ),
    ] {
        let output = alb(&args, "");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_printable(&output.stderr);
        assert!(
            text(&output.stderr).contains(&message),
            "{}",
            text(&output.stderr)
        );
    }

    let ingest = alb(&["ingest", "--store", "memory:", &checkin], "");
    assert!(ingest.status.success(), "{}", text(&ingest.stderr));
    assert_printable(&ingest.stdout);
    assert!(
        text(&ingest.stdout).contains(HOSTILE_ESCAPED),
        "{}",
        text(&ingest.stdout)
    );
}

/// A line no import file has: 300 MB (the memory limit is 256 MiB).
const HUGE_LINE: usize = 300 * 1024 * 1024;

#[test]
fn import_refuses_a_huge_or_non_utf8_line_by_number_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.sqlite3").display());
    let made = alb(
        &[
            "generate",
            "--store",
            &store,
            "--cleartext",
            "--serial",
            "C02IMP1",
        ],
        "",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let made = alb(
        &[
            "generate",
            "--store",
            &store,
            "--cleartext",
            "--serial",
            "C02IMP2",
        ],
        "",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let export = text(
        &alb(
            &["export", "--store", &store, "--cleartext", "--reveal"],
            "",
        )
        .stdout,
    );
    let records: Vec<&str> = export.lines().collect();
    assert_eq!(records.len(), 2);

    let mut input = Vec::with_capacity(HUGE_LINE + 1024);
    input.extend_from_slice(records[0].as_bytes());
    input.push(b'\n');
    input.resize(input.len() + HUGE_LINE, b'x');
    input.extend_from_slice(b"\n{\"udid\":\"U\xff\xfe\"}\n");
    input.extend_from_slice(records[1].as_bytes());
    input.push(b'\n');

    let other = format!("sqlite:{}", dir.path().join("other.sqlite3").display());
    let output = alb(&["import", "--store", &other, "--cleartext", "-"], input);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("alb: import: standard input:2: longer than 65536 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("alb: import: standard input:3: not UTF-8 (invalid byte at column 11)"),
        "{stderr}"
    );
    assert_eq!(
        text(&output.stdout),
        "imported: 2 changed, 0 unchanged, 2 refused\n"
    );
    let listed = text(&alb(&["export", "--store", &other, "--cleartext"], "").stdout);
    assert_eq!(listed.lines().count(), 2, "both good lines were imported");
}

#[test]
fn key_files_serial_lists_identities_and_ca_files_are_read_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.sqlite3").display());

    // `/dev/zero` never ends: each read stops at its bound with a precise error.
    let key = alb(
        &["show", "X", "--store", &store, "--key-file", "/dev/zero"],
        "",
    );
    assert_eq!(key.status.code(), Some(2));
    assert!(
        text(&key.stderr).ends_with("alb: key file /dev/zero: larger than 65536 bytes\n"),
        "{}",
        text(&key.stderr)
    );

    let big = dir.path().join("serials.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(16 * 1024 * 1024 + 1)
        .unwrap();
    let big = big.display().to_string();
    for serials in [big.as_str(), "/dev/zero"] {
        let output = alb(
            &[
                "generate",
                "--store",
                &store,
                "--cleartext",
                "--serials",
                serials,
            ],
            "",
        );
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            text(&output.stderr),
            format!("alb: serial list {serials}: larger than 16777216 bytes\n")
        );
        assert!(output.stdout.is_empty());
    }
    let bad = write(dir.path(), "bad.txt", b"C02OK1\nC02\xff\n");
    let output = alb(
        &[
            "generate",
            "--store",
            &store,
            "--cleartext",
            "--serials",
            &bad,
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        format!("alb: {bad}:2: not UTF-8 (invalid byte at column 4)\n")
    );

    let unlock = |extra: &[&str]| {
        let mut args = vec![
            "unlock",
            "--org-name",
            "Org",
            "--guid",
            "ops",
            "--serial",
            "S1",
            "--product-type",
            "iPad4,1",
            "--code",
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
        ];
        args.extend_from_slice(extra);
        alb(&args, "")
    };
    let identity = unlock(&["--identity", "/dev/zero"]);
    assert_eq!(identity.status.code(), Some(2));
    assert_eq!(
        text(&identity.stderr),
        "alb: identity /dev/zero: the identity file is larger than 1 MiB\n"
    );
    let ca = unlock(&["--identity", "/dev/null", "--ca-file", "/dev/zero"]);
    assert_eq!(ca.status.code(), Some(2));
    assert_eq!(
        text(&ca.stderr),
        "alb: CA file /dev/zero is larger than 4 MiB\n"
    );

    let token = alb(
        &[
            "command",
            "ClearPasscode",
            "--unlock-token-file",
            "/dev/zero",
        ],
        "",
    );
    assert_eq!(token.status.code(), Some(2));
    assert_eq!(
        text(&token.stderr),
        "alb: unlock token file /dev/zero: larger than 65536 bytes\n"
    );
    let parse = alb(&["parse", "/dev/zero"], "");
    assert_eq!(parse.status.code(), Some(1));
    assert!(
        text(&parse.stderr).contains("/dev/zero: input of 1048577 bytes is larger than the limit"),
        "{}",
        text(&parse.stderr)
    );
}

#[test]
fn codes_from_standard_input_are_read_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let pki = alb_test_support::TestPki::new();
    let identity = write(dir.path(), "apns.pem", pki.client.identity_pem());
    let args = [
        "unlock",
        "--org-name",
        "Org",
        "--guid",
        "ops",
        "--identity",
        &identity,
        "--serial",
        "S1",
        "--product-type",
        "iPad4,1",
        "--code-stdin",
    ];
    let long = alb(&args, vec![b'A'; HUGE_LINE]);
    assert_eq!(long.status.code(), Some(2));
    assert_eq!(
        text(&long.stderr),
        "alb: --code-stdin: standard input:1: longer than 128 bytes\n"
    );
    let invalid = alb(&args, b"A8QK7-GFG21-6RHT-V0U9-756P-L7E3\n\xc3(\n".to_vec());
    assert_eq!(invalid.status.code(), Some(2));
    assert_eq!(
        text(&invalid.stderr),
        "alb: --code-stdin: standard input:2: not UTF-8 (invalid byte at column 1)\n"
    );
}
