//! Check-in parsing from arbitrary bytes never panics; what parses round-trips through binary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdm_protocol::{CheckinMessage, Limits};

fuzz_target!(|bytes: &[u8]| {
    let limits = Limits::DEFAULT;
    if let Ok(message) = CheckinMessage::parse(bytes, &limits) {
        let binary = message
            .to_binary()
            .expect("a parsed message writes as binary");
        let again = CheckinMessage::parse(&binary, &limits).expect("our binary parses");
        assert_eq!(again.message_type(), message.message_type());
        assert_eq!(again.identity(), message.identity());
    }
});
