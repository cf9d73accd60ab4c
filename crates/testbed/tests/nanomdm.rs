//! The NanoMDM stand-in: its API's authentication and replies, the webhook events it posts for
//! simulated devices, and an unlock through it with `escrow-client`'s NanoMDM route.

use std::time::Duration;

use alb_test_support::{RecordingServer, Reply};
use alb_testbed::{Fleet, NanoMdm, SimulatedDevice, nanomdm::PUSH_TOPIC};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use escrow_client::{
    CodeSource, EscrowClient, EscrowConfig, NanoMdmRelay, RetryPolicy, UnlockRequest, Verdict,
};
use plist::{Dictionary, Value};
use serde_json::Value as Json;
use zeroize::Zeroizing;

const KEY: &str = "nanomdm-api-key";

fn command(uuid: &str, request_type: &str) -> Vec<u8> {
    let mut inner = Dictionary::new();
    inner.insert("RequestType".into(), request_type.into());
    let mut envelope = Dictionary::new();
    envelope.insert("Command".into(), Value::Dictionary(inner));
    envelope.insert("CommandUUID".into(), uuid.into());
    let mut out = Vec::new();
    Value::Dictionary(envelope).to_writer_xml(&mut out).unwrap();
    out
}

/// A raw HTTP/1.1 exchange with the stand-in: `(status, body)`.
async fn call(
    nanomdm: &NanoMdm,
    method: &str,
    target: &str,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = nanomdm.url().trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((user, password)) = auth {
        let token = STANDARD.encode(format!("{user}:{password}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// A webhook receiver: records every body, answers 200.
async fn receiver() -> RecordingServer {
    let server = RecordingServer::start_plain([]).await.unwrap();
    server.set_after_script(Reply::with_body(200, ""));
    server
}

fn events(receiver: &RecordingServer) -> Vec<Json> {
    receiver
        .requests()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

fn raw_payload(event: &Json, key: &str) -> Dictionary {
    let raw = STANDARD
        .decode(event[key]["raw_payload"].as_str().unwrap())
        .unwrap();
    plist::from_bytes(&raw).unwrap()
}

async fn setup() -> (Fleet, String, NanoMdm, RecordingServer) {
    let fleet = Fleet::new();
    let device = SimulatedDevice::new(7);
    let udid = device.udid.clone();
    fleet.add(device);
    let nanomdm = NanoMdm::start(fleet.clone(), KEY).await.unwrap();
    let receiver = receiver().await;
    nanomdm.set_webhook(&receiver.base_url()).unwrap();
    (fleet, udid, nanomdm, receiver)
}

#[tokio::test]
async fn the_api_wants_the_key() {
    let (_fleet, udid, nanomdm, _receiver) = setup().await;
    let target = format!("/v1/enqueue/{udid}");
    let body = command("0001", "DeviceInformation");
    for auth in [None, Some(("nanomdm", "wrong")), Some(("admin", KEY))] {
        let (status, text) = call(&nanomdm, "PUT", &target, auth, &body).await;
        assert_eq!((status, text.as_str()), (401, "Unauthorized\n"), "{auth:?}");
    }
    let (status, _) = call(&nanomdm, "POST", "/v1/escrowkeyunlock", None, b"").await;
    assert_eq!(status, 401);
    assert!(nanomdm.enqueued().is_empty());
    let unauthorized = &nanomdm.requests()[0];
    assert_eq!(unauthorized.method, "PUT");
}

#[tokio::test]
async fn enqueue_replies_as_nanomdm() {
    let (_fleet, udid, nanomdm, _receiver) = setup().await;
    let auth = Some(("nanomdm", KEY));
    let body = command("CMD-1", "ActivationLockBypassCode");

    let target = format!("/v1/enqueue/{udid}?nopush=1");
    let (status, text) = call(&nanomdm, "PUT", &target, auth, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        text,
        "{\n\t\"no_push\": true,\n\t\"command_uuid\": \"CMD-1\",\n\t\"request_type\": \
         \"ActivationLockBypassCode\"\n}\n"
    );

    nanomdm.enroll(&udid).await.unwrap();
    let target = format!("/v1/enqueue/{udid},NOT-ENROLLED");
    let (status, text) = call(&nanomdm, "PUT", &target, auth, &command("CMD-2", "X")).await;
    assert_eq!(status, 207);
    let reply: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(reply["command_uuid"], "CMD-2");
    assert_eq!(reply["request_type"], "X");
    assert_eq!(
        reply["status"][&udid]["push_result"]
            .as_str()
            .unwrap()
            .len(),
        36
    );
    assert!(reply["status"]["NOT-ENROLLED"]["push_error"].is_string());
    assert!(reply.get("no_push").is_none());

    let (status, text) = call(
        &nanomdm,
        "PUT",
        &format!("/v1/enqueue/{udid}"),
        auth,
        b"<x/>",
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        text.contains("\"command_error\": \"decoding command"),
        "{text}"
    );

    let enqueued = nanomdm.enqueued();
    assert_eq!(enqueued.len(), 3);
    assert_eq!(enqueued[0].id, udid);
    assert_eq!(enqueued[0].command_uuid, "CMD-1");
    assert_eq!(enqueued[0].request_type, "ActivationLockBypassCode");
    assert_eq!(enqueued[0].body, body);
    assert!(enqueued[0].no_push);
    assert_eq!(enqueued[2].id, "NOT-ENROLLED");
    assert_eq!(nanomdm.queued(&udid), ["CMD-1", "CMD-2"]);
}

#[tokio::test]
async fn enrolment_posts_nanomdm_checkin_events() {
    let (fleet, udid, nanomdm, receiver) = setup().await;
    assert_eq!(nanomdm.enroll(&udid).await.unwrap(), [200, 200]);
    assert_eq!(nanomdm.token_update(&udid).await.unwrap(), 200);
    assert_eq!(nanomdm.enroll(&udid).await.unwrap(), [200, 200]);

    let requests = receiver.requests();
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let events = events(&receiver);
    let topics: Vec<&str> = events
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        [
            "mdm.Authenticate",
            "mdm.TokenUpdate",
            "mdm.TokenUpdate",
            "mdm.Authenticate",
            "mdm.TokenUpdate"
        ]
    );
    let tallies: Vec<Option<i64>> = events
        .iter()
        .map(|e| e["checkin_event"]["token_update_tally"].as_i64())
        .collect();
    assert_eq!(tallies, [None, Some(1), Some(2), None, Some(1)]);
    let first = &events[0];
    assert!(first.get("acknowledge_event").is_none());
    assert_eq!(first["checkin_event"]["udid"], udid.as_str());
    assert_eq!(first["checkin_event"]["ids"]["id"], udid.as_str());
    assert_eq!(first["checkin_event"]["ids"]["type"], "Device");
    assert!(first["checkin_event"].get("enrollment_id").is_none());
    assert!(first["checkin_event"].get("url_params").is_none());
    assert_eq!(first["event_id"].as_str().unwrap().len(), 16);
    let created = first["created_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created}"
    );
    let expected = fleet.with_udid(&udid, |d| d.authenticate()).unwrap();
    let raw = STANDARD
        .decode(first["checkin_event"]["raw_payload"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, expected);
    assert_eq!(
        raw_payload(&events[1], "checkin_event")["MessageType"],
        "TokenUpdate".into()
    );
    // Fields in Go's order (alphabetical): the bytes start with the checkin event.
    assert!(
        requests[0]
            .body
            .starts_with(b"{\"checkin_event\":{\"ids\":")
    );
}

#[tokio::test]
async fn delivery_posts_the_devices_answers_and_not_now_keeps_the_command() {
    let (fleet, udid, nanomdm, receiver) = setup().await;
    nanomdm.enroll(&udid).await.unwrap();
    let auth = Some(("nanomdm", KEY));
    let target = format!("/v1/enqueue/{udid}");
    call(
        &nanomdm,
        "PUT",
        &target,
        auth,
        &command("CMD-A", "ActivationLockBypassCode"),
    )
    .await;

    nanomdm.set_busy(&udid, 1);
    let delivery = nanomdm.deliver().await.unwrap();
    assert_eq!(delivery.delivered.len(), 1);
    assert_eq!(delivery.delivered[0].status, "NotNow");
    assert_eq!(delivery.delivered[0].webhook_status, 200);
    assert_eq!(nanomdm.queued(&udid), ["CMD-A"], "NotNow keeps it queued");

    let delivery = nanomdm.deliver().await.unwrap();
    assert_eq!(delivery.delivered[0].status, "Acknowledged");
    assert_eq!(delivery.delivered[0].command_uuid, "CMD-A");
    assert_eq!(
        delivery.delivered[0].request_type,
        "ActivationLockBypassCode"
    );
    assert!(nanomdm.queued(&udid).is_empty());
    assert!(nanomdm.deliver().await.unwrap().delivered.is_empty());

    let events = events(&receiver);
    let not_now = &events[2];
    assert_eq!(not_now["topic"], "mdm.Connect");
    assert!(not_now.get("checkin_event").is_none());
    assert_eq!(not_now["acknowledge_event"]["status"], "NotNow");
    let answer = &events[3]["acknowledge_event"];
    assert_eq!(answer["command_uuid"], "CMD-A");
    assert_eq!(answer["udid"], udid.as_str());
    assert_eq!(answer["status"], "Acknowledged");
    let response = raw_payload(&events[3], "acknowledge_event");
    assert_eq!(response["CommandUUID"], "CMD-A".into());
    let code = fleet
        .with_udid(&udid, |d| d.active_code().unwrap().to_string())
        .unwrap();
    assert_eq!(response["ActivationLockBypassCode"], code.into());

    assert_eq!(nanomdm.idle(&udid).await.unwrap(), 200);
    let idle = &events_last(&receiver)["acknowledge_event"];
    assert_eq!(idle["status"], "Idle");
    assert!(idle.get("command_uuid").is_none());
}

fn events_last(receiver: &RecordingServer) -> Json {
    events(receiver).pop().unwrap()
}

#[tokio::test]
async fn the_webhook_gets_credentials_and_its_status_is_reported() {
    let (_fleet, udid, nanomdm, receiver) = setup().await;
    let with_credentials = receiver
        .base_url()
        .replace("http://", "http://hook:p%40ss@");
    nanomdm
        .set_webhook(&format!("{with_credentials}/events"))
        .unwrap();
    receiver.push_replies([Reply::status(500)]);
    assert_eq!(nanomdm.enroll(&udid).await.unwrap(), [500, 200]);
    assert_eq!(nanomdm.post_raw(b"{\"topic\":\"x\"}").await.unwrap(), 200);
    let requests = receiver.requests();
    assert_eq!(requests[0].path, "/events");
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Basic {}", STANDARD.encode("hook:p@ss")).as_str())
    );
    assert_eq!(requests[2].body, b"{\"topic\":\"x\"}");
    assert!(nanomdm.set_webhook("https://example.com").is_err());
}

fn unlock_form(serial: &str, code: &str, topic: &str) -> Vec<u8> {
    format!(
        "topic={topic}&serial={serial}&productType=iPad8%2C1&orgName=Example&guid=admin&\
         escrowKey={code}"
    )
    .into_bytes()
}

#[tokio::test]
async fn escrow_key_unlock_decides_from_the_fleet() {
    let (fleet, udid, nanomdm, _receiver) = setup().await;
    let serial = fleet.with_udid(&udid, |d| {
        d.lock();
        d.serial.clone()
    });
    let serial = serial.unwrap();
    let code = fleet
        .with_udid(&udid, |d| d.active_code().unwrap().to_string())
        .unwrap();
    let auth = Some(("nanomdm", KEY));
    let path = "/v1/escrowkeyunlock";

    let wrong = unlock_form(&serial, "A8QK7-GFG21-6RHT-V0U9-756P-L7E3", PUSH_TOPIC);
    assert_eq!(call(&nanomdm, "POST", path, auth, &wrong).await.0, 404);
    let (status, text) = call(
        &nanomdm,
        "POST",
        path,
        auth,
        &unlock_form(&serial, &code, ""),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "{\n\t\"error\": \"empty topic\"\n}\n")
    );
    let (status, _) = call(&nanomdm, "POST", path, auth, b"serial=X").await;
    assert_eq!(status, 400);
    assert_eq!(call(&nanomdm, "POST", path, None, &wrong).await.0, 401);
    nanomdm.inject([Reply::status(500)]);
    let right = unlock_form(&serial, &code, PUSH_TOPIC);
    assert_eq!(call(&nanomdm, "POST", path, auth, &right).await.0, 500);
    assert_eq!(fleet.with_udid(&udid, |d| d.is_locked()), Some(true));
    assert_eq!(call(&nanomdm, "POST", path, auth, &right).await.0, 200);
    assert_eq!(fleet.with_udid(&udid, |d| d.is_locked()), Some(false));
    assert_eq!(nanomdm.unlock_requests().len(), 6);
}

#[tokio::test]
async fn escrow_client_unlocks_through_the_stand_in() {
    let (fleet, udid, nanomdm, _receiver) = setup().await;
    let (serial, product_type, code) = fleet
        .with_udid(&udid, |d| {
            d.lock();
            (
                d.serial.clone(),
                d.product_type.clone(),
                d.active_code().unwrap().clone(),
            )
        })
        .unwrap();
    let config = EscrowConfig {
        attempt_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_tries: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        },
        ..EscrowConfig::default()
    };
    let relay = NanoMdmRelay::new(nanomdm.url(), Zeroizing::new(KEY.to_owned()), PUSH_TOPIC);
    let client = EscrowClient::through_nanomdm(config, relay).unwrap();
    let request = UnlockRequest::builder()
        .serial(serial)
        .product_type(product_type)
        .org_name("Example")
        .guid("admin")
        .build()
        .unwrap();
    let stale = escrow_client::BypassCode::from([7; 16]);
    nanomdm.inject([Reply::status(503)]);
    let codes = [(CodeSource::Server, &stale), (CodeSource::Device, &code)];
    let outcome = client.unlock_with_fallback(&request, &codes).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Device
        }
    );
    assert_eq!(
        outcome.attempts.len(),
        3,
        "503 retried, 404, then the device code"
    );
    assert_eq!(fleet.with_udid(&udid, |d| d.is_locked()), Some(false));
}
