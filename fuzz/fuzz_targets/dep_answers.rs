//! The device enrollment service's answers into `dep-client`'s readers: session and
//! activation-lock JSON bodies, error bodies (code extraction, bounded printable excerpt),
//! `Retry-After` values and OAuth headers. An error or a value, never a panic.
//!
//! Input layout: one selector byte, then the body.
#![no_main]

use std::time::{Duration, SystemTime};

use dep_client::{
    ActivationLockStatus, BodyExcerpt, EXCERPT_BYTES,
    activation_lock::parse_activation_lock_answer, oauth, parse_retry_after, parse_session_answer,
    service_code,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(token) = parse_session_answer(body) {
                assert!(!token.is_empty());
                assert!(token.expose().bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        1 => {
            if let Ok(outcome) = parse_activation_lock_answer(body) {
                // Statuses are kept verbatim and printed without control characters.
                let wire = outcome.status.as_wire().to_owned();
                assert_eq!(ActivationLockStatus::from_wire(&wire), outcome.status);
                assert!(!outcome.status.to_string().chars().any(char::is_control));
            }
        }
        2 => {
            let excerpt = BodyExcerpt::new(body);
            assert!(excerpt.as_bytes().len() <= EXCERPT_BYTES);
            assert!(!excerpt.to_text().chars().any(char::is_control));
            if let Some(code) = service_code(body) {
                assert!(
                    code.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                );
            }
        }
        _ => {
            if let Ok(text) = core::str::from_utf8(body) {
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
                let _ = parse_retry_after(text, now);
                if let Ok(params) = oauth::parse_authorization(text) {
                    for (_, value) in params {
                        let encoded = oauth::percent_encode(&value);
                        assert!(
                            encoded
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
                        );
                    }
                }
            }
        }
    }
});
