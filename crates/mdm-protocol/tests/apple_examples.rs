//! Apple's own example plists (read from the shared checkout at test time, never copied here).

use std::path::{Path, PathBuf};

use mdm_protocol::{
    Command, CommandRequest, CommandResponse, Limits, RequestType, ResponsePayload, Status,
};

fn examples_dir() -> PathBuf {
    let shared = std::env::var_os("ALB_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    shared.join("apple-device-management/examples")
}

fn read(relative: &str) -> Vec<u8> {
    let path = examples_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "Apple's examples are needed for this test: cannot read {} ({error}). Put the shared \
             directory beside the repository or set ALB_SHARED_DIR to it.",
            path.display()
        )
    })
}

#[test]
fn bypass_code_request_and_response() {
    let command = Command::parse(
        &read("device.activationlock.bypasscode/example1.plist"),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(command.request, CommandRequest::ActivationLockBypassCode);
    let response = CommandResponse::parse_for(
        &read("device.activationlock.bypasscode/example2.plist"),
        RequestType::ActivationLockBypassCode,
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(
        response.command_uuid.as_deref(),
        Some(command.uuid.as_str())
    );
    assert_eq!(response.status, Status::Acknowledged);
    let ResponsePayload::ActivationLockBypassCode { code: Some(code) } = &response.payload else {
        panic!("no code");
    };
    // The code in Apple's example is the published one (SPEC.md §2 vector).
    assert_eq!(code.to_string(), crate::samples::CODE);
}

#[test]
fn clear_passcode_request_and_response() {
    let command = Command::parse(&read("passcode.clear/example1.plist"), &Limits::DEFAULT).unwrap();
    let CommandRequest::ClearPasscode(clear) = &command.request else {
        panic!("not ClearPasscode");
    };
    assert!(clear.unlock_token.as_bytes().starts_with(b"DATA"));
    assert!(clear.unlock_token.len() > 1000);
    // Our writer's output reads back to the same token.
    let again = Command::parse(&command.to_binary().unwrap(), &Limits::DEFAULT).unwrap();
    assert_eq!(again, command);
    let response = CommandResponse::parse_for(
        &read("passcode.clear/example2.plist"),
        RequestType::ClearPasscode,
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(response.status, Status::Acknowledged);
    assert_eq!(response.payload, ResponsePayload::None);
    assert_eq!(
        response.command_uuid.as_deref(),
        Some(command.uuid.as_str())
    );
}
