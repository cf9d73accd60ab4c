//! Webhooks and keys: what is taken, what is refused (precisely), and what changes nothing.

use core::time::Duration;
use std::sync::Arc;

use alb_serve::{Limits, ServiceConfig};
use code_store::{CodeStore, MemoryStore, Protection, Udid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    READER, REVEALER, Running, WRITER, authenticate, bearer, bypass_code_response, call,
    checkin_event, connect_event, keys,
};

const CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";

async fn service(limits: Limits) -> (Running, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(Protection::Cleartext));
    let mut config = ServiceConfig::new(keys());
    config.limits = limits;
    (Running::start(store.clone(), config).await, store)
}

#[tokio::test]
async fn no_key_no_access_and_nothing_changes() {
    let (running, store) = service(Limits::default()).await;
    let url = &running.url;
    let (status, body) = call("GET", &format!("{url}/healthz"), None, "").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let event = connect_event(
        "UDID-1",
        "Acknowledged",
        "c1",
        &bypass_code_response("UDID-1", "c1", Some(CODE)),
    );
    for auth in [
        None,
        bearer("wrong-key-0123456789"),
        bearer(&WRITER[..WRITER.len() - 1]),
    ] {
        let (status, body) = call(
            "POST",
            &format!("{url}/webhook"),
            auth.clone(),
            event.clone(),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["kind"], "unauthorized");
        let (status, _) = call("GET", &format!("{url}/v1/missing"), auth, "").await;
        assert_eq!(status, 401);
    }
    // A read-only key reads, and changes nothing.
    let (status, body) = call(
        "POST",
        &format!("{url}/webhook"),
        bearer(READER),
        event.clone(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(store.records().await.unwrap().is_empty());
    // Basic (NanoMDM's webhook URL credentials) works for the webhook only.
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("nanomdm:{WRITER}"))
    );
    let (status, _) = call("GET", &format!("{url}/v1/missing"), Some(basic.clone()), "").await;
    assert_eq!(status, 401);
    let (status, body) = call("POST", &format!("{url}/webhook"), Some(basic), event).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
    // The record shows no secret unless the key may reveal.
    let (status, body) = call(
        "GET",
        &format!("{url}/v1/devices/UDID-1"),
        bearer(READER),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.to_string().contains(CODE), "{body}");
    let (_, body) = call(
        "GET",
        &format!("{url}/v1/devices/UDID-1"),
        bearer(REVEALER),
        "",
    )
    .await;
    assert!(body.to_string().contains(CODE), "{body}");
    running.stop().await;
}

#[tokio::test]
async fn malformed_webhooks_are_refused_precisely_and_change_nothing() {
    let (running, store) = service(Limits::default()).await;
    let hook = format!("{}/webhook", running.url);
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "not_json"),
        (br#"{"topic": "mdm.Connect", "acknowledge_event": {"udid": "U", "status": "Acknowledged", "raw_payload": "%%%"}}"#, "bad_base64"),
        (br#"{"topic": "mdm.TokenUpdate"}"#, "missing_field"),
        (br#"{"topic": 7}"#, "wrong_type"),
        (br#"[]"#, "wrong_type"),
    ];
    for (body, kind) in cases {
        let (status, answer) = call("POST", &hook, bearer(WRITER), body.to_vec()).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["kind"], kind, "{answer}");
    }
    // A property list that is not an MDM message.
    let not_a_message = checkin_event(
        "mdm.Authenticate",
        "U",
        b"<plist version=\"1.0\"><array/></plist>",
        None,
    );
    let (status, answer) = call("POST", &hook, bearer(WRITER), not_a_message).await;
    assert_eq!(
        (status, answer["error"]["kind"].as_str()),
        (400, Some("bad_payload")),
        "{answer}"
    );
    // Unknown topics and user channels: 200, ignored.
    let (status, answer) = call(
        "POST",
        &hook,
        bearer(WRITER),
        br#"{"topic": "mdm.SomethingNew", "x": 1}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    let user = b"<plist version=\"1.0\"><dict><key>MessageType</key><string>TokenUpdate</string>\
        <key>UDID</key><string>UDID-2</string><key>UserID</key><string>U-1</string>\
        <key>Topic</key><string>t</string><key>PushMagic</key><string>m</string>\
        <key>Token</key><data>AAAA</data></dict></plist>";
    let (status, answer) = call(
        "POST",
        &hook,
        bearer(WRITER),
        checkin_event("mdm.TokenUpdate", "UDID-2", user, Some(1)),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    assert!(store.records().await.unwrap().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing_the_second_time() {
    let (running, store) = service(Limits::default()).await;
    let hook = format!("{}/webhook", running.url);
    let events = [
        checkin_event(
            "mdm.Authenticate",
            "UDID-3",
            &authenticate("UDID-3", "C02XK1ABCD12"),
            None,
        ),
        connect_event(
            "UDID-3",
            "Acknowledged",
            "c3",
            &bypass_code_response("UDID-3", "c3", Some(CODE)),
        ),
    ];
    for event in &events {
        let (status, _) = call("POST", &hook, bearer(WRITER), event.clone()).await;
        assert_eq!(status, 200);
    }
    let udid = Udid::new("UDID-3").unwrap();
    let before = store.history(&udid).await.unwrap();
    for event in &events {
        let (status, _) = call("POST", &hook, bearer(WRITER), event.clone()).await;
        assert_eq!(status, 200);
    }
    assert_eq!(store.history(&udid).await.unwrap(), before);
    running.stop().await;
}

#[tokio::test]
async fn oversized_and_slow_requests_are_cut_off() {
    let limits = Limits {
        header_timeout: Duration::from_millis(400),
        body_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let (running, _store) = service(limits).await;
    let addr = running.url.trim_start_matches("http://").to_owned();
    // 100 MB announced: refused at once, without reading it.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!("POST /webhook HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {WRITER}\r\ncontent-length: 104857600\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(&[b'{'; 65536]).await.unwrap();
    let mut answer = vec![0; 1024];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // A chunked body with no length, over the limit.
    let big = vec![b' '; Limits::default().max_body + 10];
    let (status, reply) = call(
        "POST",
        &format!("{}/webhook", running.url),
        bearer(WRITER),
        big,
    )
    .await;
    assert_eq!(
        (status, reply["error"]["kind"].as_str()),
        (413, Some("too_large"))
    );
    // A body that never comes: 408 after the body timeout.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!("POST /webhook HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {WRITER}\r\ncontent-length: 100\r\n\r\n{{\"topic\"")
                .as_bytes(),
        )
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // Headers that never end: the connection is closed after the header timeout.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .unwrap();
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => assert!(
            String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        ),
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_commit_together_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = code_store::SqliteStore::open(dir.path().join("s.db"), Protection::Cleartext)
        .await
        .unwrap();
    let running = Running::start(Arc::new(store), ServiceConfig::new(keys())).await;
    let hook = format!("{}/webhook", running.url);
    let mut tasks = Vec::new();
    let codes: Vec<bypass_code::BypassCode> = (0..64)
        .map(|_| bypass_code::BypassCode::generate().unwrap())
        .collect();
    for (i, code) in codes.iter().enumerate() {
        let udid = format!("UDID-{i:03}");
        let event = connect_event(
            &udid,
            "Acknowledged",
            "c",
            &bypass_code_response(&udid, "c", Some(&code.to_string())),
        );
        let hook = hook.clone();
        tasks.push(tokio::spawn(async move {
            call("POST", &hook, bearer(WRITER), event).await.0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    // Every acknowledged delivery is durable: a new connection to the file sees them all.
    let reopened = code_store::SqliteStore::open(dir.path().join("s.db"), Protection::Cleartext)
        .await
        .unwrap();
    for (i, code) in codes.iter().enumerate() {
        let record = reopened
            .record(&Udid::new(&format!("UDID-{i:03}")).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.device_code.unwrap().code, *code);
    }
    let metrics = running.metrics.render();
    assert!(metrics.contains("alb_commit_members_total 64"), "{metrics}");
    running.stop().await;
}
