//! Our fixtures (written from the protocol facts, modelled on Apple's examples).

use std::path::PathBuf;

use mdm_protocol::{
    CellularIdentity, CheckinMessage, Command, CommandRequest, CommandResponse, Limits, MdmMessage,
    RequestType, ResponsePayload, Status,
};

use crate::samples::CODE;

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

#[test]
fn bypass_code_command() {
    let command = Command::parse(&read("command_bypass_code.plist"), &Limits::DEFAULT).unwrap();
    assert_eq!(command.uuid, "3F1C9A52-7B1E-4E0D-8C55-0A9D2B6E4F11");
    assert_eq!(command.request, CommandRequest::ActivationLockBypassCode);
    assert!(command.extra.is_empty());
}

#[test]
fn bypass_code_response_xml_and_binary() {
    for name in ["response_bypass_code.plist", "response_bypass_code.bplist"] {
        let response = CommandResponse::parse(&read(name), &Limits::DEFAULT).unwrap();
        assert_eq!(response.status, Status::Acknowledged);
        assert_eq!(
            response.identity.udid.as_deref(),
            Some("00008101-001A2B3C4D5E6F70")
        );
        let ResponsePayload::ActivationLockBypassCode { code: Some(code) } = &response.payload
        else {
            panic!("{name}: no code in {:?}", response.payload);
        };
        assert_eq!(code.to_string(), CODE);
        assert_eq!(
            code.escrow_key().to_string(),
            code.escrow_key().to_string().to_uppercase()
        );
    }
}

#[test]
fn bypass_code_absent_when_not_now() {
    let bytes = read("response_bypass_code_notnow.plist");
    let known = CommandResponse::parse_for(
        &bytes,
        RequestType::ActivationLockBypassCode,
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(known.status, Status::NotNow);
    assert_eq!(
        known.payload,
        ResponsePayload::ActivationLockBypassCode { code: None }
    );
    let guessed = CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap();
    assert_eq!(guessed.payload, ResponsePayload::None);
}

#[test]
fn clear_passcode_command_and_response() {
    let command = Command::parse(&read("command_clear_passcode.plist"), &Limits::DEFAULT).unwrap();
    let CommandRequest::ClearPasscode(clear) = &command.request else {
        panic!("not ClearPasscode");
    };
    assert_eq!(&clear.unlock_token.as_bytes()[..4], b"MDMU");
    assert_eq!(clear.unlock_token.len(), 100);
    // The command's token is the one the TokenUpdate check-in delivered.
    let CheckinMessage::TokenUpdate(update) =
        CheckinMessage::parse(&read("checkin_token_update.plist"), &Limits::DEFAULT).unwrap()
    else {
        panic!("not TokenUpdate");
    };
    assert_eq!(update.unlock_token.as_ref(), Some(&clear.unlock_token));
    assert_eq!(update.token.len(), 32);
    let response =
        CommandResponse::parse(&read("response_clear_passcode.plist"), &Limits::DEFAULT).unwrap();
    assert_eq!(
        response.command_uuid.as_deref(),
        Some(command.uuid.as_str())
    );
    assert_eq!(response.payload, ResponsePayload::None);
}

#[test]
fn error_response_has_its_chain() {
    let response = CommandResponse::parse(&read("response_error.plist"), &Limits::DEFAULT).unwrap();
    assert_eq!(response.status, Status::Error);
    assert_eq!(response.error_chain.len(), 1);
    assert_eq!(response.error_chain[0].error_code, 12021);
    assert_eq!(response.error_chain[0].error_domain, "MCMDMErrorDomain");
}

#[test]
fn device_information_gives_what_the_unlock_needs() {
    for name in [
        "response_device_information.plist",
        "response_device_information.bplist",
    ] {
        let response = CommandResponse::parse(&read(name), &Limits::DEFAULT).unwrap();
        let ResponsePayload::DeviceInformation(info) = &response.payload else {
            panic!("not DeviceInformation");
        };
        assert_eq!(info.serial_number.as_deref(), Some("DMPZK1ABCDEF"));
        assert_eq!(info.product_type(), Some("iPad8,12"));
        assert_eq!(
            info.cellular_identity(),
            CellularIdentity {
                imei: Some("35 209900 176148 1".into()),
                imei2: Some("35 209900 176149 9".into()),
                meid: Some("35209900176148".into()),
            }
        );
        assert!(info.extra.contains_key("AvailableDeviceCapacity"));
        assert_eq!(
            info.service_subscriptions[1].eid.as_deref().map(str::len),
            Some(32)
        );
    }
}

#[test]
fn security_info_fixture() {
    let response =
        CommandResponse::parse(&read("response_security_info.plist"), &Limits::DEFAULT).unwrap();
    let ResponsePayload::SecurityInfo(info) = &response.payload else {
        panic!("not SecurityInfo");
    };
    assert_eq!(info.hardware_encryption_caps, Some(3));
    assert_eq!(info.passcode_present, Some(true));
    assert_eq!(
        info.management_status.as_ref().unwrap().is_user_enrollment,
        Some(false)
    );
}

#[test]
fn every_fixture_is_classified() {
    let expected = [
        ("command_bypass_code.plist", "command"),
        ("command_clear_passcode.plist", "command"),
        ("response_bypass_code.plist", "response"),
        ("response_bypass_code.bplist", "response"),
        ("response_bypass_code_notnow.plist", "response"),
        ("response_clear_passcode.plist", "response"),
        ("response_error.plist", "response"),
        ("response_device_information.plist", "response"),
        ("response_device_information.bplist", "response"),
        ("response_security_info.plist", "response"),
        ("checkin_authenticate.plist", "checkin"),
        ("checkin_token_update.plist", "checkin"),
        ("checkin_checkout.plist", "checkin"),
    ];
    for (name, kind) in expected {
        let message = MdmMessage::parse(&read(name), &Limits::DEFAULT).unwrap();
        assert_eq!(message.kind(), kind, "{name}");
    }
    let mut on_disk: Vec<_> = std::fs::read_dir(path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<_> = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every fixture is checked here");
}
