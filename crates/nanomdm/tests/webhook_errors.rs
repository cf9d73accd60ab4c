//! Every refusal of a webhook body, named and escaped; arbitrary bytes never panic.

use alb_nanomdm::{WebhookError, WebhookEvent, WebhookLimits};
use proptest::prelude::*;

fn refuse(body: &str) -> WebhookError {
    WebhookEvent::parse(body.as_bytes(), &WebhookLimits::DEFAULT).unwrap_err()
}

#[test]
fn not_json_reports_line_and_column() {
    let error = refuse("{\n  \"topic\": \"mdm.Connect\",\n  oops\n}");
    assert_eq!(error.kind(), "not_json");
    let WebhookError::NotJson { line, column, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*line, *column), (3, 3));
    assert!(error.to_string().contains("line 3, column 3"), "{error}");
    assert_eq!(refuse("").kind(), "not_json");
    assert_eq!(refuse("{\"topic\":").kind(), "not_json");
    let deep = "[".repeat(10_000);
    assert_eq!(refuse(&deep).kind(), "not_json");
}

#[test]
fn topic_must_be_a_string_in_an_object() {
    let error = refuse("[1]");
    assert_eq!(error.kind(), "wrong_type");
    assert!(error.to_string().contains("an array"), "{error}");
    assert_eq!(refuse("{}").kind(), "missing_field");
    assert_eq!(refuse(r#"{"topic":null}"#).kind(), "missing_field");
    let error = refuse(r#"{"topic":7}"#);
    assert_eq!(error.kind(), "wrong_type");
    assert_eq!(error.to_string(), "`topic` is a number, expected a string");
}

#[test]
fn known_topics_need_their_event() {
    let error = refuse(r#"{"topic":"mdm.TokenUpdate"}"#);
    assert_eq!(error.kind(), "missing_field");
    assert_eq!(
        error.to_string(),
        "`checkin_event` is missing from the mdm.TokenUpdate event"
    );
    let error = refuse(r#"{"topic":"mdm.Connect","checkin_event":{"raw_payload":"AA=="}}"#);
    assert!(
        error.to_string().contains("`acknowledge_event` is missing"),
        "{error}"
    );
    let error = refuse(r#"{"topic":"mdm.Authenticate","checkin_event":{"udid":"x"}}"#);
    assert!(
        error.to_string().contains("`checkin_event.raw_payload`"),
        "{error}"
    );
    let error = refuse(r#"{"topic":"mdm.Connect","acknowledge_event":{"udid":"x"}}"#);
    assert!(
        error.to_string().contains("`acknowledge_event.status`"),
        "{error}"
    );
    let error = refuse(r#"{"topic":"mdm.Connect","acknowledge_event":{"status":"NotNow"}}"#);
    assert!(
        error.to_string().contains("acknowledge_event.raw_payload"),
        "{error}"
    );
    let error = refuse(
        r#"{"topic":"mdm.Connect","acknowledge_event":{"status":"Error","raw_payload":""}}"#,
    );
    assert_eq!(error.kind(), "empty_payload");
    assert_eq!(
        refuse(r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":""}}"#).kind(),
        "empty_payload"
    );
}

#[test]
fn wrong_types_name_the_field() {
    for (body, field) in [
        (
            r#"{"topic":"mdm.CheckOut","checkin_event":[]}"#,
            "`checkin_event` is an array",
        ),
        (
            r#"{"topic":"mdm.CheckOut","checkin_event":{"udid":1,"raw_payload":"AA=="}}"#,
            "`checkin_event.udid` is a number",
        ),
        (
            r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":true}}"#,
            "`checkin_event.raw_payload` is a boolean",
        ),
        (
            r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":"AA==","url_params":[]}}"#,
            "`checkin_event.url_params` is an array",
        ),
        (
            r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":"AA==","url_params":{"k":1}}}"#,
            "`checkin_event.url_params[\"k\"]` is a number",
        ),
        (
            r#"{"topic":"mdm.TokenUpdate","checkin_event":{"raw_payload":"AA==","token_update_tally":-1}}"#,
            "`checkin_event.token_update_tally` is a number, expected a non-negative integer",
        ),
        (
            r#"{"topic":"mdm.TokenUpdate","checkin_event":{"raw_payload":"AA==","token_update_tally":"1"}}"#,
            "`checkin_event.token_update_tally` is a string",
        ),
        (
            r#"{"topic":"mdm.Connect","acknowledge_event":{"status":5}}"#,
            "`acknowledge_event.status` is a number",
        ),
        (
            r#"{"topic":"mdm.Connect","created_at":{},"acknowledge_event":{"status":"Idle"}}"#,
            "`created_at` is an object",
        ),
        (
            r#"{"topic":"mdm.Connect","event_id":1,"acknowledge_event":{"status":"Idle"}}"#,
            "`event_id` is a number",
        ),
    ] {
        let error = refuse(body);
        assert_eq!(error.kind(), "wrong_type", "{body}");
        assert!(error.to_string().starts_with(field), "{body}: {error}");
    }
}

#[test]
fn bad_base64_is_refused() {
    for payload in ["AA", "A===", "!!!!", "AA==AA==", "PHBsaXN0Lz4"] {
        let body =
            format!(r#"{{"topic":"mdm.CheckOut","checkin_event":{{"raw_payload":"{payload}"}}}}"#);
        let error = refuse(&body);
        assert_eq!(error.kind(), "bad_base64", "{payload}");
        assert!(
            error.to_string().contains("checkin_event.raw_payload"),
            "{error}"
        );
    }
}

#[test]
fn sizes_are_bounded() {
    let limits = WebhookLimits {
        max_body: 100,
        max_payload: 6,
    };
    let long = format!(r#"{{"topic":"x","pad":"{}"}}"#, "a".repeat(100));
    let error = WebhookEvent::parse(long.as_bytes(), &limits).unwrap_err();
    assert_eq!(error.kind(), "too_large");
    assert!(
        error.to_string().contains("over the limit of 100"),
        "{error}"
    );
    // Not even parsed: an invalid body over the limit is `too_large`, not `not_json`.
    let error = WebhookEvent::parse(&[b'{'; 101], &limits).unwrap_err();
    assert_eq!(error.kind(), "too_large");

    let ok = r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":"AAAAAAAA"}}"#;
    assert_eq!(
        WebhookEvent::parse(ok.as_bytes(), &limits)
            .unwrap()
            .raw_payload()
            .unwrap()
            .len(),
        6
    );
    let over = r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":"AAAAAAAAAA=="}}"#;
    let error = WebhookEvent::parse(over.as_bytes(), &limits).unwrap_err();
    assert_eq!(error.kind(), "payload_too_large");
    assert_eq!(
        error.to_string(),
        "`checkin_event.raw_payload` decodes to about 7 bytes, over the limit of 6"
    );
}

#[test]
fn bad_created_at_is_refused() {
    for time in [
        "yesterday",
        "2025-03-01 10:20:30",
        "2025-13-01T00:00:00Z",
        "2025-03-01T10:20:30",
    ] {
        let body = format!(
            r#"{{"topic":"mdm.Connect","created_at":"{time}","acknowledge_event":{{"status":"Idle"}}}}"#
        );
        let error = refuse(&body);
        assert_eq!(error.kind(), "bad_time", "{time}");
        assert!(error.to_string().contains(time), "{error}");
    }
}

#[test]
fn input_text_is_escaped_and_shortened() {
    let body = "{\"topic\":\"mdm.\\u001b[2JEvil\\u202e\",\"x\":1}";
    // An unknown topic is no error; its Display is escaped.
    let event = WebhookEvent::parse(body.as_bytes(), &WebhookLimits::DEFAULT).unwrap();
    assert_eq!(event.topic.to_string(), "mdm.\\u{1b}[2JEvil\\u{202e}");

    let error = refuse(
        r#"{"topic":"mdm.Connect","created_at":"\u001b]0;pwned\u0007","acknowledge_event":{"status":"Idle"}}"#,
    );
    let text = error.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("\\u{1b}]0;pwned\\u{7}"), "{text}");

    let key = format!("k\u{9b}{}", "z".repeat(200));
    let body = format!(
        r#"{{"topic":"mdm.CheckOut","checkin_event":{{"raw_payload":"AA==","url_params":{{"{key}":false}}}}}}"#
    );
    let text = refuse(&body).to_string();
    assert!(text.contains("k\\u{9b}zzz"), "{text}");
    assert!(text.contains('…') && text.len() < 200, "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[test]
fn kinds_are_stable() {
    let kinds: Vec<&str> = [
        "x",
        "{}",
        r#"{"topic":1}"#,
        r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":"A"}}"#,
        r#"{"topic":"mdm.CheckOut","checkin_event":{"raw_payload":""}}"#,
        r#"{"topic":"mdm.Connect","created_at":"x","acknowledge_event":{"status":"Idle"}}"#,
    ]
    .iter()
    .map(|body| refuse(body).kind())
    .collect();
    assert_eq!(
        kinds,
        [
            "not_json",
            "missing_field",
            "wrong_type",
            "bad_base64",
            "empty_payload",
            "bad_time"
        ]
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = WebhookLimits { max_body: 256, max_payload: 64 };
        match WebhookEvent::parse(&bytes, &limits) {
            Ok(event) => prop_assert_eq!(alb_nanomdm::Topic::from_wire(event.topic.as_str()), event.topic),
            Err(error) => {
                prop_assert!(!error.kind().is_empty());
                prop_assert!(!error.to_string().chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn arbitrary_json_strings_never_panic(topic in ".{0,20}", udid in ".{0,20}", payload in "[A-Za-z0-9+/=]{0,24}", status in ".{0,12}") {
        let topics = ["mdm.Connect", "mdm.TokenUpdate", topic.as_str()];
        for topic in topics {
            let body = serde_json::json!({
                "topic": topic,
                "checkin_event": {"udid": udid, "raw_payload": payload},
                "acknowledge_event": {"udid": udid, "status": status, "raw_payload": payload},
            });
            let _ = WebhookEvent::parse(body.to_string().as_bytes(), &WebhookLimits::DEFAULT);
        }
    }
}
