//! The generated model: samples of every command, response, check-in message and error body
//! of Apple's schema (made from the schema data, unknown keys and unlisted values included)
//! read into their types and written back, through XML and binary, unchanged.

use mdm_protocol::{
    CheckinMessage, CheckinType, Command, CommandRequest, CommandResponse, CommandType, ErrorBody,
    Limits, ResponsePayload, SchemaCheckin,
    plist::Value,
    sample::{Sampler, Seeded},
};
use proptest::prelude::*;

/// `value` as XML and as binary.
fn encodings(value: &Value) -> [Vec<u8>; 2] {
    let mut xml = Vec::new();
    value.to_writer_xml(&mut xml).unwrap();
    let mut binary = Vec::new();
    value.to_writer_binary(&mut binary).unwrap();
    [xml, binary]
}

fn sampler(seed: u64, command_type: Option<CommandType>) -> Sampler<Seeded> {
    let mut sampler = Sampler::new(Seeded(seed));
    // Hand-written request types keep closed enumerations (`RotateFileVaultKey.KeyType`).
    sampler.unlisted_values = command_type.is_none_or(|t| t.request_type().is_none());
    sampler
}

/// Every command type's request: typed (hand-written or generated, never `Other`), and
/// written back unchanged.
fn command_round_trip(seed: u64, command_type: CommandType) -> Result<(), TestCaseError> {
    let value = sampler(seed, Some(command_type)).command(command_type);
    for bytes in encodings(&value) {
        let command = Command::parse(&bytes, &Limits::DEFAULT)
            .map_err(|e| TestCaseError::fail(format!("{command_type}: {e}")))?;
        prop_assert!(
            !matches!(command.request, CommandRequest::Other { .. }),
            "{} is untyped",
            command_type
        );
        prop_assert_eq!(command.request.command_type(), Some(command_type));
        prop_assert_eq!(&command.to_value(), &value, "{}", command_type);
        let again = Command::parse(&command.to_binary().unwrap(), &Limits::DEFAULT).unwrap();
        prop_assert_eq!(&again, &command);
        let again = Command::parse(&command.to_xml().unwrap(), &Limits::DEFAULT).unwrap();
        prop_assert_eq!(&again, &command);
    }
    Ok(())
}

/// Every command type's response, every key typed (`parse_schema`), and through the
/// hand-written views where they exist (`parse_for`).
fn response_round_trip(seed: u64, command_type: CommandType) -> Result<(), TestCaseError> {
    let value = sampler(seed, None).response(command_type);
    for bytes in encodings(&value) {
        let response = CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT)
            .map_err(|e| TestCaseError::fail(format!("{command_type}: {e}")))?;
        let has_keys = !command_type.spec().response.is_empty();
        prop_assert_eq!(
            matches!(response.payload, ResponsePayload::Schema(_)),
            has_keys,
            "{}",
            command_type
        );
        prop_assert_eq!(&response.to_value(), &value, "{}", command_type);
        for bytes in [response.to_xml().unwrap(), response.to_binary().unwrap()] {
            let again =
                CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT).unwrap();
            prop_assert_eq!(&again, &response);
        }
        // The hand-written views keep every key too (the bypass code's view refuses codes
        // that are not canonical, which random strings are not).
        if command_type != CommandType::ActivationLockBypassCode {
            let view = CommandResponse::parse_for(&bytes, command_type, &Limits::DEFAULT)
                .map_err(|e| TestCaseError::fail(format!("{command_type} view: {e}")))?;
            prop_assert_eq!(&view.to_value(), &value, "{} view", command_type);
        }
    }
    Ok(())
}

fn checkin_round_trip(seed: u64, checkin_type: CheckinType) -> Result<(), TestCaseError> {
    let value = sampler(seed, None).checkin(checkin_type);
    for bytes in encodings(&value) {
        let message = SchemaCheckin::parse(&bytes, &Limits::DEFAULT)
            .map_err(|e| TestCaseError::fail(format!("{checkin_type}: {e}")))?;
        prop_assert_eq!(message.checkin_type(), checkin_type);
        prop_assert_eq!(&message.to_value(), &value, "{}", checkin_type);
        let again = SchemaCheckin::parse(&message.to_binary().unwrap(), &Limits::DEFAULT);
        prop_assert_eq!(&again.unwrap(), &message);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_command_round_trips(seed in any::<u64>()) {
        for command_type in CommandType::ALL {
            command_round_trip(seed, command_type)?;
        }
    }

    #[test]
    fn every_response_round_trips(seed in any::<u64>()) {
        for command_type in CommandType::ALL {
            response_round_trip(seed, command_type)?;
        }
    }

    #[test]
    fn every_checkin_round_trips(seed in any::<u64>()) {
        for checkin_type in CheckinType::ALL {
            checkin_round_trip(seed, checkin_type)?;
        }
    }

    #[test]
    fn every_error_body_round_trips(seed in any::<u64>()) {
        for code in ErrorBody::CODES {
            let spec = error_spec(code);
            let mut dict = sampler(seed, None).dictionary(spec);
            dict.insert("code".into(), Value::String(code.to_owned()));
            let value = Value::Dictionary(dict);
            for bytes in encodings(&value) {
                let body = ErrorBody::parse(&bytes, &Limits::DEFAULT).unwrap();
                prop_assert_eq!(body.code(), code);
                prop_assert_eq!(&body.to_value(), &value);
            }
        }
    }
}

fn error_spec(code: &str) -> &'static [mdm_protocol::schema::KeySpec] {
    use mdm_protocol::generated::errors::*;
    [
        &software_update_required::SPEC,
        &unrecognized_device::SPEC,
        &watch_pairing_token_missing::SPEC,
        &well_known_failed::SPEC,
    ]
    .into_iter()
    .find(|s| s.name == code)
    .map(|s| s.request)
    .unwrap()
}

/// Large messages (every optional key present, arrays of three) round-trip too.
#[test]
fn full_messages_round_trip() {
    for command_type in CommandType::ALL {
        let mut sampler = sampler(7, Some(command_type));
        sampler.full = true;
        let value = sampler.command(command_type);
        let [xml, binary] = encodings(&value);
        for bytes in [xml, binary] {
            let command = Command::parse(&bytes, &Limits::DEFAULT).unwrap();
            assert_eq!(command.to_value(), value, "{command_type}");
        }
        let mut sampler = Sampler::new(Seeded(7));
        sampler.full = true;
        let value = sampler.response(command_type);
        let [xml, binary] = encodings(&value);
        for bytes in [xml, binary] {
            let response =
                CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT).unwrap();
            assert_eq!(response.to_value(), value, "{command_type}");
        }
    }
}

/// Check-in messages with hand-written types keep them; the others are generated.
#[test]
fn checkin_messages_are_typed() {
    for checkin_type in CheckinType::ALL {
        let value = Sampler::new(Seeded(3)).checkin(checkin_type);
        let [_, binary] = encodings(&value);
        let message = CheckinMessage::parse(&binary, &Limits::DEFAULT).unwrap();
        assert_eq!(message.message_type(), checkin_type.as_str());
        let hand = matches!(
            message,
            CheckinMessage::Authenticate(_)
                | CheckinMessage::TokenUpdate(_)
                | CheckinMessage::CheckOut(_)
        );
        assert_eq!(
            hand,
            ["Authenticate", "TokenUpdate", "CheckOut"].contains(&checkin_type.as_str())
        );
        if !hand {
            assert!(matches!(message, CheckinMessage::Schema(_)));
            assert_eq!(message.to_value(), value);
        }
    }
}

/// Unknown keys at every level stay, in commands, responses and check-in messages.
#[test]
fn unknown_keys_are_kept_at_every_depth() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>CommandUUID</key><string>U</string>
  <key>Status</key><string>Acknowledged</string>
  <key>ProfileList</key><array><dict>
    <key>PayloadIdentifier</key><string>com.example.p</string>
    <key>FutureItemKey</key><date>2026-11-23T10:00:00Z</date>
    <key>SignerCertificates</key><array><data>AAEC</data></array>
  </dict></array>
  <key>FutureTopKey</key><dict><key>Nested</key><real>1.5</real></dict>
</dict></plist>"#;
    let response =
        CommandResponse::parse_for(xml, CommandType::ProfileList, &Limits::DEFAULT).unwrap();
    let ResponsePayload::Schema(mdm_protocol::SchemaResponse::ProfileList(list)) =
        &response.payload
    else {
        panic!("not ProfileList: {:?}", response.payload);
    };
    let item = &list.profile_list.as_ref().unwrap()[0];
    assert_eq!(item.payload_identifier.as_deref(), Some("com.example.p"));
    assert!(matches!(
        item.extra.get("FutureItemKey"),
        Some(Value::Date(_))
    ));
    assert!(response.extra.contains_key("FutureTopKey"));
    let again = CommandResponse::parse_for(
        &response.to_binary().unwrap(),
        CommandType::ProfileList,
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(again, response);
    let original = Value::from_reader_xml(&xml[..]).unwrap();
    assert_eq!(response.to_value(), original);
}

/// A response to any request type that the device answered with `Error` and without the keys
/// the schema calls "required" parses.
#[test]
fn required_response_keys_may_be_absent() {
    let xml = br#"<plist version="1.0"><dict>
  <key>CommandUUID</key><string>U</string>
  <key>Status</key><string>Error</string>
  <key>ErrorChain</key><array><dict>
    <key>ErrorCode</key><integer>12021</integer>
    <key>ErrorDomain</key><string>MCMDMErrorDomain</string>
  </dict></array>
</dict></plist>"#;
    for command_type in CommandType::ALL {
        let response = CommandResponse::parse_schema(xml, command_type, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{command_type}: {e}"));
        assert_eq!(response.error_chain.len(), 1);
    }
}

/// Values the schema does not list come back unchanged; integers where reals are declared
/// are read.
#[test]
fn unlisted_values_and_integer_reals() {
    let xml = br#"<plist version="1.0"><dict>
  <key>Status</key><string>Acknowledged</string>
  <key>QueryResponses</key><dict>
    <key>CellularTechnology</key><integer>-7</integer>
    <key>DeviceCapacity</key><integer>64</integer>
    <key>AccessibilitySettings</key><dict><key>TextSize</key><integer>-1</integer></dict>
  </dict>
</dict></plist>"#;
    let response =
        CommandResponse::parse_schema(xml, CommandType::DeviceInformation, &Limits::DEFAULT)
            .unwrap();
    let ResponsePayload::Schema(mdm_protocol::SchemaResponse::DeviceInformation(info)) =
        &response.payload
    else {
        panic!("not DeviceInformation");
    };
    let q = info.query_responses.as_ref().unwrap();
    assert_eq!(q.cellular_technology, Some(-7));
    assert_eq!(q.device_capacity, Some(64.0));
    assert_eq!(
        q.accessibility_settings.as_ref().unwrap().text_size,
        Some(-1)
    );

    let xml = br#"<plist version="1.0"><dict>
  <key>Status</key><string>Acknowledged</string>
  <key>InstallResult</key><string>Ignored</string>
  <key>State</key><string>SomethingNew</string>
  <key>RejectionReason</key><string>Other</string>
</dict></plist>"#;
    use mdm_protocol::generated::commands::install_application::{RejectionReason, State};
    let response =
        CommandResponse::parse_schema(xml, CommandType::InstallApplication, &Limits::DEFAULT)
            .unwrap();
    let ResponsePayload::Schema(mdm_protocol::SchemaResponse::InstallApplication(install)) =
        &response.payload
    else {
        panic!("not InstallApplication");
    };
    assert_eq!(install.state, Some(State::Unlisted("SomethingNew".into())));
    assert_eq!(install.rejection_reason, Some(RejectionReason::Other));
    assert_eq!(State::from("SomethingNew").as_str(), "SomethingNew");
    let again = Value::from_reader(std::io::Cursor::new(response.to_xml().unwrap()));
    assert_eq!(
        again.unwrap().as_dictionary().unwrap()["State"].as_string(),
        Some("SomethingNew")
    );
}
