//! Property tests: arbitrary bytes never panic; generated messages round-trip.

use mdm_protocol::{
    Command, CommandRequest, CommandResponse, DeviceInformation, Limits, MdmMessage, Password,
    Status, UnlockToken, VerifyFirmwarePassword,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = MdmMessage::parse(&bytes, &Limits::DEFAULT);
        let mut binary = b"bplist00".to_vec();
        binary.extend_from_slice(&bytes);
        let _ = MdmMessage::parse(&binary, &Limits::DEFAULT);
    }

    #[test]
    fn mutated_fixtures_never_panic(index in 0usize..4096, byte in any::<u8>()) {
        for name in ["response_bypass_code.bplist", "response_device_information.bplist"] {
            let mut bytes = crate::fixtures::read(name);
            let at = index % bytes.len();
            bytes[at] = byte;
            let _ = MdmMessage::parse(&bytes, &Limits::DEFAULT);
        }
    }

    #[test]
    fn generated_commands_round_trip(
        uuid in "\\PC{0,40}",
        token in proptest::collection::vec(any::<u8>(), 0..300),
        queries in proptest::collection::vec("[A-Za-z]{1,20}", 0..8),
        password in "\\PC{0,30}",
    ) {
        for request in [
            CommandRequest::ClearPasscode(mdm_protocol::ClearPasscode { unlock_token: UnlockToken::new(token.clone()) }),
            CommandRequest::DeviceInformation(DeviceInformation { queries: queries.clone(), device_attestation_nonce: None }),
            CommandRequest::VerifyFirmwarePassword(VerifyFirmwarePassword { password: Password::new(password.clone()) }),
        ] {
            let command = Command::with_uuid(uuid.clone(), request);
            for bytes in [command.to_xml().unwrap(), command.to_binary().unwrap()] {
                prop_assert_eq!(&Command::parse(&bytes, &Limits::DEFAULT).unwrap(), &command);
            }
        }
    }

    #[test]
    fn generated_responses_round_trip(
        raw in any::<[u8; 16]>(),
        udid in "[0-9A-F-]{0,40}",
        status in 0usize..5,
    ) {
        let mut response = CommandResponse::new(Some("U".into()), Status::ALL[status]);
        response.identity.udid = Some(udid);
        response.payload = mdm_protocol::ResponsePayload::ActivationLockBypassCode {
            code: Some(mdm_protocol::BypassCode::from_bytes(raw)),
        };
        for bytes in [response.to_xml().unwrap(), response.to_binary().unwrap()] {
            prop_assert_eq!(&CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap(), &response);
        }
    }
}
