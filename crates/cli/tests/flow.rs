//! The administrator's tour of the README, command by command through the `alb` binary, against
//! a simulated device and the stand-in for Apple's escrow service (`alb-testbed`): real property
//! lists in files, a real encrypted SQLite store, real mutual TLS.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use alb_testbed::{EscrowService, Fleet, SimulatedDevice};
use bypass_code::{BypassCode, EscrowKey};
use mdm_protocol::plist::{self, Value};

/// An operator's working directory: the store, its key, the files passed around.
pub(crate) struct Operator {
    pub(crate) dir: tempfile::TempDir,
    store: String,
    key: PathBuf,
}

impl Operator {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("fleet.sqlite3").display());
        let key = dir.path().join("store.key");
        let operator = Self { dir, store, key };
        let made = operator.alb(&["keygen", "--output", operator.key.to_str().unwrap()]);
        assert!(made.status.success(), "{}", text(&made.stderr));
        operator
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `--store ... --key-file ...`.
    pub(crate) fn store_args(&self) -> Vec<String> {
        vec![
            "--store".to_owned(),
            self.store.clone(),
            "--key-file".to_owned(),
            self.key.to_str().unwrap().to_owned(),
        ]
    }

    /// Runs `alb --store ... --key-file ... ARGS`, direct (no proxy of the environment).
    pub(crate) fn alb(&self, args: &[&str]) -> Output {
        self.alb_with_env(args, &[])
    }

    /// [`Self::alb`] with these environment variables set.
    pub(crate) fn alb_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_alb"));
        direct(&mut command);
        command
            .args(self.store_args())
            .args(args)
            .env_remove("ALB_STORE")
            .env_remove("ALB_STORE_KEY")
            .envs(env.iter().copied())
            .output()
            .expect("alb runs")
    }

    /// Runs `alb` and returns its standard output, asserting success.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.alb(args);
        assert!(
            output.status.success(),
            "alb {args:?}: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// `alb command ...`, sent to the device; its answer saved as `name` for `alb ingest`.
    fn ask(&self, fleet: &Fleet, serial: &str, command: &[&str], name: &str) -> PathBuf {
        let mut args = vec!["command"];
        args.extend_from_slice(command);
        let output = self.alb(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let answer = fleet
            .with_device(serial, |device| device.respond(&output.stdout))
            .unwrap()
            .unwrap();
        self.save(name, &answer)
    }

    pub(crate) fn save(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line.trim()).unwrap()
}

pub(crate) fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_readme_tour_through_the_binary_unlocks_an_erased_device_with_the_server_code() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fleet = Fleet::new();
    // Device 6 is a dual-SIM iPhone: IMEI, IMEI2 and MEID all reach the unlock request.
    let device = SimulatedDevice::new(6);
    let (udid, first_code) = (
        device_udid(&device),
        device.active_code().unwrap().to_string(),
    );
    let serial = fleet.add(device);
    let service = runtime
        .block_on(EscrowService::start(fleet.clone()))
        .unwrap();
    let op = Operator::new();
    let (identity, ca) = service.write_client_files(op.dir.path()).unwrap();

    // 2. The device enrolls: its check-ins go to the store.
    let (authenticate, token_update) = fleet
        .with_device(&serial, |d| (d.authenticate(), d.token_update()))
        .unwrap();
    let authenticate = op.save("authenticate.plist", &authenticate);
    let token_update = op.save("token-update.plist", &token_update);
    let ingested = op.ok(&["ingest", arg(&authenticate), arg(&token_update)]);
    assert!(ingested.contains(&udid), "{ingested}");

    // 3. The server asks for the device's code and for what the unlock request needs.
    let code_answer = op.ask(
        &fleet,
        &serial,
        &["ActivationLockBypassCode"],
        "bypass.plist",
    );
    let info_answer = op.ask(&fleet, &serial, &["DeviceInformation"], "info.plist");
    let parsed = json(&op.ok(&["parse", arg(&code_answer), "--json"]));
    assert_eq!(parsed["kind"], "response");
    assert!(!parsed.to_string().contains(&first_code), "redacted");
    op.ok(&["ingest", arg(&code_answer), arg(&info_answer)]);
    let shown = json(&op.ok(&["show", &serial, "--json", "--reveal"]));
    assert_eq!(shown["device_code"], first_code.as_str());
    assert!(op.ok(&["missing"]).trim().is_empty());

    // 4. The server turns Activation Lock on itself: its own code, stored before it is printed.
    let issued = json(&op.ok(&["generate", "--serial", &serial, "--udid", &udid, "--json"]));
    let server_code: BypassCode = issued["code"].as_str().unwrap().parse().unwrap();
    let escrow_key: EscrowKey = issued["escrow_key"].as_str().unwrap().parse().unwrap();
    assert!(server_code.matches(&escrow_key));
    fleet.register_escrow_key(&serial, escrow_key);

    // The user turns Activation Lock on; later the device is erased: the stored device code
    // is stale and only the server's code still works.
    fleet.with_device(&serial, |d| {
        d.lock();
        d.erase();
    });

    // 6. Unlock: device code first (404), then the server code (200).
    let report = json(&op.ok(&[
        "unlock",
        &serial,
        "--org-name",
        "Example & Sons, Ltd.",
        "--guid",
        "ops+lock@example.com",
        "--identity",
        arg(&identity),
        "--ca-file",
        arg(&ca),
        "--endpoint",
        &service.url(),
        "--json",
    ]));
    assert_eq!(report["unlocked"], true);
    assert_eq!(report["code"], "server");
    let tried: Vec<(&str, u64)> = report["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["code"].as_str().unwrap(), a["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(tried, [("device", 404), ("server", 200)]);
    assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(false));

    // What Apple's service received: the identifiers from DeviceInformation, the codes in order.
    let requests = service.requests();
    assert_eq!(requests.len(), 2);
    let slots = subscriptions(&std::fs::read(&info_answer).unwrap());
    let (imei, meid) = &slots["CTSubscriptionSlotOne"];
    let (imei2, _) = &slots["CTSubscriptionSlotTwo"];
    let query = requests[0].query.clone().unwrap();
    for expected in [
        format!("serial={serial}"),
        format!("imei={}", imei.as_deref().unwrap()),
        format!("imei2={}", imei2.as_deref().unwrap()),
        format!("meid={}", meid.as_deref().unwrap()),
    ] {
        assert!(query.contains(&expected), "{expected} in {query}");
    }
    assert!(text(&requests[0].body).ends_with(&format!("escrowKey={first_code}")));
    assert!(text(&requests[1].body).ends_with(&format!("escrowKey={server_code}")));

    // Every attempt is in the history; the device is not among the failed ones.
    let attempts: Vec<String> = op
        .ok(&["history", &serial, "--json"])
        .lines()
        .map(json)
        .filter(|event| event["event"] == "unlock_attempt")
        .map(|event| event["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["device code rejected", "server code unlocked"]);
    assert!(op.ok(&["failed"]).trim().is_empty());
}

pub(crate) fn device_udid(device: &SimulatedDevice) -> String {
    let value = Value::from_reader(std::io::Cursor::new(device.authenticate())).unwrap();
    let dict = value.as_dictionary().unwrap();
    dict["UDID"].as_string().unwrap().to_owned()
}

/// `Slot` → (`IMEI`, `MEID`) of a `DeviceInformation` answer's `ServiceSubscriptions`, read
/// with `plist` alone (the test's own oracle, independent of `mdm-protocol`).
fn subscriptions(answer: &[u8]) -> HashMap<String, (Option<String>, Option<String>)> {
    let value = Value::from_reader(std::io::Cursor::new(answer)).unwrap();
    let info = value.as_dictionary().unwrap()["QueryResponses"]
        .as_dictionary()
        .unwrap();
    let text =
        |d: &plist::Dictionary, key: &str| d.get(key).and_then(Value::as_string).map(str::to_owned);
    info["ServiceSubscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sub| {
            let sub = sub.as_dictionary().unwrap();
            (
                text(sub, "Slot").unwrap(),
                (text(sub, "IMEI"), text(sub, "MEID")),
            )
        })
        .collect()
}

/// The proxy variables of the environment, removed: the test's requests go direct unless it
/// sets one itself.
pub(crate) fn direct(command: &mut Command) -> &mut Command {
    for proxy in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(proxy);
    }
    command
}
