//! Untrusted input: every failure is a precise error, never a panic.

use mdm_protocol::{
    CheckinMessage, Command, CommandResponse, Limits, MdmMessage, ParseError, RequestType,
};

use crate::{fixtures::read, samples::CODE};

fn plist(body: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>{body}</dict></plist>"
    )
    .into_bytes()
}

fn wrong_type(error: &ParseError) -> (&str, &str, &str) {
    match error {
        ParseError::WrongType {
            path,
            expected,
            found,
        } => (path, expected, found),
        other => panic!("not WrongType: {other:?}"),
    }
}

#[test]
fn wrong_types_name_key_path_and_expected_type() {
    let token_as_string = plist(
        "<key>CommandUUID</key><string>1</string><key>Command</key><dict>\
         <key>RequestType</key><string>ClearPasscode</string>\
         <key>UnlockToken</key><string>c2VjcmV0</string></dict>",
    );
    let error = Command::parse(&token_as_string, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        wrong_type(&error),
        ("Command.UnlockToken", "data", "string")
    );
    assert!(!error.to_string().contains("c2VjcmV0"));

    let status_as_integer = plist("<key>Status</key><integer>1</integer>");
    let error = CommandResponse::parse(&status_as_integer, &Limits::DEFAULT).unwrap_err();
    assert_eq!(wrong_type(&error), ("Status", "string", "integer"));

    let imei_as_integer = plist(
        "<key>Status</key><string>Acknowledged</string><key>QueryResponses</key><dict>\
         <key>ServiceSubscriptions</key><array><dict/><dict><key>IMEI</key><integer>3</integer>\
         </dict></array></dict>",
    );
    let error = CommandResponse::parse(&imei_as_integer, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        wrong_type(&error),
        (
            "QueryResponses.ServiceSubscriptions[1].IMEI",
            "string",
            "integer"
        )
    );

    let code_as_data = plist(
        "<key>Status</key><string>Acknowledged</string>\
         <key>ActivationLockBypassCode</key><data>AAAA</data>",
    );
    let error = CommandResponse::parse(&code_as_data, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        wrong_type(&error),
        ("ActivationLockBypassCode", "string", "data")
    );

    let error_code_as_string = plist(
        "<key>Status</key><string>Error</string><key>ErrorChain</key><array><dict>\
         <key>ErrorCode</key><string>12021</string><key>ErrorDomain</key><string>D</string>\
         </dict></array>",
    );
    let error = CommandResponse::parse(&error_code_as_string, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        wrong_type(&error),
        ("ErrorChain[0].ErrorCode", "integer", "string")
    );

    let queries_of_integers = plist(
        "<key>CommandUUID</key><string>1</string><key>Command</key><dict>\
         <key>RequestType</key><string>DeviceInformation</string>\
         <key>Queries</key><array><string>UDID</string><integer>7</integer></array></dict>",
    );
    let error = Command::parse(&queries_of_integers, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        wrong_type(&error),
        ("Command.Queries[1]", "string", "integer")
    );

    let root_array = b"<plist version=\"1.0\"><array/></plist>";
    let error = MdmMessage::parse(root_array, &Limits::DEFAULT).unwrap_err();
    assert_eq!(wrong_type(&error), ("(root)", "dictionary", "array"));
}

#[test]
fn missing_keys_are_named() {
    let no_token = plist(
        "<key>CommandUUID</key><string>1</string><key>Command</key><dict>\
         <key>RequestType</key><string>ClearPasscode</string></dict>",
    );
    let error = Command::parse(&no_token, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        error,
        ParseError::Missing {
            path: "Command.UnlockToken".into(),
            expected: "data"
        }
    );
    let no_topic = plist("<key>MessageType</key><string>CheckOut</string>");
    let error = CheckinMessage::parse(&no_topic, &Limits::DEFAULT).unwrap_err();
    assert_eq!(error.path(), Some("Topic"));
    let nothing = plist("<key>Hello</key><string>world</string>");
    assert!(matches!(
        MdmMessage::parse(&nothing, &Limits::DEFAULT),
        Err(ParseError::NotMdmMessage { .. })
    ));
}

#[test]
fn malformed_bypass_code_is_an_error_that_does_not_quote_it() {
    let almost = CODE.replace('Q', "O");
    let bytes = plist(&format!(
        "<key>Status</key><string>Acknowledged</string>\
         <key>ActivationLockBypassCode</key><string>{almost}</string>"
    ));
    let error = CommandResponse::parse_for(
        &bytes,
        RequestType::ActivationLockBypassCode,
        &Limits::DEFAULT,
    )
    .unwrap_err();
    assert_eq!(error.path(), Some("ActivationLockBypassCode"));
    let shown = error.to_string();
    assert!(shown.contains("position 3"), "{shown}");
    assert!(!shown.contains("A8"), "{shown}");
    // Empty means "no code", not an error.
    let empty = plist(
        "<key>Status</key><string>Acknowledged</string>\
         <key>ActivationLockBypassCode</key><string></string>",
    );
    let response = CommandResponse::parse(&empty, &Limits::DEFAULT).unwrap();
    assert_eq!(
        response.payload,
        mdm_protocol::ResponsePayload::ActivationLockBypassCode { code: None }
    );
}

#[test]
fn unknown_status_and_key_type_values_are_rejected() {
    let bytes = plist("<key>Status</key><string>Maybe</string>");
    let error = CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap_err();
    assert!(matches!(error, ParseError::InvalidValue { ref path, .. } if path == "Status"));
    let bytes = plist(
        "<key>CommandUUID</key><string>1</string><key>Command</key><dict>\
         <key>RequestType</key><string>RotateFileVaultKey</string>\
         <key>KeyType</key><string>corporate</string><key>FileVaultUnlock</key><dict/></dict>",
    );
    let error = Command::parse(&bytes, &Limits::DEFAULT).unwrap_err();
    assert_eq!(error.path(), Some("Command.KeyType"));
}

#[test]
fn duplicate_keys_are_refused() {
    let bytes = plist(
        "<key>Status</key><string>Acknowledged</string>\
         <key>QueryResponses</key><dict><key>IMEI</key><string>1</string>\
         <key>IMEI</key><string>2</string></dict>",
    );
    let error = CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        error,
        ParseError::DuplicateKey {
            path: "QueryResponses.IMEI".into()
        }
    );
}

#[test]
fn every_truncation_of_every_fixture_fails_cleanly() {
    for name in [
        "response_bypass_code.plist",
        "response_bypass_code.bplist",
        "response_device_information.bplist",
        "command_clear_passcode.plist",
        "checkin_token_update.plist",
    ] {
        let bytes = read(name);
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            // Some XML prefixes end right after the root: those may parse; none may panic.
            if let Ok(message) = MdmMessage::parse(prefix, &Limits::DEFAULT) {
                assert!(cut > bytes.len() - 20, "{name} cut at {cut}: {message:?}");
            }
        }
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let bytes = read("response_device_information.plist");
    let limits = Limits {
        max_bytes: 100,
        ..Limits::DEFAULT
    };
    assert_eq!(
        MdmMessage::parse(&bytes, &limits).unwrap_err(),
        ParseError::TooLarge {
            size: bytes.len(),
            limit: 100
        }
    );
    let huge = vec![b' '; Limits::DEFAULT.max_bytes + 1];
    assert!(matches!(
        MdmMessage::parse(&huge, &Limits::DEFAULT),
        Err(ParseError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let depth = 60_000; // just under the 1 MiB size limit
    let mut xml = String::from("<plist version=\"1.0\"><dict><key>Status</key>");
    xml.push_str(&"<array>".repeat(depth));
    xml.push_str(&"</array>".repeat(depth));
    xml.push_str("</dict></plist>");
    assert_eq!(
        MdmMessage::parse(xml.as_bytes(), &Limits::DEFAULT).unwrap_err(),
        ParseError::TooDeep { limit: 32 }
    );
}

/// A binary plist whose objects reference the next one 14 times, 20 levels deep: 14^20 values
/// once expanded, in a few hundred bytes.
fn exponential_bplist() -> Vec<u8> {
    let levels = 20u8;
    let mut out = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    // Object 0: the root dictionary { "Status": object 1 }.
    offsets.push(out.len());
    out.extend_from_slice(&[0xD1, levels + 2, 1]);
    for level in 1..=levels {
        offsets.push(out.len());
        out.push(0xAE); // array of 14 references
        out.extend(std::iter::repeat_n(level + 1, 14));
    }
    offsets.push(out.len()); // object levels + 1: a string
    out.extend_from_slice(b"\x55hello");
    offsets.push(out.len()); // object levels + 2: the key
    out.extend_from_slice(b"\x56Status");
    let table = out.len();
    for offset in &offsets {
        out.extend_from_slice(&u16::try_from(*offset).unwrap().to_be_bytes());
    }
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&[2, 1]); // 2-byte offsets, 1-byte references
    out.extend_from_slice(&(offsets.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&(table as u64).to_be_bytes());
    out
}

#[test]
fn shared_binary_objects_cannot_expand_without_bound() {
    let bytes = exponential_bplist();
    assert!(bytes.len() < 512);
    let error = MdmMessage::parse(&bytes, &Limits::DEFAULT).unwrap_err();
    assert_eq!(error, ParseError::TooManyValues { limit: 65_536 });
    // With one level it is an ordinary (if odd) response: the builder itself is right.
    let small = Limits {
        max_values: 1_000_000_000,
        max_decoded_bytes: 1024,
        ..Limits::DEFAULT
    };
    assert_eq!(
        MdmMessage::parse(&bytes, &small).unwrap_err(),
        ParseError::TooManyDecodedBytes { limit: 1024 }
    );
}

#[test]
fn garbage_is_a_syntax_error() {
    for bytes in [
        &b""[..],
        b"bplist00",
        b"bplist00\xff\xff\xff\xff",
        b"{ Status = Acknowledged; }",
        b"<plist><dict><key>Status</key></dict></plist>",
        b"<plist><dict><key>A</key><string>1</string></plist>",
        b"<plist><dict><key>A</key><integer>x</integer></dict></plist>",
        b"\xef\xbb\xbf\x00\x00",
    ] {
        match MdmMessage::parse(bytes, &Limits::DEFAULT) {
            Err(ParseError::Syntax { .. }) => {}
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[test]
fn keys_and_values_quoted_by_errors_are_escaped_for_terminals() {
    let title = "Name\u{1b}]0;pwned\u{7}";
    let clear = "\u{1b}[2J\u{9b}2J\u{202e}";
    let duplicate = plist(&format!(
        "<key>Status</key><string>Idle</string><key>{title}</key><true/><key>{title}</key><true/>"
    ));
    let error = CommandResponse::parse(&duplicate, &Limits::DEFAULT).unwrap_err();
    assert_eq!(error.path(), Some(title), "the field keeps the key as sent");
    assert_eq!(
        error.to_string(),
        "Name\\u{1b}]0;pwned\\u{7}: duplicate key"
    );

    let nested = plist(&format!(
        "<key>Status</key><string>Idle</string><key>ErrorChain</key><array><dict>\
         <key>ErrorCode</key><integer>1</integer><key>ErrorDomain</key><string>D</string>\
         </dict><dict><key>{clear}</key><true/><key>{clear}</key><false/></dict></array>"
    ));
    let shown = CommandResponse::parse(&nested, &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert_eq!(
        shown,
        "ErrorChain[1].\\u{1b}[2J\\u{9b}2J\\u{202e}: duplicate key"
    );

    let status = plist(&format!("<key>Status</key><string>{clear}</string>"));
    let shown = CommandResponse::parse(&status, &Limits::DEFAULT)
        .unwrap_err()
        .to_string();
    assert!(!shown.chars().any(printable::needs_escape), "{shown:?}");
    assert!(
        shown.starts_with("Status: expected Acknowledged"),
        "{shown}"
    );
}
