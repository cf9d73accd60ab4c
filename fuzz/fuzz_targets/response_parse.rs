//! Response parsing from arbitrary bytes (XML or binary) never panics and stays within its
//! limits; whatever parses writes back, as binary and as XML, to a response that parses to
//! the same value: through the hand-written views (`parse`, `parse_for`) and through the
//! generated types of every request type (`parse_schema`, the type picked by the input).
#![no_main]

use alb_fuzz::round_trip;
use libfuzzer_sys::fuzz_target;
use mdm_protocol::{CommandResponse, CommandType, Limits, MdmMessage, RequestType};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits::DEFAULT;
    let _ = MdmMessage::parse(bytes, &limits);
    if let Ok(response) = CommandResponse::parse(bytes, &limits) {
        round_trip(&response, |b| CommandResponse::parse(b, &limits));
    }
    for request_type in [
        RequestType::ActivationLockBypassCode,
        RequestType::DeviceInformation,
    ] {
        if let Ok(response) = CommandResponse::parse_for(bytes, request_type, &limits) {
            round_trip(&response, |b| CommandResponse::parse_for(b, request_type, &limits));
        }
    }
    // One request type per input, chosen by the input's bytes (so mutations explore them all).
    let sum = bytes.iter().fold(0usize, |s, b| s.wrapping_add(usize::from(*b)));
    let command_type = CommandType::ALL[sum % CommandType::ALL.len()];
    if let Ok(response) = CommandResponse::parse_schema(bytes, command_type, &limits) {
        round_trip(&response, |b| CommandResponse::parse_schema(b, command_type, &limits));
    }
    if let Ok(response) = CommandResponse::parse_for(bytes, command_type, &limits) {
        round_trip(&response, |b| CommandResponse::parse_for(b, command_type, &limits));
    }
});
