//! Response parsing from arbitrary bytes (XML or binary) never panics and stays within its
//! limits; whatever parses writes back to a response that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdm_protocol::{CommandResponse, Limits, MdmMessage, RequestType};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits::DEFAULT;
    let _ = MdmMessage::parse(bytes, &limits);
    if let Ok(response) = CommandResponse::parse(bytes, &limits) {
        let xml = response.to_xml().expect("a parsed response writes as XML");
        let again = CommandResponse::parse(&xml, &limits).expect("our XML parses");
        // Reals (NaN) defeat equality in kept unknown keys; compare the typed parts.
        assert_eq!(again.status, response.status);
        assert_eq!(again.command_uuid, response.command_uuid);
        assert_eq!(again.identity, response.identity);
        assert_eq!(again.error_chain, response.error_chain);
    }
    for request_type in [
        RequestType::ActivationLockBypassCode,
        RequestType::DeviceInformation,
    ] {
        let _ = CommandResponse::parse_for(bytes, request_type, &limits);
    }
});
