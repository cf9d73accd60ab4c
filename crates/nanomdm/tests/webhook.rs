//! Webhook events as NanoMDM and MicroMDM send them.

use alb_nanomdm::{AckStatus, EventBody, Topic, WebhookEvent, WebhookLimits};
use base64::Engine as _;

const UDID: &str = "66ADE930-5FDF-5EC4-8429-15640684C489";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn plist(message_type: &str, extra: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\
         <key>MessageType</key><string>{message_type}</string>\
         <key>UDID</key><string>{UDID}</string>{extra}</dict></plist>\n"
    )
}

/// A check-in event as NanoMDM's `service/webhook` writes it (with `ids`, which we ignore).
fn nanomdm_checkin(topic: &str, payload: &str, extra: &str) -> String {
    format!(
        r#"{{"checkin_event":{{"ids":{{"id":"{UDID}","type":"Device"}},"raw_payload":"{}","udid":"{UDID}","url_params":{{"org":"acme"}}{extra}}},"created_at":"2025-03-01T10:20:30.123456789Z","event_id":"ev-1","topic":"{topic}"}}"#,
        b64(payload.as_bytes())
    )
}

fn parse(body: &str) -> WebhookEvent {
    WebhookEvent::parse(body.as_bytes(), &WebhookLimits::DEFAULT).unwrap()
}

#[test]
fn every_checkin_topic_parses() {
    let topics = [
        ("mdm.Authenticate", Topic::Authenticate),
        ("mdm.TokenUpdate", Topic::TokenUpdate),
        ("mdm.CheckOut", Topic::CheckOut),
        ("mdm.UserAuthenticate", Topic::UserAuthenticate),
        ("mdm.SetBootstrapToken", Topic::SetBootstrapToken),
        ("mdm.GetBootstrapToken", Topic::GetBootstrapToken),
        ("mdm.DeclarativeManagement", Topic::DeclarativeManagement),
        ("mdm.GetToken", Topic::GetToken),
    ];
    for (wire, topic) in topics {
        let payload = plist(wire.trim_start_matches("mdm."), "");
        let event = parse(&nanomdm_checkin(wire, &payload, ""));
        assert_eq!(event.topic, topic, "{wire}");
        assert_eq!(event.topic.as_str(), wire);
        assert_eq!(Topic::from_wire(wire), topic);
        assert_eq!(event.event_id.as_deref(), Some("ev-1"));
        let created = event.created_at.unwrap();
        assert_eq!((created.year(), created.nanosecond()), (2025, 123_456_789));
        assert_eq!(event.device_id(), Some(UDID));
        assert_eq!(event.raw_payload(), Some(payload.as_bytes()));
        let EventBody::Checkin(checkin) = &event.body else {
            panic!("{wire}: {event:?}");
        };
        assert_eq!(
            checkin.url_params.get("org").map(String::as_str),
            Some("acme")
        );
        assert_eq!(checkin.token_update_tally, None);
        assert_eq!(checkin.enrollment_id, None);
    }
}

#[test]
fn nanomdm_testdata_authenticate() {
    // The shape of NanoMDM's service/webhook/testdata/Authenticate.2.json (Go's zero time).
    let payload = plist(
        "Authenticate",
        "<key>SerialNumber</key><string>C02MT66KFLHH</string>",
    );
    let body = format!(
        r#"{{"checkin_event":{{"ids":{{"id":"{UDID}","type":"Device"}},"raw_payload":"{}","udid":"{UDID}"}},"created_at":"0001-01-01T00:00:00Z","event_id":"test_event_id","topic":"mdm.Authenticate"}}"#,
        b64(payload.as_bytes())
    );
    let event = parse(&body);
    assert_eq!(event.topic, Topic::Authenticate);
    assert_eq!(event.created_at, None, "Go's zero time means no time");
    let EventBody::Checkin(checkin) = &event.body else {
        panic!()
    };
    assert!(checkin.url_params.is_empty());
}

#[test]
fn token_update_tally_and_user_channel() {
    let device = parse(&nanomdm_checkin(
        "mdm.TokenUpdate",
        &plist("TokenUpdate", ""),
        r#","token_update_tally":1"#,
    ));
    let EventBody::Checkin(checkin) = &device.body else {
        panic!()
    };
    assert_eq!(checkin.token_update_tally, Some(1));

    let user_payload = plist(
        "TokenUpdate",
        "<key>UserID</key><string>B3F8C8A2-0000-4000-8000-000000000001</string>\
         <key>UserShortName</key><string>alice</string>",
    );
    let user = parse(&format!(
        r#"{{"topic":"mdm.TokenUpdate","created_at":"2025-03-01T10:20:30+01:00","checkin_event":{{"ids":{{"id":"{UDID}:B3F8","parent_id":"{UDID}","type":"User"}},"udid":"{UDID}","raw_payload":"{}","url_params":null,"token_update_tally":3}}}}"#,
        b64(user_payload.as_bytes())
    ));
    assert_eq!(user.event_id, None);
    assert_eq!(user.created_at.unwrap().offset().whole_hours(), 1);
    let EventBody::Checkin(checkin) = &user.body else {
        panic!()
    };
    assert_eq!(checkin.token_update_tally, Some(3));
    assert!(String::from_utf8_lossy(&checkin.raw_payload).contains("UserShortName"));
}

#[test]
fn user_enrollment_has_an_enrollment_id() {
    let body = format!(
        r#"{{"topic":"mdm.Authenticate","checkin_event":{{"enrollment_id":"ABCD-1234","raw_payload":"{}"}}}}"#,
        b64(b"<plist/>")
    );
    let event = parse(&body);
    assert_eq!(event.device_id(), Some("ABCD-1234"));
    assert_eq!(event.created_at, None);
}

fn connect(status: &str, extra: &str) -> String {
    format!(
        r#"{{"acknowledge_event":{{"ids":{{"id":"{UDID}","type":"Device"}},"status":"{status}","udid":"{UDID}"{extra}}},"created_at":"2025-03-01T10:20:30Z","topic":"mdm.Connect"}}"#
    )
}

#[test]
fn command_reports_parse() {
    let report = plist(
        "",
        "<key>ActivationLockBypassCode</key><string>A8QK7-GFG21-6RHT-V0U9-756P-L7E3</string>",
    );
    for (wire, status) in [
        ("Acknowledged", AckStatus::Acknowledged),
        ("Error", AckStatus::Error),
        ("CommandFormatError", AckStatus::CommandFormatError),
        ("NotNow", AckStatus::NotNow),
        ("Unheard", AckStatus::Other("Unheard".to_owned())),
    ] {
        let extra = format!(
            r#","command_uuid":"c-1","raw_payload":"{}","url_params":{{"a":"b"}}"#,
            b64(report.as_bytes())
        );
        let event = parse(&connect(wire, &extra));
        assert_eq!(event.topic, Topic::Connect);
        let EventBody::Acknowledge(ack) = &event.body else {
            panic!()
        };
        assert_eq!(ack.status, status);
        assert_eq!(ack.status.as_str(), wire);
        assert_eq!(AckStatus::from_wire(wire), status);
        assert_eq!(ack.command_uuid.as_deref(), Some("c-1"));
        assert_eq!(ack.raw_payload.as_slice(), report.as_bytes());
        assert_eq!(ack.url_params.len(), 1);
        // Debug shows the length, never the code.
        let debug = format!("{event:?}");
        assert!(!debug.contains("A8QK7"), "{debug}");
        assert!(
            debug.contains(&format!("<{} bytes>", report.len())),
            "{debug}"
        );
    }
}

#[test]
fn idle_needs_no_payload() {
    for extra in ["", r#","raw_payload":"""#, r#","raw_payload":null"#] {
        let event = parse(&connect("Idle", extra));
        let EventBody::Acknowledge(ack) = &event.body else {
            panic!()
        };
        assert_eq!(ack.status, AckStatus::Idle);
        assert_eq!(ack.command_uuid, None);
        assert!(ack.raw_payload.is_empty());
    }
}

#[test]
fn micromdm_shape_parses() {
    // MicroMDM: empty strings rather than absent fields, a local offset, no `ids`.
    let body = format!(
        r#"{{"topic":"mdm.Connect","event_id":"","created_at":"2019-08-09T18:40:48.548837-04:00","acknowledge_event":{{"udid":"{UDID}","status":"Acknowledged","command_uuid":"","url_params":null,"raw_payload":"{}"}}}}"#,
        b64(b"<plist/>")
    );
    let event = parse(&body);
    assert_eq!(event.event_id, None);
    let EventBody::Acknowledge(ack) = &event.body else {
        panic!()
    };
    assert_eq!(ack.command_uuid, None);
}

#[test]
fn unknown_topics_and_fields_are_ignored() {
    let event = parse(
        r#"{"topic":"mdm.SomethingNew","created_at":5,"event_id":"e","checkin_event":"not even an object"}"#,
    );
    assert_eq!(event.topic, Topic::Other("mdm.SomethingNew".to_owned()));
    assert_eq!(event.topic.as_str(), "mdm.SomethingNew");
    assert_eq!(event.body, EventBody::Ignored);
    assert_eq!(event.created_at, None);
    assert_eq!(event.event_id.as_deref(), Some("e"));
    assert_eq!(event.device_id(), None);
    assert_eq!(event.raw_payload(), None);

    let with_extras = nanomdm_checkin(
        "mdm.CheckOut",
        &plist("CheckOut", ""),
        r#","future":{"deep":[1,2,3]},"acknowledge_event":7"#,
    )
    .replacen('{', r#"{"signature":"x","version":2,"#, 1);
    assert_eq!(parse(&with_extras).topic, Topic::CheckOut);
}

#[test]
fn limits_default() {
    assert_eq!(WebhookLimits::default(), WebhookLimits::DEFAULT);
    assert_eq!(WebhookLimits::DEFAULT.max_body, 1 << 20);
    assert_eq!(WebhookLimits::DEFAULT.max_payload, 512 << 10);
}
