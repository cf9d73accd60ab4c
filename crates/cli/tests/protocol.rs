//! `alb command | parse`, run as a user runs them.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use mdm_protocol::{CommandRequest, Limits, MdmMessage};

const CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../mdm-protocol/tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn alb(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("alb runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("alb reads stdin");
    }
    drop(input);
    child.wait_with_output().expect("alb exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn command_prints_a_parsable_xml_command_with_the_given_uuid() {
    let output = alb(
        &["command", "ActivationLockBypassCode", "--uuid", "0001-TEST"],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stdout.starts_with(b"<?xml"));
    let MdmMessage::Command(command) = MdmMessage::parse(&output.stdout, &Limits::DEFAULT).unwrap()
    else {
        panic!("not a command");
    };
    assert_eq!(command.uuid, "0001-TEST");
    assert_eq!(command.request, CommandRequest::ActivationLockBypassCode);
}

#[test]
fn command_without_uuid_gets_a_fresh_one_and_binary_works() {
    let a = alb(&["command", "SecurityInfo", "--binary"], None);
    let b = alb(&["command", "SecurityInfo", "--binary"], None);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(a.stdout.starts_with(b"bplist00"));
    let uuid = |o: &Output| match MdmMessage::parse(&o.stdout, &Limits::DEFAULT).unwrap() {
        MdmMessage::Command(c) => c.uuid,
        _ => panic!("not a command"),
    };
    let (ua, ub) = (uuid(&a), uuid(&b));
    assert_ne!(ua, ub);
    assert_eq!(ua.len(), 36);
    assert_eq!(&ua[14..15], "4", "version 4: {ua}");
}

#[test]
fn clear_passcode_reads_the_token_file_and_device_information_takes_queries() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token.bin");
    let token: Vec<u8> = (0u8..=255).rev().collect();
    std::fs::write(&token_path, &token).unwrap();
    let output = alb(
        &[
            "command",
            "ClearPasscode",
            "--unlock-token-file",
            token_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("<data>"));
    let MdmMessage::Command(command) = MdmMessage::parse(&output.stdout, &Limits::DEFAULT).unwrap()
    else {
        panic!("not a command");
    };
    let CommandRequest::ClearPasscode(clear) = command.request else {
        panic!("not ClearPasscode");
    };
    assert_eq!(clear.unlock_token.as_bytes(), &token[..]);

    let missing = alb(&["command", "ClearPasscode"], None);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("--unlock-token-file"));

    let output = alb(
        &[
            "command",
            "DeviceInformation",
            "--query",
            "SerialNumber",
            "ProductName",
            "--query",
            "IMEI",
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let MdmMessage::Command(command) = MdmMessage::parse(&output.stdout, &Limits::DEFAULT).unwrap()
    else {
        panic!("not a command");
    };
    let CommandRequest::DeviceInformation(info) = command.request else {
        panic!("not DeviceInformation");
    };
    assert_eq!(info.queries, ["SerialNumber", "ProductName", "IMEI"]);
}

#[test]
fn unknown_request_types_are_refused_with_the_known_ones() {
    let output = alb(&["command", "EraseEverything"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("ActivationLockBypassCode"));
}

#[test]
fn parse_json_reports_every_kind_and_redacts_secrets() {
    let output = alb(
        &[
            "parse",
            "--json",
            &fixture("command_clear_passcode.plist"),
            &fixture("response_bypass_code.bplist"),
            &fixture("response_device_information.plist"),
            &fixture("checkin_token_update.plist"),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(!stdout.contains(CODE));
    assert!(
        !stdout.contains("4d444d55"),
        "unlock token bytes (hex of MDMU) leaked"
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["kind"], "command");
    assert_eq!(lines[0]["request_type"], "ClearPasscode");
    assert_eq!(lines[0]["payload"]["UnlockToken"], "<redacted>");
    assert_eq!(lines[1]["kind"], "response");
    assert_eq!(lines[1]["format"], "binary");
    assert_eq!(lines[1]["status"], "Acknowledged");
    assert_eq!(lines[1]["udid"], "00008101-001A2B3C4D5E6F70");
    assert_eq!(
        lines[1]["payload"]["ActivationLockBypassCode"],
        "<redacted>"
    );
    assert_eq!(lines[2]["request_type"], "DeviceInformation");
    assert_eq!(lines[2]["unlock"]["product_type"], "iPad8,12");
    assert_eq!(lines[2]["unlock"]["imei2"], "35 209900 176149 9");
    assert_eq!(lines[3]["kind"], "checkin");
    assert_eq!(lines[3]["message_type"], "TokenUpdate");
    assert_eq!(lines[3]["payload"]["UnlockToken"], "<redacted>");
}

#[test]
fn parse_reveal_shows_secrets() {
    let output = alb(
        &[
            "parse",
            "--json",
            "--reveal",
            &fixture("response_bypass_code.plist"),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        json_lines(&output)[0]["payload"]["ActivationLockBypassCode"],
        CODE
    );
    let plain = alb(&["parse", &fixture("response_bypass_code.plist")], None);
    assert!(text(&plain.stdout).contains("code=<redacted>"));
    assert!(!text(&plain.stdout).contains(CODE));
}

#[test]
fn a_malformed_input_is_named_and_the_others_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.plist");
    std::fs::write(
        &bad,
        "<plist version=\"1.0\"><dict><key>CommandUUID</key><string>1</string>\
         <key>Command</key><dict><key>RequestType</key><string>ClearPasscode</string>\
         <key>UnlockToken</key><string>oops</string></dict></dict></plist>",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let good = fixture("response_clear_passcode.plist");
    let output = alb(&["parse", "--json", bad, &good], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(bad), "{stderr}");
    assert!(stderr.contains("Command.UnlockToken"), "{stderr}");
    assert!(stderr.contains("expected data, found string"), "{stderr}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["file"], good.as_str());
}

#[test]
fn parse_reads_standard_input_and_enforces_the_size_limit() {
    let bytes = std::fs::read(fixture("checkin_authenticate.plist")).unwrap();
    let output = alb(&["parse", "--json"], Some(&bytes));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(json_lines(&output)[0]["message_type"], "Authenticate");
    let output = alb(&["parse", "--max-bytes", "64", "-"], Some(&bytes));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("larger than the limit of 64 bytes"));
}

/// Every request type of Apple's schema, each with where it is available.
#[test]
fn command_list_shows_every_request_type_with_its_availability() {
    let output = alb(&["command", "--list"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listed = text(&output.stdout);
    assert_eq!(listed.lines().count(), mdm_protocol::CommandType::ALL.len());
    let lock = listed
        .lines()
        .find(|l| l.starts_with("ActivationLockBypassCode "))
        .unwrap();
    assert!(lock.contains("iOS 7.1+ (supervised)"), "{lock}");
}

/// Any request type, its keys from `--set` or `--payload`, checked against the schema with the
/// key path; the result is the typed command, its secrets redacted by `alb parse`.
#[test]
fn command_builds_any_request_type_from_the_schema() {
    let output = alb(
        &[
            "command",
            "DeviceLock",
            "--set",
            "PIN=123456",
            "--set",
            "Message=Lost: call IT",
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let command = mdm_protocol::Command::parse(&output.stdout, &Limits::DEFAULT).unwrap();
    assert_eq!(command.request.request_type(), "DeviceLock");
    let parsed = alb(&["parse", "--json", "-"], Some(&output.stdout));
    let report = &json_lines(&parsed)[0];
    assert_eq!(report["payload"]["PIN"], "<redacted>");
    assert_eq!(report["payload"]["Message"], "Lost: call IT");

    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("settings.json");
    std::fs::write(
        &payload,
        r#"{"Settings": [{"Item": "DeviceName", "DeviceName": "Kiosk 4"}]}"#,
    )
    .unwrap();
    let output = alb(
        &[
            "command",
            "Settings",
            "--payload",
            payload.to_str().unwrap(),
        ],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("Kiosk 4"));

    for (args, expected) in [
        (
            &["command", "DeviceLock", "--set", "Bogus=1"][..],
            "Bogus: unknown key",
        ),
        (&["command", "DeviceLock", "--set", "PIN"][..], "PIN"),
        (
            &[
                "command",
                "EraseDevice",
                "--set",
                "DisallowProximitySetup=maybe",
            ][..],
            "DisallowProximitySetup",
        ),
    ] {
        let output = alb(args, None);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}
