//! Apple's own example plists (read from the shared checkout at test time, never copied here).

use std::path::{Path, PathBuf};

use mdm_protocol::{
    Command, CommandRequest, CommandResponse, CommandType, Limits, RequestType, ResponsePayload,
    SchemaCheckin, Status, plist::Value,
};

/// `$ALB_SHARED_DIR/apple-device-management` when set, else the copy of Apple's schema and
/// examples kept in the repository (`crates/mdm-protocol/vendor/apple-device-management`, MIT, with its origin).
pub fn schema_dir() -> PathBuf {
    std::env::var_os("ALB_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("vendor/apple-device-management"),
        |shared| PathBuf::from(shared).join("apple-device-management"),
    )
}

fn examples_dir() -> PathBuf {
    schema_dir().join("examples")
}

fn read(relative: &str) -> Vec<u8> {
    let path = examples_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "Apple's examples are needed for this test: cannot read {} ({error}). It is kept in \
             crates/mdm-protocol/vendor/apple-device-management (or set ALB_SHARED_DIR).",
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

/// Every example, XML and binary, read into its type and written back unchanged: requests
/// by their `RequestType`, responses by the request of the same folder, check-in messages by
/// their `MessageType`.
#[test]
fn every_example_round_trips_through_its_type() {
    let dir = examples_dir();
    let folders = std::fs::read_dir(&dir).unwrap_or_else(|error| {
        panic!(
            "Apple's examples are needed for this test: cannot read {} ({error}). It is kept in \
             crates/mdm-protocol/vendor/apple-device-management (or set ALB_SHARED_DIR).",
            dir.display()
        )
    });
    let mut count = 0;
    for folder in folders {
        let folder = folder.unwrap().path();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "plist"))
            .collect();
        files.sort();
        let values: Vec<(PathBuf, Value)> = files
            .into_iter()
            .map(|p| {
                let value = Value::from_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                (p, value)
            })
            .collect();
        let command_type = values.iter().find_map(|(_, v)| {
            v.as_dictionary()?
                .get("Command")?
                .as_dictionary()?
                .get("RequestType")?
                .as_string()?
                .parse::<CommandType>()
                .ok()
        });
        for (path, value) in &values {
            let dict = value.as_dictionary().unwrap();
            let mut xml = Vec::new();
            value.to_writer_xml(&mut xml).unwrap();
            let mut binary = Vec::new();
            value.to_writer_binary(&mut binary).unwrap();
            let original = std::fs::read(path).unwrap();
            for bytes in [original, xml, binary] {
                let place = path.display();
                if dict.contains_key("Command") {
                    let command = Command::parse(&bytes, &Limits::DEFAULT)
                        .unwrap_or_else(|e| panic!("{place}: {e}"));
                    assert!(
                        !matches!(command.request, CommandRequest::Other { .. }),
                        "{place}"
                    );
                    assert!(
                        command.extra.is_empty(),
                        "{place}: untyped keys {:?}",
                        command.extra
                    );
                    assert_eq!(&command.to_value(), value, "{place}");
                } else if dict.contains_key("Status") {
                    let command_type =
                        command_type.unwrap_or_else(|| panic!("{place}: no request beside it"));
                    for response in [
                        CommandResponse::parse_for(&bytes, command_type, &Limits::DEFAULT),
                        CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT),
                    ] {
                        let response = response.unwrap_or_else(|e| panic!("{place}: {e}"));
                        assert!(response.extra.is_empty(), "{place}: {:?}", response.extra);
                        assert_eq!(&response.to_value(), value, "{place}");
                    }
                } else if dict.contains_key("MessageType") {
                    let message = SchemaCheckin::parse(&bytes, &Limits::DEFAULT)
                        .unwrap_or_else(|e| panic!("{place}: {e}"));
                    assert_eq!(&message.to_value(), value, "{place}");
                } else {
                    panic!("{place}: neither a command, a response nor a check-in message");
                }
            }
            count += 1;
        }
    }
    assert!(count >= 4, "only {count} examples under {}", dir.display());
}
