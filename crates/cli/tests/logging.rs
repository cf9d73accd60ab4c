//! `-vvv` and `RUST_LOG=trace`: the libraries' `tracing` output on stderr, never a secret in it.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use alb_test_support::{RecordingServer, Reply, TestPki};
use bypass_code::BypassCode;

const UDID: &str = "00008030-001A2B3C4D5E6F71";
const SERIAL: &str = "DMPXK0LOGS12";
const DEVICE_CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
/// The unlock token as the device sends it (base64 in the plist), and its bytes.
const TOKEN_BASE64: &str = "VU5MT0NLLVRPS0VOLVNFQ1JFVA==";
const TOKEN: &[u8] = b"UNLOCK-TOKEN-SECRET";

fn plist(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n\
         <key>UDID</key><string>{UDID}</string>\n{body}\n</dict></plist>\n"
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `alb` on a blocking thread (the test's runtime keeps serving) with the store key in
/// `ALB_STORE_KEY` and the given extra variables.
async fn alb(args: Vec<String>, key: &str, env: &[(&str, &str)]) -> Output {
    let key = key.to_owned();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_alb"))
            .args(&args)
            .env_remove("ALB_STORE")
            .env_remove("RUST_LOG")
            .env("ALB_STORE_KEY", key)
            .envs(env)
            .output()
            .expect("alb runs")
    })
    .await
    .unwrap()
}

/// Every spelling of a secret that could end up in a log line.
fn spellings(secret: &str) -> Vec<String> {
    let bare: String = secret.chars().filter(|c| *c != '-').collect();
    vec![
        secret.to_owned(),
        secret.to_lowercase(),
        bare.clone(),
        bare.to_lowercase(),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A device enrolls (its unlock token), reports its code, gets a server code, and is unlocked
/// with the first code refused: every step at the most verbose level, and none of the secrets
/// (codes, escrow keys, the token, the store key) in what was logged.
#[tokio::test]
async fn the_most_verbose_log_holds_no_secret() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("apns.pem");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&identity, pki.client.identity_pem()).unwrap();
    std::fs::write(&ca, &pki.server_ca.cert_pem).unwrap();
    let keygen = Command::new(env!("CARGO_BIN_EXE_alb"))
        .arg("keygen")
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let store_key = text(&keygen.stdout).trim().to_owned();
    let store = format!("sqlite:{}", dir.path().join("store.sqlite3").display());

    let messages = [
        (
            "auth.plist",
            plist(&format!(
                "<key>MessageType</key><string>Authenticate</string>\
                 <key>Topic</key><string>com.apple.mgmt.External.t</string>\
                 <key>SerialNumber</key><string>{SERIAL}</string>\
                 <key>ProductName</key><string>iPad4,1</string>"
            )),
        ),
        (
            "token.plist",
            plist(&format!(
                "<key>MessageType</key><string>TokenUpdate</string>\
                 <key>Topic</key><string>com.apple.mgmt.External.t</string>\
                 <key>Token</key><data>AAECAw==</data><key>PushMagic</key><string>m</string>\
                 <key>UnlockToken</key><data>{TOKEN_BASE64}</data>"
            )),
        ),
        (
            "code.plist",
            plist(&format!(
                "<key>CommandUUID</key><string>c1</string>\
                 <key>Status</key><string>Acknowledged</string>\
                 <key>ActivationLockBypassCode</key><string>{DEVICE_CODE}</string>"
            )),
        ),
    ];
    let mut ingest = vec!["-vvv".to_owned(), "ingest".to_owned()];
    for (name, body) in &messages {
        std::fs::write(dir.path().join(name), body).unwrap();
        ingest.push(dir.path().join(name).display().to_string());
    }
    ingest.extend(["--store".to_owned(), store.clone()]);
    let ingested = alb(ingest, &store_key, &[]).await;
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));

    let generated = alb(
        [
            "-vvv", "generate", "--serial", SERIAL, "--store", &store, "--json",
        ]
        .map(str::to_owned)
        .to_vec(),
        &store_key,
        &[],
    )
    .await;
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let issued: serde_json::Value = serde_json::from_str(text(&generated.stdout).trim()).unwrap();
    let server_code = issued["code"].as_str().unwrap().to_owned();
    let server_key = issued["escrow_key"].as_str().unwrap().to_owned();

    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)])
        .await
        .unwrap();
    let unlock_args = [
        "unlock",
        SERIAL,
        "--store",
        &store,
        "--org-name",
        "Example School",
        "--guid",
        "ops@example.com",
        "--identity",
        identity.to_str().unwrap(),
        "--ca-file",
        ca.to_str().unwrap(),
        "--endpoint",
        &server.url(),
        "--deadline",
        "10",
    ]
    .map(str::to_owned)
    .to_vec();
    let unlocked = alb(unlock_args, &store_key, &[("RUST_LOG", "trace")]).await;
    assert!(unlocked.status.success(), "{}", text(&unlocked.stderr));
    // The device's code went first and was refused; the server code unlocked.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(text(&requests[0].body).ends_with(&format!("escrowKey={DEVICE_CODE}")));
    assert!(text(&requests[1].body).ends_with(&format!("escrowKey={server_code}")));

    let logs = [
        ("ingest -vvv", text(&ingested.stderr)),
        ("generate -vvv", text(&generated.stderr)),
        ("unlock RUST_LOG=trace", text(&unlocked.stderr)),
    ];
    // The log is on: each step said what it did, the TLS handshake was traced.
    assert!(logs[0].1.contains("device report stored"), "{}", logs[0].1);
    assert!(logs[1].1.contains("server code committed"), "{}", logs[1].1);
    assert!(
        logs[2].1.contains("unlock attempt recorded"),
        "{}",
        logs[2].1
    );
    assert!(logs[2].1.contains("TRACE"), "{}", logs[2].1);

    let device_key = DEVICE_CODE.parse::<BypassCode>().unwrap().escrow_key();
    let mut secrets = Vec::new();
    secrets.extend(spellings(DEVICE_CODE));
    secrets.extend(spellings(&server_code));
    secrets.extend(spellings(&device_key.to_string()));
    secrets.extend(spellings(&server_key));
    secrets.extend([
        TOKEN_BASE64.to_owned(),
        text(TOKEN),
        hex(TOKEN),
        hex(TOKEN).to_uppercase(),
    ]);
    let (_, material) = store_key.rsplit_once(':').unwrap();
    secrets.extend(spellings(material));
    for (step, log) in &logs {
        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "{step} logged the secret {secret:?}:\n{log}"
            );
        }
    }
}
