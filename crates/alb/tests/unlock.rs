//! `alb unlock` against a loopback HTTPS server that requires the client certificate.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use escrow_client::testing::{RecordingServer, Reply, TestPki};

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
        Command::new(env!("CARGO_BIN_EXE_alb"))
            .args(&args)
            .envs(env)
            .output()
            .expect("alb runs")
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
