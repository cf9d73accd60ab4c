//! Check-in parsing from arbitrary bytes never panics; what parses (hand-written types and
//! every generated message type) round-trips through binary and XML unchanged.
#![no_main]

use alb_fuzz::round_trip;
use libfuzzer_sys::fuzz_target;
use mdm_protocol::{CheckinMessage, Limits, SchemaCheckin};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits::DEFAULT;
    if let Ok(message) = CheckinMessage::parse(bytes, &limits) {
        round_trip(&message, |b| CheckinMessage::parse(b, &limits));
        let again = CheckinMessage::parse(&message.to_binary().expect("writes"), &limits);
        if let Ok(again) = again {
            assert_eq!(again.message_type(), message.message_type());
            assert_eq!(again.identity(), message.identity());
        }
    }
    if let Ok(message) = SchemaCheckin::parse(bytes, &limits) {
        round_trip(&message, |b| SchemaCheckin::parse(b, &limits));
    }
});
