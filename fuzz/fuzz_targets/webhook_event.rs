//! Webhook bodies from arbitrary bytes never panic; what parses keeps its invariants (the
//! topic round-trips through its wire name, payloads stay within the limit, ids are the
//! body's), and parsing is deterministic.
#![no_main]

use alb_nanomdm::{EventBody, Topic, WebhookEvent, WebhookLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let limits = WebhookLimits {
        max_body: 64 * 1024,
        max_payload: 16 * 1024,
    };
    match WebhookEvent::parse(bytes, &limits) {
        Ok(event) => {
            assert_eq!(Topic::from_wire(event.topic.as_str()), event.topic);
            assert_ne!(event.event_id.as_deref(), Some(""));
            if let Some(payload) = event.raw_payload() {
                assert!(payload.len() <= limits.max_payload);
            }
            match &event.body {
                EventBody::Ignored => {
                    assert!(matches!(event.topic, Topic::Other(_)));
                    assert_eq!(event.device_id(), None);
                }
                EventBody::Checkin(checkin) => {
                    assert!(!matches!(event.topic, Topic::Other(_) | Topic::Connect));
                    assert!(!checkin.raw_payload.is_empty());
                    assert!(!format!("{checkin:?}").is_empty());
                }
                EventBody::Acknowledge(ack) => {
                    assert_eq!(event.topic, Topic::Connect);
                    assert_eq!(
                        alb_nanomdm::AckStatus::from_wire(ack.status.as_str()),
                        ack.status
                    );
                }
            }
            assert_eq!(WebhookEvent::parse(bytes, &limits).ok(), Some(event));
        }
        Err(error) => {
            assert!(!error.kind().is_empty());
            assert!(!error.to_string().chars().any(char::is_control));
        }
    }
});
