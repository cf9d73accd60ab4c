//! The activation-lock request and its answers: body shape, the escrow key vector, status
//! mapping, and the statuses end to end.

use dep_client::{
    ActivationLockRequest, ActivationLockStatus, DepError, EscrowKey, RequestError,
    activation_lock::{MAX_LOST_MESSAGE_CHARS, parse_activation_lock_answer},
    testing::{Lock, Scripted},
};

use crate::common::{env, escrow_key_for, vector_escrow_key};

const VECTOR_KEY: &str = "6ab40d5eabe7218ec04182f461005600c7e3426bddd82cdb405bde9a1e0014b5";

#[test]
fn the_escrow_key_is_sent_as_64_lower_case_hex_digits() {
    // DEP.md §4: 1ea841db5edfafe6075b5ae0d845d254 = 3UM43-PUYVY-QYD1-UVCC-HEHJ-FKA4.
    let code = bypass_code::BypassCode::from_bytes(
        hex::decode("1ea841db5edfafe6075b5ae0d845d254")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let mut dashed = [0u8; bypass_code::ENCODED_LEN];
    assert_eq!(code.encode(&mut dashed), "3UM43-PUYVY-QYD1-UVCC-HEHJ-FKA4");
    let request = ActivationLockRequest::new("C02XK0ABCD12", vector_escrow_key()).unwrap();
    assert_eq!(
        String::from_utf8(request.json_body().to_vec()).unwrap(),
        format!(r#"{{"device":"C02XK0ABCD12","escrow_key":"{VECTOR_KEY}"}}"#)
    );
    let with_message = request
        .clone()
        .with_lost_message("Property of Example & Sons\nCall +1 555 0100 \"ops\"")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&with_message.json_body()).unwrap();
    assert_eq!(body["escrow_key"], VECTOR_KEY);
    assert_eq!(
        body["lost_message"],
        "Property of Example & Sons\nCall +1 555 0100 \"ops\""
    );
    // An empty optional field is left out.
    let empty = request.clone().with_lost_message("").unwrap();
    assert_eq!(empty.json_body(), request.json_body());
    assert_eq!(empty.lost_message(), None);
    // Debug output never shows the escrow key.
    assert!(!format!("{with_message:?}").contains(VECTOR_KEY));
}

#[test]
fn invalid_requests_are_refused_before_sending() {
    let key = EscrowKey::from_bytes([7; 32]);
    assert_eq!(
        ActivationLockRequest::new("", key.clone()).unwrap_err(),
        RequestError::EmptySerial
    );
    for serial in ["C02 XK0", "C02\u{1b}[2J", &"A".repeat(65), "séríal"] {
        assert!(
            matches!(
                ActivationLockRequest::new(serial, key.clone()),
                Err(RequestError::InvalidSerial { .. })
            ),
            "{serial:?}"
        );
    }
    let request = ActivationLockRequest::new("C02XK0ABCD12", key).unwrap();
    for message in [
        "bell\u{7}".to_owned(),
        "x".repeat(MAX_LOST_MESSAGE_CHARS + 1),
    ] {
        assert!(matches!(
            request.clone().with_lost_message(message),
            Err(RequestError::InvalidLostMessage { .. })
        ));
    }
    assert!(
        request
            .with_lost_message("é".repeat(MAX_LOST_MESSAGE_CHARS))
            .is_ok()
    );
}

#[test]
fn statuses_map_and_unknown_ones_are_kept_verbatim() {
    for (wire, status) in [
        ("SUCCESS", ActivationLockStatus::Success),
        ("NOT_ACCESSIBLE", ActivationLockStatus::NotAccessible),
        ("ORG_NOT_SUPPORTED", ActivationLockStatus::OrgNotSupported),
        (
            "DEVICE_NOT_SUPPORTED",
            ActivationLockStatus::DeviceNotSupported,
        ),
        (
            "DEVICE_ALREADY_LOCKED",
            ActivationLockStatus::DeviceAlreadyLocked,
        ),
        ("FAILED", ActivationLockStatus::Failed),
    ] {
        assert_eq!(ActivationLockStatus::from_wire(wire), status);
        assert_eq!(status.as_wire(), wire);
        assert_eq!(status.to_string(), wire);
    }
    let odd = ActivationLockStatus::from_wire("success\u{1b}[31m");
    assert_eq!(
        odd,
        ActivationLockStatus::Unknown("success\u{1b}[31m".to_owned())
    );
    assert_eq!(odd.as_wire(), "success\u{1b}[31m");
    assert_eq!(odd.to_string(), "success\\u{1b}[31m");
    assert!(ActivationLockStatus::Success.is_locked());
    assert!(!ActivationLockStatus::DeviceAlreadyLocked.is_locked());
    assert!(ActivationLockStatus::Failed.is_retryable());

    let outcome = parse_activation_lock_answer(
        br#"{"serial_number":"X1","response_status":"NEW_ONE","more":1}"#,
    )
    .unwrap();
    assert_eq!(
        outcome.status,
        ActivationLockStatus::Unknown("NEW_ONE".to_owned())
    );
    for bad in [
        &br#"{"serial_number":"X1"}"#[..],
        br#"{"response_status":"SUCCESS"}"#,
        b"[]",
        b"",
    ] {
        assert!(parse_activation_lock_answer(bad).is_err());
    }
}

#[tokio::test]
async fn every_status_comes_back_typed() {
    let env = env().await;
    let cases = [
        ("SER0001", "SUCCESS", ActivationLockStatus::Success),
        (
            "SER0002",
            "NOT_ACCESSIBLE",
            ActivationLockStatus::NotAccessible,
        ),
        (
            "SER0003",
            "ORG_NOT_SUPPORTED",
            ActivationLockStatus::OrgNotSupported,
        ),
        (
            "SER0004",
            "DEVICE_NOT_SUPPORTED",
            ActivationLockStatus::DeviceNotSupported,
        ),
        (
            "SER0005",
            "DEVICE_ALREADY_LOCKED",
            ActivationLockStatus::DeviceAlreadyLocked,
        ),
        ("SER0006", "FAILED", ActivationLockStatus::Failed),
        (
            "SER0007",
            "LOCK_PENDING",
            ActivationLockStatus::Unknown("LOCK_PENDING".to_owned()),
        ),
    ];
    for (serial, wire, _) in &cases {
        env.stand_in.set_status(serial, wire);
    }
    for (serial, _, status) in cases {
        let request = ActivationLockRequest::new(serial, escrow_key_for(serial)).unwrap();
        let outcome = env.client.activation_lock(&request).await.unwrap();
        assert_eq!(outcome.serial_number, serial);
        assert_eq!(outcome.status, status);
    }
    // The stand-in received each escrow key as 64 lower-case hex digits.
    let keys = env.stand_in.escrow_keys();
    assert_eq!(keys.len(), 7);
    assert_eq!(
        keys["SER0001"],
        [format!("{:x}", escrow_key_for("SER0001"))]
    );
    for sent in keys.values().flatten() {
        assert!(
            sent.len() == 64
                && sent
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}

#[tokio::test]
async fn the_first_lock_wins() {
    let env = env().await;
    let first = ActivationLockRequest::new("C02FIRST0001", vector_escrow_key()).unwrap();
    let second = ActivationLockRequest::new("C02FIRST0001", escrow_key_for("other")).unwrap();
    assert_eq!(
        env.client.activation_lock(&first).await.unwrap().status,
        ActivationLockStatus::Success
    );
    assert_eq!(
        env.client.activation_lock(&second).await.unwrap().status,
        ActivationLockStatus::DeviceAlreadyLocked
    );
    // The same key again is still the lock in place.
    assert_eq!(
        env.client.activation_lock(&first).await.unwrap().status,
        ActivationLockStatus::Success
    );
    assert_eq!(
        env.stand_in.locks()["C02FIRST0001"],
        Lock::EscrowKey(VECTOR_KEY.to_owned())
    );
    // No request ever went without an escrow key.
    assert!(
        !env.stand_in
            .locks()
            .values()
            .any(|lock| *lock == Lock::WithoutEscrowKey)
    );
    let posts: Vec<_> = env
        .stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == "/device/activationlock")
        .collect();
    assert_eq!(posts.len(), 3);
    for post in posts {
        assert_eq!(
            post.header("content-type"),
            Some("application/json;charset=UTF8")
        );
        let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
        assert!(body["escrow_key"].is_string());
        assert!(body.get("lost_message").is_none());
    }
}

#[tokio::test]
async fn answers_for_another_serial_or_not_json_are_invalid() {
    let env = env().await;
    env.stand_in.script(
        "/device/activationlock",
        [
            Scripted::status(
                200,
                r#"{"serial_number":"SOMEONE_ELSE","response_status":"SUCCESS"}"#,
            ),
            Scripted::status(200, "<html>maintenance</html>"),
        ],
    );
    let request = ActivationLockRequest::new("C02MINE00001", vector_escrow_key()).unwrap();
    for _ in 0..2 {
        let error = env.client.activation_lock(&request).await.unwrap_err();
        assert!(
            matches!(
                error,
                DepError::InvalidResponse {
                    endpoint: "POST /device/activationlock",
                    ..
                }
            ),
            "{error:?}"
        );
    }
    // Case differences in the serial are accepted.
    env.stand_in.script(
        "/device/activationlock",
        [Scripted::status(
            200,
            r#"{"serial_number":"c02mine00001","response_status":"SUCCESS"}"#,
        )],
    );
    assert!(env.client.activation_lock(&request).await.is_ok());
}
