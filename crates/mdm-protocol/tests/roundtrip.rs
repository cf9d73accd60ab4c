//! Every typed command and response survives XML and binary.

use mdm_protocol::{
    CheckinMessage, Command, CommandResponse, Limits, MdmMessage, PlistFormat, REDACTED, plist,
};

use crate::samples::{CODE, all_commands, all_responses};

#[test]
fn commands_round_trip_through_xml_and_binary() {
    for command in all_commands() {
        let xml = command.to_xml().unwrap();
        let binary = command.to_binary().unwrap();
        assert_eq!(PlistFormat::detect(&xml), PlistFormat::Xml);
        assert_eq!(PlistFormat::detect(&binary), PlistFormat::Binary);
        for bytes in [&xml, &binary] {
            let back = Command::parse(bytes, &Limits::DEFAULT).unwrap();
            assert_eq!(back, command, "{}", command.request.request_type());
            match MdmMessage::parse(bytes, &Limits::DEFAULT).unwrap() {
                MdmMessage::Command(c) => assert_eq!(c, command),
                other => panic!("classified as {}", other.kind()),
            }
        }
    }
}

#[test]
fn responses_round_trip_through_xml_and_binary() {
    for response in all_responses() {
        for bytes in [response.to_xml().unwrap(), response.to_binary().unwrap()] {
            let back = CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap();
            assert_eq!(back, response);
            if let Some(request_type) = response.payload.request_type() {
                let known = CommandResponse::parse_for(&bytes, request_type, &Limits::DEFAULT);
                assert_eq!(known.unwrap(), response);
            }
            match MdmMessage::parse(&bytes, &Limits::DEFAULT).unwrap() {
                MdmMessage::Response(r) => assert_eq!(r, response),
                other => panic!("classified as {}", other.kind()),
            }
        }
    }
}

#[test]
fn checkins_round_trip_through_xml_and_binary() {
    for name in [
        "checkin_authenticate.plist",
        "checkin_token_update.plist",
        "checkin_checkout.plist",
    ] {
        let message =
            CheckinMessage::parse(&crate::fixtures::read(name), &Limits::DEFAULT).unwrap();
        for bytes in [message.to_xml().unwrap(), message.to_binary().unwrap()] {
            assert_eq!(
                CheckinMessage::parse(&bytes, &Limits::DEFAULT).unwrap(),
                message
            );
        }
    }
}

#[test]
fn secrets_never_reach_debug_or_redacted_output() {
    let secrets: [&[u8]; 4] = [
        b"correct horse",
        b"p12 pass",
        b"fw <&> pass",
        CODE.as_bytes(),
    ];
    for command in all_commands() {
        let debug = format!("{command:?}");
        let mut redacted = Vec::new();
        command
            .to_redacted_value()
            .to_writer_xml(&mut redacted)
            .unwrap();
        for secret in secrets {
            let secret = String::from_utf8_lossy(secret);
            assert!(!debug.contains(&*secret), "{debug}");
            assert!(!String::from_utf8_lossy(&redacted).contains(&*secret));
        }
    }
    for response in all_responses() {
        assert!(!format!("{response:?}").contains(CODE));
        let mut redacted = Vec::new();
        response
            .to_redacted_value()
            .to_writer_xml(&mut redacted)
            .unwrap();
        let redacted = String::from_utf8(redacted).unwrap();
        assert!(!redacted.contains(CODE));
        if response
            .payload
            .request_type()
            .is_some_and(|t| t.as_str() == "ActivationLockBypassCode")
        {
            let value = response.to_redacted_value();
            let shown = value
                .as_dictionary()
                .unwrap()
                .get("ActivationLockBypassCode");
            assert_eq!(shown.and_then(|v| v.as_string()), Some(REDACTED));
        }
    }
}

#[test]
fn fresh_commands_get_fresh_v4_uuids() {
    let a = Command::new(mdm_protocol::CommandRequest::SecurityInfo);
    let b = Command::new(mdm_protocol::CommandRequest::SecurityInfo);
    assert_ne!(a.uuid, b.uuid);
    let parsed = uuid_version(&a.uuid);
    assert_eq!(parsed, Some('4'), "{}", a.uuid);
}

fn uuid_version(uuid: &str) -> Option<char> {
    (uuid.len() == 36).then(|| uuid.as_bytes()[14] as char)
}

#[test]
fn unknown_keys_survive_a_round_trip() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>CommandUUID</key><string>X</string>
  <key>Status</key><string>Acknowledged</string>
  <key>UDID</key><string>D</string>
  <key>FutureKey</key><dict><key>Nested</key><date>2026-11-23T10:00:00Z</date></dict>
  <key>QueryResponses</key><dict>
    <key>SerialNumber</key><string>S</string>
    <key>IsSupervised</key><true/>
  </dict>
</dict></plist>"#;
    let response = CommandResponse::parse(xml, &Limits::DEFAULT).unwrap();
    assert!(response.extra.contains_key("FutureKey"));
    let again = CommandResponse::parse(&response.to_binary().unwrap(), &Limits::DEFAULT).unwrap();
    assert_eq!(again, response);
    let mdm_protocol::ResponsePayload::DeviceInformation(info) = &again.payload else {
        panic!("not device information");
    };
    assert_eq!(
        info.extra.get("IsSupervised"),
        Some(&plist::Value::Boolean(true))
    );
}
