//! `alb unlock` against a loopback HTTPS server that requires the client certificate.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use alb_test_support::{ConnectProxy, RecordingServer, Reply, TestPki};
use bypass_code::BypassCode;
use code_store::{
    AttemptOutcome, Change, CodeKind, CodeStore, DeviceIdentity, Event, Protection, SqliteStore,
    Timestamp, Udid,
};

const DEVICE_CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
const SERVER_CODE: &str = "04JMA-TW9NG-6YY0-938N-LRLA-YEX7";

/// A PKI written to files, as an operator would have them.
struct Files {
    _dir: tempfile::TempDir,
    identity_pem: PathBuf,
    identity_p12: PathBuf,
    ca: PathBuf,
}

fn files(pki: &TestPki) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let identity_pem = dir.path().join("apns.pem");
    let identity_p12 = dir.path().join("apns.p12");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&identity_pem, pki.client.identity_pem()).unwrap();
    std::fs::write(&identity_p12, pki.client.pkcs12("p12 pass")).unwrap();
    std::fs::write(&ca, &pki.server_ca.cert_pem).unwrap();
    Files {
        _dir: dir,
        identity_pem,
        identity_p12,
        ca,
    }
}

fn base_args(server: &RecordingServer, identity: &Path, ca: &Path) -> Vec<String> {
    [
        "unlock",
        "--org-name",
        "Example & Sons, Ltd.",
        "--guid",
        "ops+lock@example.com",
        "--identity",
        identity.to_str().unwrap(),
        "--ca-file",
        ca.to_str().unwrap(),
        "--endpoint",
        &server.url(),
        "--serial",
        "DMPXK0ABCD12",
        "--product-type",
        "iPad4,1",
        "--attempt-timeout",
        "2",
        "--deadline",
        "5",
    ]
    .iter()
    .map(|&s| s.to_owned())
    .collect()
}

/// Runs `alb` on a blocking thread so the test's runtime keeps serving.
async fn alb(args: Vec<String>, env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_alb"));
        // Direct unless the test says otherwise: no proxy of the environment.
        crate::flow::direct(&mut command);
        command
            .args(&args)
            .env_remove("ALB_STORE")
            .env_remove("ALB_STORE_KEY")
            .envs(env)
            .output()
            .expect("alb runs")
    })
    .await
    .unwrap()
}

/// Runs `alb` with `input` on its standard input.
async fn alb_with_stdin(args: Vec<String>, input: &str) -> Output {
    use std::{io::Write as _, process::Stdio};
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_alb"))
            .args(&args)
            .env_remove("ALB_STORE")
            .env_remove("ALB_STORE_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("alb runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn falls_back_to_the_second_code_and_says_which_worked() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)])
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    args.extend(["--code", DEVICE_CODE, "--code", SERVER_CODE, "--json"].map(str::to_owned));

    let output = alb(args, &[]).await;

    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["unlocked"], true);
    assert_eq!(report["code"], "supplied-2");
    assert_eq!(report["attempts"][0]["status"], 404);
    assert_eq!(report["attempts"][1]["status"], 200);
    assert_eq!(report["attempts"].as_array().unwrap().len(), 2);
    assert!(!stdout.contains(DEVICE_CODE) && !stdout.contains(SERVER_CODE));

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].query.as_deref(),
        Some("serial=DMPXK0ABCD12&productType=iPad4%2C1")
    );
    assert_eq!(
        text(&requests[1].body),
        format!(
            "orgName=Example%20%26%20Sons%2C%20Ltd.&guid=ops%2Block%40example.com&escrowKey={SERVER_CODE}"
        )
    );
}

#[tokio::test]
async fn a_pkcs12_identity_works_with_its_password_from_the_environment() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_p12, &files.ca);
    args.extend(
        [
            "--identity-password-env",
            "ALB_TEST_P12_PASSWORD",
            "--code",
            DEVICE_CODE,
        ]
        .map(str::to_owned),
    );

    let output = alb(args.clone(), &[("ALB_TEST_P12_PASSWORD", "p12 pass")]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).ends_with("unlocked with the code #1\n"),
        "{}",
        text(&output.stdout)
    );

    let wrong = alb(args.clone(), &[("ALB_TEST_P12_PASSWORD", "nope")]).await;
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("wrong PKCS#12 password"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!text(&wrong.stderr).contains("nope"));

    let mut no_password = base_args(&server, &files.identity_p12, &files.ca);
    no_password.extend(["--code", DEVICE_CODE].map(str::to_owned));
    let output = alb(no_password, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--identity-password-env"),
        "{}",
        text(&output.stderr)
    );

    let unset = alb(args.clone(), &[]).await;
    assert_eq!(unset.status.code(), Some(2));
    assert!(
        text(&unset.stderr).contains("ALB_TEST_P12_PASSWORD"),
        "{}",
        text(&unset.stderr)
    );
    assert_eq!(
        server.requests().len(),
        1,
        "nothing sent with a bad identity"
    );
}

#[tokio::test]
async fn every_code_refused_exits_non_zero_with_the_reason() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(404)])
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    args.extend(["--code", DEVICE_CODE, "--code", SERVER_CODE].map(str::to_owned));

    let output = alb(args, &[]).await;

    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("code #1 (try 1): HTTP 404"), "{stdout}");
    assert!(stdout.contains("code #2 (try 1): HTTP 404"), "{stdout}");
    assert!(
        text(&output.stderr).contains("every code was refused (404"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn http_endpoints_and_bad_input_are_refused_before_any_request() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();

    let mut http = base_args(&server, &files.identity_pem, &files.ca);
    let at = http.iter().position(|a| a == "--endpoint").unwrap();
    http[at + 1] = server.url().replacen("https://", "http://", 1);
    http.extend(["--code", DEVICE_CODE].map(str::to_owned));
    let output = alb(http, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("must use https://"),
        "{}",
        text(&output.stderr)
    );

    let mut bad_code = base_args(&server, &files.identity_pem, &files.ca);
    bad_code.extend(["--code", "A8QK7-GFB21-6RHT-V0U9-756P-L7E3"].map(str::to_owned));
    let output = alb(bad_code, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("code #1"), "{stderr}");
    assert!(!stderr.contains("GFB21"), "{stderr}");

    let mut bad_imei = base_args(&server, &files.identity_pem, &files.ca);
    bad_imei.extend(["--imei", "490154203237517", "--code", DEVICE_CODE].map(str::to_owned));
    let output = alb(bad_imei, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("`imei` is not valid"),
        "{}",
        text(&output.stderr)
    );

    let no_codes = base_args(&server, &files.identity_pem, &files.ca);
    let output = alb(no_codes, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no code to try"),
        "{}",
        text(&output.stderr)
    );

    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pki = TestPki::new();
    let stranger = TestPki::new();
    let files = files(&pki);
    let stranger_files = self::files(&stranger);
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let mut args = base_args(&server, &stranger_files.identity_pem, &files.ca);
    args.extend(["--code", DEVICE_CODE].map(str::to_owned));

    let output = alb(args, &[]).await;

    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("TLS handshake failed"),
        "{}",
        text(&output.stderr)
    );
    assert!(server.requests().is_empty());
    assert!(server.handshake_failures() >= 1);
}

const UDID: &str = "00008030-001A2B3C4D5E6F70";

/// A SQLite store (cleartext: a throw-away test store) holding one device with both codes.
async fn seeded_store(path: &Path) -> Udid {
    seeded_store_with_imei(path, "490154203237518").await
}

/// [`seeded_store`] with the device's IMEI as it reported it.
async fn seeded_store_with_imei(path: &Path, imei: &str) -> Udid {
    let store = SqliteStore::open(path, Protection::Cleartext)
        .await
        .unwrap();
    let udid = Udid::new(UDID).unwrap();
    let identity = DeviceIdentity {
        serial_number: Some("DMPXK0ABCD12".to_owned()),
        product_type: Some("iPhone10,3".to_owned()),
        imei: Some(imei.to_owned()),
        ..DeviceIdentity::default()
    };
    let device: BypassCode = DEVICE_CODE.parse().unwrap();
    let server: BypassCode = SERVER_CODE.parse().unwrap();
    let now = Timestamp::now();
    store
        .apply(&udid, Change::Identity(identity), now)
        .await
        .unwrap();
    let escrow_key = server.escrow_key();
    store
        .apply(
            &udid,
            Change::ServerCode {
                code: server,
                escrow_key,
            },
            now,
        )
        .await
        .unwrap();
    store
        .apply(&udid, Change::DeviceCode(Some(device)), now)
        .await
        .unwrap();
    udid
}

/// `alb unlock DEVICE --store sqlite:DB --cleartext` with the requester options only.
fn store_args(server: &RecordingServer, files: &Files, db: &Path, device: &str) -> Vec<String> {
    [
        "unlock",
        device,
        "--store",
        &format!("sqlite:{}", db.display()),
        "--cleartext",
        "--org-name",
        "Example & Sons, Ltd.",
        "--guid",
        "ops+lock@example.com",
        "--identity",
        files.identity_pem.to_str().unwrap(),
        "--ca-file",
        files.ca.to_str().unwrap(),
        "--endpoint",
        &server.url(),
        "--attempt-timeout",
        "2",
        "--deadline",
        "5",
    ]
    .iter()
    .map(|&s| s.to_owned())
    .collect()
}

async fn unlock_history(db: &Path, udid: &Udid) -> Vec<(CodeKind, AttemptOutcome)> {
    let store = SqliteStore::open(db, Protection::Cleartext).await.unwrap();
    store
        .history(udid)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|entry| match entry.event {
            Event::UnlockAttempted { code, outcome } => Some((code, outcome)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn stored_codes_are_tried_device_first_and_every_attempt_is_recorded() {
    let pki = TestPki::new();
    let files = files(&pki);
    let db = files._dir.path().join("store.sqlite3");
    let udid = seeded_store(&db).await;
    let server = RecordingServer::start(
        &pki,
        [Reply::status(404), Reply::status(500), Reply::status(200)],
    )
    .await
    .unwrap();
    let mut args = store_args(&server, &files, &db, UDID);
    args.push("--json".to_owned());

    let output = alb(args, &[]).await;

    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    assert_eq!(report["code"], "server");
    let codes: Vec<&str> = report["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["device", "server", "server"]);

    // The identity came from the store: serial, product type and IMEI in the query.
    let requests = server.requests();
    assert_eq!(
        requests[0].query.as_deref(),
        Some("serial=DMPXK0ABCD12&productType=iPhone10%2C3&imei=490154203237518")
    );
    assert!(text(&requests[0].body).ends_with(&format!("escrowKey={DEVICE_CODE}")));
    assert!(text(&requests[1].body).ends_with(&format!("escrowKey={SERVER_CODE}")));

    assert_eq!(
        unlock_history(&db, &udid).await,
        [
            (CodeKind::Device, AttemptOutcome::Rejected),
            (CodeKind::Server, AttemptOutcome::Failed),
            (CodeKind::Server, AttemptOutcome::Unlocked),
        ]
    );
    let store = SqliteStore::open(&db, Protection::Cleartext).await.unwrap();
    let record = store.record(&udid).await.unwrap().unwrap();
    let last = record.last_unlock.unwrap();
    assert_eq!(
        (last.code, last.outcome),
        (CodeKind::Server, AttemptOutcome::Unlocked)
    );
}

#[tokio::test]
async fn a_device_is_found_by_serial_and_a_failure_is_recorded() {
    let pki = TestPki::new();
    let files = files(&pki);
    let db = files._dir.path().join("store.sqlite3");
    let udid = seeded_store(&db).await;
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(404)])
        .await
        .unwrap();

    let output = alb(store_args(&server, &files, &db, "DMPXK0ABCD12"), &[]).await;

    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("device code (try 1): HTTP 404"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stdout).contains("server code (try 1): HTTP 404"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(
        unlock_history(&db, &udid).await,
        [
            (CodeKind::Device, AttemptOutcome::Rejected),
            (CodeKind::Server, AttemptOutcome::Rejected),
        ]
    );
}

#[tokio::test]
async fn a_device_the_store_does_not_know_needs_the_options() {
    let pki = TestPki::new();
    let files = files(&pki);
    let db = files._dir.path().join("store.sqlite3");
    seeded_store(&db).await;
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();

    let unknown = alb(store_args(&server, &files, &db, "F2LXK0ZZZZ99"), &[]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("has no record of F2LXK0ZZZZ99"),
        "{}",
        text(&unknown.stderr)
    );

    let mut described = store_args(&server, &files, &db, "F2LXK0ZZZZ99");
    described.extend(
        [
            "--serial",
            "F2LXK0ZZZZ99",
            "--product-type",
            "iPad4,1",
            "--code",
            DEVICE_CODE,
        ]
        .map(str::to_owned),
    );
    let output = alb(described, &[]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let store = SqliteStore::open(&db, Protection::Cleartext).await.unwrap();
    assert!(
        store.find("F2LXK0ZZZZ99").await.unwrap().is_empty(),
        "no record is invented"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn codes_can_come_from_standard_input() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)])
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    args.push("--code-stdin".to_owned());

    let output = alb_with_stdin(
        args.clone(),
        &format!("{DEVICE_CODE}\n\n  {SERVER_CODE}  \n"),
    )
    .await;

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).ends_with("unlocked with the code #2\n"),
        "{}",
        text(&output.stdout)
    );
    let requests = server.requests();
    assert!(text(&requests[1].body).ends_with(&format!("escrowKey={SERVER_CODE}")));

    let too_many = format!("{DEVICE_CODE}\n").repeat(17);
    let output = alb_with_stdin(args, &too_many).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("more than 16 codes"),
        "{}",
        text(&output.stderr)
    );
}

/// A real device reports its IMEI with spaces (Apple's example `35 735005 003432 4`, whose check
/// digit does not match): stored as reported, the unlock by serial sends the 15 digits.
#[tokio::test]
async fn an_imei_reported_with_spaces_is_sent_as_fifteen_digits() {
    let pki = TestPki::new();
    let files = files(&pki);
    let db = files._dir.path().join("store.sqlite3");
    seeded_store_with_imei(&db, "35 735005 003432 4").await;
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();

    let output = alb(store_args(&server, &files, &db, "DMPXK0ABCD12"), &[]).await;

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        server.requests()[0].query.as_deref(),
        Some("serial=DMPXK0ABCD12&productType=iPhone10%2C3&imei=357350050034324")
    );

    // Typed with spaces and a valid check digit, it is accepted and sent the same way.
    let mut typed = base_args(&server, &files.identity_pem, &files.ca);
    typed.extend(["--imei", "35 209900 176148 1", "--code", DEVICE_CODE].map(str::to_owned));
    server.push_replies([Reply::status(200)]);
    let output = alb(typed, &[]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        server.requests()[1]
            .query
            .as_deref()
            .unwrap()
            .ends_with("&imei=352099001761481")
    );
}

/// The stored server code is tried whenever the device code ends without unlocking — here
/// Apple's service failing on every retry — and each code's verdict is printed and recorded.
#[tokio::test]
async fn the_server_code_is_tried_when_the_device_code_fails_for_any_reason() {
    let pki = TestPki::new();
    let files = files(&pki);
    let db = files._dir.path().join("store.sqlite3");
    let udid = seeded_store(&db).await;
    let server = RecordingServer::start(&pki, [Reply::status(503), Reply::status(400)])
        .await
        .unwrap();
    let mut args = store_args(&server, &files, &db, UDID);
    args.extend(["--max-tries", "1", "--json"].map(str::to_owned));
    // 503 for the device code (one try allowed), then 400 for the server code.
    let output = alb(args, &[]).await;

    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    let codes = report["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 2);
    assert_eq!(codes[0]["code"], "device");
    assert!(
        codes[0]["verdict"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    assert_eq!(codes[1]["code"], "server");
    assert!(
        codes[1]["verdict"]
            .as_str()
            .unwrap()
            .contains("malformed (400)")
    );
    assert_eq!(
        unlock_history(&db, &udid).await,
        [
            (CodeKind::Device, AttemptOutcome::Failed),
            (CodeKind::Server, AttemptOutcome::Failed),
        ]
    );

    // Run again: the device code now fails with 400, the server code unlocks.
    let mut args = store_args(&server, &files, &db, UDID);
    args.extend(["--max-tries", "1"].map(str::to_owned));
    server.push_replies([Reply::status(400), Reply::status(200)]);
    let output = alb(args, &[]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("device: not unlocked"), "{stdout}");
    assert!(
        stdout.contains("server: unlocked with the server code"),
        "{stdout}"
    );
}

/// No time limit given on the command line panics, however large.
#[tokio::test]
async fn huge_time_limits_are_accepted_without_overflow() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    for (option, value) in [("--deadline", "1e19"), ("--attempt-timeout", "1e19")] {
        let at = args.iter().position(|a| a == option).unwrap();
        args[at + 1] = value.to_owned();
    }
    args.extend(["--code", DEVICE_CODE].map(str::to_owned));
    let output = alb(args, &[]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));

    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    let at = args.iter().position(|a| a == "--deadline").unwrap();
    args[at + 1] = "1e300".to_owned();
    args.extend(["--code", DEVICE_CODE].map(str::to_owned));
    let output = alb(args, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--deadline"),
        "{}",
        text(&output.stderr)
    );
}

/// `HTTPS_PROXY` (with credentials in its URL) carries the unlock through a CONNECT tunnel, TLS
/// and the client certificate end to end inside it; `NO_PROXY` sends it direct; a proxy value
/// that cannot be used stops the unlock before any request, naming the variable.
#[tokio::test]
async fn the_unlock_goes_through_the_https_proxy_of_the_environment() {
    let pki = TestPki::new();
    let files = files(&pki);
    let server = RecordingServer::start(&pki, [Reply::status(200), Reply::status(200)])
        .await
        .unwrap();
    let proxy = ConnectProxy::start(Some(("ops", "pr0xy-pw")))
        .await
        .unwrap();
    let mut args = base_args(&server, &files.identity_pem, &files.ca);
    args.extend(["--code".to_owned(), DEVICE_CODE.to_owned()]);
    let with_credentials = format!("http://ops:pr0xy-pw@{}", proxy.addr());
    let server_at = server.url().split('/').nth(2).unwrap().to_owned();

    let output = alb(args.clone(), &[("HTTPS_PROXY", &with_credentials)]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tunnels = proxy.tunnels();
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert_eq!(tunnels[0].destination, server_at);
    assert!(tunnels[0].opened);
    assert_eq!(server.requests().len(), 1);

    // The lower-case spelling, and NO_PROXY naming the server's address: direct.
    let output = alb(
        args.clone(),
        &[
            ("https_proxy", &with_credentials),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(proxy.tunnels().len(), 1, "the proxy saw nothing more");
    assert_eq!(server.requests().len(), 2);

    // Without the credentials the proxy refuses: the attempt fails, saying why, no secret.
    let output = alb(args.clone(), &[("HTTPS_PROXY", &proxy.url())]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(printed.contains(&proxy.addr().to_string()), "{printed}");
    assert_eq!(server.requests().len(), 2);

    for bad in ["socks5://127.0.0.1:1080", "https://proxy.example:3128"] {
        let output = alb(args.clone(), &[("HTTPS_PROXY", bad)]).await;
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let err = text(&output.stderr);
        assert!(
            err.contains("HTTPS_PROXY: unsupported proxy scheme"),
            "{err}"
        );
    }
    assert_eq!(
        server.requests().len(),
        2,
        "nothing sent with an unusable proxy"
    );
    assert!(
        !printed.contains("pr0xy-pw"),
        "the proxy password is never printed"
    );
}
