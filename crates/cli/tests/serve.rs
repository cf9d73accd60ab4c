//! `alb serve` as a process: it answers, stops cleanly on SIGTERM under load (exit 0) with every
//! acknowledged event in the store afterwards; `alb command ClearPasscode --device` takes the
//! token from the store.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use alloc::sync::Arc;
use core::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    sync::Mutex,
};

use base64::Engine as _;

use crate::flow::{Operator, json, text};

const KEY: &str = "serve-test-key-0123456789";

/// One webhook POST on its own connection: the status, or `None` when the service is gone.
fn post(addr: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split(' ').nth(1)?.parse().ok()
}

fn event(n: usize) -> (String, String, Vec<u8>) {
    let udid = format!("SERVE-{n:05}");
    let code = bypass_code::BypassCode::generate().unwrap().to_string();
    let payload = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict>\
         <key>UDID</key><string>{udid}</string><key>CommandUUID</key><string>c{n}</string>\
         <key>Status</key><string>Acknowledged</string>\
         <key>ActivationLockBypassCode</key><string>{code}</string></dict></plist>"
    );
    let body = serde_json::to_vec(&serde_json::json!({
        "topic": "mdm.Connect",
        "event_id": "",
        "created_at": "2026-12-02T05:00:00Z",
        "acknowledge_event": {
            "udid": udid,
            "status": "Acknowledged",
            "command_uuid": format!("c{n}"),
            "raw_payload": base64::engine::general_purpose::STANDARD.encode(payload),
        },
    }))
    .unwrap();
    (udid, code, body)
}

/// Starts `alb serve` on a free port; returns the process and its address.
fn serve(operator: &Operator) -> (std::process::Child, String) {
    let keys = operator.save("api-keys", format!("{KEY}\n").as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_alb"))
        .args(operator.store_args())
        .args(["serve", "--listen", "127.0.0.1:0", "--api-key-file"])
        .arg(&keys)
        .env_remove("ALB_STORE")
        .env_remove("ALB_STORE_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    (child, addr)
}

fn stop(mut child: std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
}

fn checkin(topic: &str, udid: &str, payload: &[u8], tally: Option<u64>) -> Vec<u8> {
    let mut event = serde_json::json!({
        "topic": topic,
        "created_at": "2026-12-02T05:00:00Z",
        "checkin_event": {
            "udid": udid,
            "raw_payload": base64::engine::general_purpose::STANDARD.encode(payload),
        },
    });
    if let Some(tally) = tally {
        event["checkin_event"]["token_update_tally"] = tally.into();
    }
    serde_json::to_vec(&event).unwrap()
}

#[test]
fn missing_shows_who_is_to_be_asked() {
    let operator = Operator::new();
    let (child, addr) = serve(&operator);
    let device = alb_testbed::SimulatedDevice::new(9);
    let authenticate = checkin(
        "mdm.Authenticate",
        &device.udid,
        &device.authenticate(),
        None,
    );
    let token_update = checkin(
        "mdm.TokenUpdate",
        &device.udid,
        &device.token_update(),
        Some(1),
    );
    assert_eq!(post(&addr, &authenticate), Some(200));
    assert_eq!(post(&addr, &token_update), Some(200));
    stop(child);
    let missing = operator.ok(&["missing"]);
    assert!(
        missing.contains(&device.udid) && missing.contains("to be asked"),
        "{missing}"
    );
    let json = operator.ok(&["missing", "--json"]);
    assert!(json.contains("\"asked\":\"to be asked"), "{json}");
}

#[test]
fn sigterm_under_load_keeps_every_acknowledged_event() {
    let operator = Operator::new();
    let (child, addr) = serve(&operator);
    let acknowledged = Arc::new(Mutex::new(HashMap::new()));
    let stopping = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (addr, acknowledged, stopping) =
                (addr.clone(), acknowledged.clone(), stopping.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let (udid, code, body) = event(w * 100_000 + i);
                    match post(&addr, &body) {
                        Some(200) => {
                            acknowledged.lock().unwrap().insert(udid, code);
                        }
                        Some(status) => assert_eq!(status, 503, "only a refusal while stopping"),
                        None if stopping.load(Ordering::SeqCst) => return,
                        None => panic!("the service went away before SIGTERM"),
                    }
                }
            })
        })
        .collect();
    // Let the load build up, then stop the service in the middle of it.
    while acknowledged.lock().unwrap().len() < 1000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    stopping.store(true, Ordering::SeqCst);
    stop(child);
    for worker in workers {
        worker.join().unwrap();
    }
    // Every event answered 200 is in the store.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let exported = operator.ok(&["export", "--reveal"]);
    let stored: HashMap<String, String> = exported
        .lines()
        .map(json)
        .map(|r| {
            (
                r["udid"].as_str().unwrap().to_owned(),
                r["device_code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(acknowledged.len() >= 1000);
    for (udid, code) in &acknowledged {
        assert_eq!(
            stored.get(udid),
            Some(code),
            "{udid} was acknowledged but is not stored"
        );
    }
}

#[test]
fn clear_passcode_takes_the_token_from_the_store() {
    let operator = Operator::new();
    let mut device = alb_testbed::SimulatedDevice::new(7);
    let update = operator.save("token-update.plist", &device.token_update());
    let output = operator.alb(&["ingest", update.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let command = operator.alb(&["command", "ClearPasscode", "--device", &device.udid]);
    assert!(command.status.success(), "{}", text(&command.stderr));
    // The device accepts it: the token is its own.
    let answer = device.respond(&command.stdout).unwrap();
    assert!(
        text(&answer).contains("<string>Acknowledged</string>"),
        "{}",
        text(&answer)
    );
    let unknown = operator.alb(&["command", "ClearPasscode", "--device", "NO-SUCH-DEVICE"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("no device"),
        "{}",
        text(&unknown.stderr)
    );
    let other = operator.alb(&["command", "DeviceLock", "--device", &device.udid]);
    assert!(!other.status.success());
}
