//! The server code's journey to Apple's device enrollment service through the `alb` binary:
//! `alb dep keypair` → a server token enveloped to that certificate → `alb dep token` →
//! `alb lock` against the DEP stand-in (real TLS, OAuth checked) → the device erased →
//! `alb unlock` with the server code Apple accepted.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use core::time::Duration;
use std::process::Stdio;

use alb_test_support::ConnectProxy;
use alb_testbed::{EscrowService, Fleet, SimulatedDevice};
use bypass_code::EscrowKey;
use dep_client::testing::{Scripted, StandIn, TestPki, TokenFileBuilder, random_token};

use crate::flow::{Operator, arg, device_udid, json, text};

/// An operator with an enrolled device, a key pair, a token in the store and the stand-in.
struct Setup {
    op: Operator,
    runtime: tokio::runtime::Runtime,
    fleet: Fleet,
    serial: String,
    udid: String,
    dep: StandIn,
    dep_ca: std::path::PathBuf,
}

fn setup(n: u64) -> Setup {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fleet = Fleet::new();
    let device = SimulatedDevice::new(n);
    let udid = device_udid(&device);
    let serial = fleet.add(device);
    let op = Operator::new();
    let authenticate = fleet.with_device(&serial, |d| d.authenticate()).unwrap();
    let authenticate = op.save("authenticate.plist", &authenticate);
    op.ok(&["ingest", arg(&authenticate)]);

    // The key pair the portal gets, and the token it sends back, enveloped to that certificate.
    let (cert, key) = (op.path("dep.crt"), op.path("dep.key"));
    op.ok(&[
        "dep",
        "keypair",
        "--cert-out",
        arg(&cert),
        "--key-out",
        arg(&key),
    ]);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the private key is the MDM server's only"
        );
    }
    let token = random_token();
    let cert_der = dep_client::token::certificate_der(&std::fs::read(&cert).unwrap()).unwrap();
    let file = op.save(
        "Example_Token_smime.p7m",
        &TokenFileBuilder::new(&token, cert_der.as_ref()).build(),
    );
    let kept = op.ok(&[
        "dep",
        "token",
        arg(&file),
        "--key",
        arg(&key),
        "--cert",
        arg(&cert),
    ]);
    assert!(kept.contains(token.consumer_key()), "{kept}");
    for secret in [
        token.consumer_secret(),
        token.access_token(),
        token.access_secret(),
    ] {
        assert!(!kept.contains(secret.expose()), "no secret printed");
    }

    let pki = TestPki::new();
    let dep = runtime
        .block_on(StandIn::start_with_token(&pki, token))
        .unwrap();
    let dep_ca = op.save("dep-ca.pem", pki.ca_pem.as_bytes());
    Setup {
        op,
        runtime,
        fleet,
        serial,
        udid,
        dep,
        dep_ca,
    }
}

impl Setup {
    fn lock_args(&self) -> Vec<String> {
        [
            "lock",
            &self.serial,
            "--dep-url",
            &self.dep.base_url(),
            "--dep-ca-file",
            arg(&self.dep_ca),
            "--json",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn lock(&self) -> (Option<i32>, serde_json::Value) {
        self.lock_with_env(&[])
    }

    fn lock_with_env(&self, env: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
        let args = self.lock_args();
        let output = self
            .op
            .alb_with_env(&args.iter().map(String::as_str).collect::<Vec<_>>(), env);
        let stdout = text(&output.stdout);
        (
            output.status.code(),
            json(stdout.lines().next().unwrap_or("{}")),
        )
    }

    /// The accepted server code's escrow key, as `alb show --reveal` prints it.
    fn accepted_escrow_key(&self) -> Option<String> {
        let shown = json(&self.op.ok(&["show", &self.serial, "--json", "--reveal"]));
        shown["accepted_escrow_key"].as_str().map(str::to_owned)
    }

    fn sent_keys(&self) -> Vec<String> {
        self.dep
            .escrow_keys()
            .get(&self.serial)
            .cloned()
            .unwrap_or_default()
    }
}

#[test]
fn lock_then_unlock_an_erased_device_with_the_code_apple_accepted() {
    let s = setup(21);
    // Both services are reached through the enterprise proxy of the environment.
    let proxy = s.runtime.block_on(ConnectProxy::start(None)).unwrap();
    let through_proxy = [("HTTPS_PROXY", proxy.url())];
    let through_proxy: Vec<(&str, &str)> = through_proxy
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let (status, report) = s.lock_with_env(&through_proxy);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["outcome"], "locked");
    assert_eq!(report["new_code"], true);
    assert_eq!(report["udid"], s.udid.as_str());

    // Apple saw the escrow key (lower-case hex) of the code the store holds as accepted.
    let accepted = s.accepted_escrow_key().unwrap();
    assert_eq!(s.sent_keys(), vec![accepted.to_ascii_lowercase()]);
    let history = s.op.ok(&["history", &s.serial]);
    for event in ["server_code ", "server_code_sent", "server_code_answered"] {
        assert!(history.contains(event), "{event} in {history}");
    }

    // Locked already: nothing is sent again, exit 0.
    let (status, report) = s.lock();
    assert_eq!(
        (status, report["outcome"].as_str()),
        (Some(0), Some("already-locked"))
    );
    assert_eq!(s.sent_keys().len(), 1);
    // A new code for it is refused...
    let refused = s.op.alb(&["generate", "--serial", &s.serial]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("accepted server code"),
        "{}",
        text(&refused.stderr)
    );

    // Apple links the escrow key to the device; the user locks it; it is erased (its own code
    // changes): only the accepted server code unlocks it.
    let key: EscrowKey = accepted.parse().unwrap();
    s.fleet.register_escrow_key(&s.serial, key);
    s.fleet.with_device(&s.serial, |d| {
        d.lock();
        d.erase();
    });
    let service = s
        .runtime
        .block_on(EscrowService::start(s.fleet.clone()))
        .unwrap();
    let (identity, ca) = service.write_client_files(s.op.dir.path()).unwrap();
    let unlocked = s.op.alb_with_env(
        &[
            "unlock",
            &s.serial,
            "--org-name",
            "Example",
            "--guid",
            "it@example.com",
            "--identity",
            arg(&identity),
            "--ca-file",
            arg(&ca),
            "--endpoint",
            &service.url(),
            "--json",
        ],
        &through_proxy,
    );
    assert!(unlocked.status.success(), "{}", text(&unlocked.stderr));
    let report = json(&text(&unlocked.stdout));
    assert_eq!(report["unlocked"], true, "{report}");
    // The proxy carried the lock (to the enrollment service) and the unlock (to the escrow
    // service), each in a tunnel it opened.
    let tunnels = proxy.tunnels();
    let host_port = |url: &str| url.split('/').nth(2).unwrap().to_owned();
    let destinations: Vec<&str> = tunnels.iter().map(|t| t.destination.as_str()).collect();
    assert!(
        destinations.contains(&host_port(&s.dep.base_url()).as_str()),
        "{destinations:?}"
    );
    assert!(
        destinations.contains(&host_port(&service.url()).as_str()),
        "{destinations:?}"
    );
    assert!(tunnels.iter().all(|t| t.opened));
    assert_eq!(report["code"], "server");
    assert_eq!(
        s.fleet.with_device(&s.serial, |d| d.is_locked()),
        Some(false)
    );
}

/// `alb lock` killed (SIGKILL) after the code was committed and marked sent, before Apple
/// answered: the next `alb lock` sends the same code again, never a new one.
#[test]
fn a_lock_killed_before_the_answer_sends_the_same_code_again() {
    let s = setup(22);
    s.dep.script("/device/activationlock", [Scripted::hang()]);
    let args = s.lock_args();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_alb"))
        .args(s.op_store_args())
        .args(&args)
        .env_remove("ALB_STORE")
        .env_remove("ALB_STORE_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the request reached Apple's stand-in (the code is committed and marked sent).
    let reached = || {
        s.dep
            .requests()
            .iter()
            .any(|r| r.path == "/device/activationlock")
    };
    let mut waited = Duration::ZERO;
    while !reached() {
        assert!(waited < Duration::from_secs(60), "the request never came");
        std::thread::sleep(Duration::from_millis(20));
        waited += Duration::from_millis(20);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let history = s.op.ok(&["history", &s.serial]);
    assert!(history.contains("server_code_sent"), "{history}");
    assert!(!history.contains("server_code_answered"), "{history}");
    let shown = json(&s.op.ok(&["show", &s.serial, "--json", "--reveal"]));
    assert_eq!(shown["server_code_state"], "sent");
    let pending = shown["escrow_key"].as_str().unwrap().to_ascii_lowercase();

    let (status, report) = s.lock();
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["outcome"], "locked");
    assert_eq!(report["new_code"], false, "the pending code, not a new one");
    assert_eq!(s.sent_keys(), vec![pending.clone()]);
    assert_eq!(
        s.accepted_escrow_key().unwrap().to_ascii_lowercase(),
        pending
    );
}

/// New terms to accept: the lock fails with what to do, the code stays pending, and the next
/// lock (terms accepted) sends it.
#[test]
fn new_terms_fail_the_lock_and_the_code_waits() {
    let s = setup(23);
    s.dep.set_terms_not_signed(true);
    let (status, report) = s.lock();
    assert_eq!(status, Some(1), "{report}");
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"].as_str().unwrap().contains("T_C_NOT_SIGNED"),
        "{report}"
    );
    assert!(s.accepted_escrow_key().is_none());
    s.dep.set_terms_not_signed(false);
    let (status, report) = s.lock();
    assert_eq!(
        (status, report["outcome"].as_str()),
        (Some(0), Some("locked"))
    );
    assert_eq!(report["new_code"], false);
}

impl Setup {
    fn op_store_args(&self) -> Vec<String> {
        self.op.store_args()
    }
}
