//! The store commands of the real `alb` binary: keys, generate (durable before printed, even
//! when killed), show/history/missing, export/import, ingest.

// Helpers shared by these tests are test code too.
#![allow(clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use bypass_code::{BypassCode, EscrowKey};
use code_store::{CodeStore, KeyRing, Protection, SqliteStore, Udid};
use tempfile::TempDir;

/// A temporary SQLite store and key file, and `alb` commands pointed at them.
struct Fixture {
    dir: TempDir,
    key: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        let out = Command::new(env!("CARGO_BIN_EXE_alb"))
            .args(["keygen", "--output"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "the key goes to the file only");
        let key = std::fs::read_to_string(&file).unwrap().trim().to_owned();
        Self { dir, key }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("store.sqlite3")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `alb --store sqlite:<db> --key-file <key> ARGS`, with no store variables inherited.
    fn alb(&self, args: &[&str]) -> Command {
        self.alb_at(&format!("sqlite:{}", self.db().display()), args)
    }

    /// `alb --store URL --key-file <key> ARGS`.
    fn alb_at(&self, url: &str, args: &[&str]) -> Command {
        let mut command = self.bare_at(url, args);
        command.arg("--key-file").arg(self.dir.path().join("key"));
        command
    }

    /// `alb --store sqlite:<db> ARGS` without a key.
    fn bare(&self, args: &[&str]) -> Command {
        self.bare_at(&format!("sqlite:{}", self.db().display()), args)
    }

    /// `alb --store URL ARGS` without a key.
    fn bare_at(&self, url: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_alb"));
        command
            .args(args)
            .arg("--store")
            .arg(url)
            .env_remove("ALB_STORE_KEY")
            .env_remove("ALB_STORE");
        command
    }

    async fn open(&self) -> SqliteStore {
        let ring = KeyRing::parse(&self.key).unwrap();
        SqliteStore::open(self.db(), Protection::encrypted(ring))
            .await
            .unwrap()
    }
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

#[test]
fn keygen_prints_a_key_file_line() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let mode = std::fs::metadata(f.path("key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // An existing file is never overwritten.
    let again = run(Command::new(env!("CARGO_BIN_EXE_alb"))
        .args(["keygen", "--output"])
        .arg(f.path("key")));
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(f.path("key")).unwrap().trim(),
        f.key
    );
    // Printed form: one line on stdout.
    let printed = run(Command::new(env!("CARGO_BIN_EXE_alb")).arg("keygen"));
    let line = stdout(&printed);
    assert_eq!(line.lines().count(), 1);
    assert!(line.starts_with("alb-store-key-v1:"));
    let (prefix, rest) = f.key.split_once(':').unwrap();
    assert_eq!(prefix, "alb-store-key-v1");
    let (id, material) = rest.split_once(':').unwrap();
    assert!(!id.is_empty());
    assert_eq!(material.len(), 64);
    assert_ne!(Fixture::new().key, f.key, "keys are random");
}

#[tokio::test]
async fn generate_for_a_device_stores_before_printing_and_show_redacts() {
    let f = Fixture::new();
    let out = run(&mut f.alb(&[
        "generate", "--serial", "C02TEST1", "--udid", "UDID-A", "--json",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = json(stdout(&out).trim());
    let code: BypassCode = printed["code"].as_str().unwrap().parse().unwrap();
    let key: EscrowKey = printed["escrow_key"].as_str().unwrap().parse().unwrap();
    assert!(key.verify(&code));
    assert_eq!(printed["udid"], "UDID-A");

    let record = f
        .open()
        .await
        .record(&Udid::new("UDID-A").unwrap())
        .await
        .unwrap()
        .unwrap();
    let server = record.server_code.unwrap();
    assert_eq!(server.code, code);
    assert_eq!(record.identity.serial_number.as_deref(), Some("C02TEST1"));

    let shown = run(&mut f.alb(&["show", "C02TEST1"]));
    assert!(shown.status.success());
    let text = stdout(&shown);
    assert!(
        text.contains("<redacted>") && !text.contains(&code.to_string()),
        "{text}"
    );
    let revealed = run(&mut f.alb(&["show", "UDID-A", "--json", "--reveal"]));
    assert_eq!(
        json(stdout(&revealed).trim())["server_code"],
        code.to_string()
    );
    let history = run(&mut f.alb(&["history", "UDID-A", "--json"]));
    let events: Vec<String> = stdout(&history)
        .lines()
        .map(|l| json(l)["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["created", "server_code", "identity"]);
    assert!(!stdout(&history).contains(&code.to_string()));

    let unknown = run(&mut f.alb(&["show", "NOSUCH"]));
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn secrets_need_the_right_key() {
    let f = Fixture::new();
    let refused = run(&mut f.bare(&["generate", "--serial", "C02NOKEY"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        refused.stdout.is_empty(),
        "nothing printed when nothing was stored"
    );
    assert!(
        stderr(&refused).contains("opened without its key")
            && stderr(&refused).contains("hint: give the store key with --key-file"),
        "{}",
        stderr(&refused)
    );

    assert!(
        run(&mut f.alb(&["generate", "--serial", "C02KEY"]))
            .status
            .success()
    );
    let other = Fixture::new();
    let wrong = run(f.bare(&["show", "C02KEY"]).env("ALB_STORE_KEY", &other.key));
    assert_eq!(wrong.status.code(), Some(2));
    let message = stderr(&wrong);
    assert!(message.contains("which was not given"), "{message}");
    let none = run(&mut f.bare(&["show", "C02KEY"]));
    assert!(
        stderr(&none).contains("a store key is needed"),
        "{}",
        stderr(&none)
    );
    // The store is encrypted: --cleartext cannot write secrets in clear next to sealed ones.
    let mixed = run(&mut f.bare(&["generate", "--serial", "C02MIXED", "--cleartext"]));
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("the store is encrypted; it cannot be opened in cleartext mode"),
        "{}",
        stderr(&mixed)
    );
    assert!(mixed.stdout.is_empty());
    // Cleartext must be asked for explicitly.
    assert!(
        run(&mut f.bare_at(
            "memory:",
            &["generate", "--serial", "C02CLEAR", "--cleartext"]
        ))
        .status
        .success()
    );
}

#[test]
fn export_import_round_trip_refuses_redacted_values() {
    let f = Fixture::new();
    std::fs::write(f.path("serials"), "C02E1\nC02E2 UDID-E2\n").unwrap();
    let serials = f.path("serials");
    assert!(
        run(&mut f.alb(&["generate", "--serials", serials.to_str().unwrap()]))
            .status
            .success()
    );
    let revealed = stdout(&run(&mut f.alb(&["export", "--reveal"])));
    assert_eq!(revealed.lines().count(), 2);
    std::fs::write(f.path("export.jsonl"), &revealed).unwrap();
    let redacted = stdout(&run(&mut f.alb(&["export"])));
    assert!(redacted.contains("<redacted>"));
    std::fs::write(f.path("redacted.jsonl"), &redacted).unwrap();

    let other = format!("sqlite:{}", f.path("other.sqlite3").display());
    let exported = f.path("export.jsonl");
    let imported = run(&mut f.alb_at(&other, &["import", exported.to_str().unwrap()]));
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(
        stdout(&imported).trim(),
        "imported: 2 changed, 0 unchanged, 0 refused"
    );
    let again = stdout(&run(&mut f.alb_at(&other, &["export", "--reveal"])));
    assert_eq!(again, revealed);
    let redacted_file = f.path("redacted.jsonl");
    let refused = run(&mut f.alb_at(&other, &["import", redacted_file.to_str().unwrap()]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("redacted"),
        "{}",
        stderr(&refused)
    );
}

/// SIGKILL in the middle of a bulk generation: every code printed is in the store, and the
/// database opens cleanly.
#[tokio::test]
async fn killed_bulk_generation_loses_no_printed_code() {
    for kill_after in [1, 13, 40] {
        killed_bulk_generation(kill_after).await;
    }
}

async fn killed_bulk_generation(kill_after: usize) {
    let f = Fixture::new();
    let serials: String = (0..5000).map(|i| format!("C02K{i:06}\n")).collect();
    std::fs::write(f.path("fleet"), serials).unwrap();
    let mut child = f
        .alb(&[
            "generate",
            "--serials",
            f.path("fleet").to_str().unwrap(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..kill_after {
        printed.push(lines.next().unwrap().unwrap());
    }
    child.kill().unwrap(); // SIGKILL
    // Whatever reached the pipe before the kill counts as printed too.
    printed.extend(lines.map_while(Result::ok));
    child.wait().unwrap();
    assert!(printed.len() < 5000, "killed mid-way");

    let store = f.open().await;
    store.integrity_check().await.unwrap();
    for line in &printed {
        let v = json(line);
        let udid = Udid::new(v["udid"].as_str().unwrap()).unwrap();
        let record = store
            .record(&udid)
            .await
            .unwrap()
            .expect("printed code is stored");
        assert_eq!(
            record.server_code.unwrap().code.to_string(),
            v["code"].as_str().unwrap()
        );
        assert_eq!(
            record.identity.serial_number.as_deref(),
            v["serial"].as_str()
        );
    }
    // The store stays usable.
    drop(store);
    let out = run(&mut f.alb(&["generate", "--serial", "C02AFTER"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn missing_lists_devices_without_a_device_code() {
    let f = Fixture::new();
    assert!(
        run(&mut f.alb(&["generate", "--serial", "C02MISS", "--udid", "UDID-M"]))
            .status
            .success()
    );
    let out = run(&mut f.alb(&["missing", "--json"]));
    let v = json(stdout(&out).trim());
    assert_eq!(v["udid"], "UDID-M");
    assert_eq!(v["serial_number"], "C02MISS");
}

const UDID: &str = "00008030-001A2D3E0C12802E";

fn plist(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n\
         <key>UDID</key><string>{UDID}</string>\n{body}\n</dict></plist>\n"
    )
}

fn bypass_code_response(code: &str) -> String {
    plist(&format!(
        "<key>CommandUUID</key><string>c1</string><key>Status</key><string>Acknowledged</string>\
         <key>ActivationLockBypassCode</key><string>{code}</string>"
    ))
}

/// Device messages from enrolment to a replaced code, malformed input in the middle.
#[tokio::test]
async fn ingest_applies_device_messages_with_the_retention_rule() {
    let f = Fixture::new();
    // A server code made before the device enrolled, by serial number only.
    assert!(
        run(&mut f.alb(&["generate", "--serial", "C02INGEST1"]))
            .status
            .success()
    );
    let first = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
    let second = BypassCode::from_bytes([0x5a; 16]).to_string();
    let files = [
        (
            "auth.plist",
            plist(
                "<key>MessageType</key><string>Authenticate</string>\
                 <key>Topic</key><string>com.apple.mgmt.External.t</string>\
                 <key>SerialNumber</key><string>C02INGEST1</string>\
                 <key>ProductName</key><string>iPhone14,2</string>",
            ),
        ),
        ("code1.plist", bypass_code_response(first)),
        ("empty.plist", bypass_code_response("")),
        ("broken.plist", "<plist><dict><key>UDID</key>".to_owned()),
        ("same.plist", bypass_code_response(first)),
        (
            "token.plist",
            plist(
                "<key>MessageType</key><string>TokenUpdate</string>\
                 <key>Topic</key><string>com.apple.mgmt.External.t</string>\
                 <key>Token</key><data>AAECAw==</data><key>PushMagic</key><string>m</string>\
                 <key>UnlockToken</key><data>VU5MT0NLLVRPS0VOLU1BUktFUg==</data>",
            ),
        ),
        (
            "info.plist",
            plist(
                "<key>CommandUUID</key><string>c2</string><key>Status</key><string>Acknowledged</string>\
                 <key>QueryResponses</key><dict>\
                 <key>SerialNumber</key><string>C02INGEST1</string>\
                 <key>ServiceSubscriptions</key><array>\
                 <dict><key>Slot</key><string>CTSubscriptionSlotOne</string>\
                 <key>IMEI</key><string>35 111111 111111 1</string>\
                 <key>MEID</key><string>35111111111111</string></dict>\
                 <dict><key>Slot</key><string>CTSubscriptionSlotTwo</string>\
                 <key>IMEI</key><string>35 222222 222222 2</string></dict>\
                 </array></dict>",
            ),
        ),
        ("code2.plist", bypass_code_response(&second)),
    ];
    let mut args = vec!["ingest".to_owned()];
    for (name, body) in &files {
        std::fs::write(f.path(name), body).unwrap();
        args.push(f.path(name).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&mut f.alb(&args));
    assert_eq!(out.status.code(), Some(1), "the malformed file is reported");
    let printed = stdout(&out);
    assert!(
        stderr(&out).contains("broken.plist: skipped"),
        "{}",
        stderr(&out)
    );
    for expected in [
        "Authenticate: enrolled at",
        "Authenticate: server code made before enrolment attached",
        "code1.plist: 00008030-001A2D3E0C12802E: ActivationLockBypassCode: device code stored",
        "empty.plist: 00008030-001A2D3E0C12802E: ActivationLockBypassCode: no device code in the response: stored code kept",
        "same.plist: 00008030-001A2D3E0C12802E: ActivationLockBypassCode: same device code: unchanged",
        "TokenUpdate: unlock token stored",
        "DeviceInformation: identity updated: imei, imei2, meid",
        "code2.plist: 00008030-001A2D3E0C12802E: ActivationLockBypassCode: device code replaced by a different code",
    ] {
        assert!(
            printed.contains(expected),
            "missing {expected:?} in:\n{printed}"
        );
    }
    assert!(
        !printed.contains(first) && !stderr(&out).contains(first),
        "codes are never printed"
    );

    let store = f.open().await;
    let record = store
        .record(&Udid::new(UDID).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.device_code.unwrap().code.to_string(), second);
    assert!(
        record.server_code.is_some(),
        "the pre-enrolment server code moved to the device"
    );
    assert_eq!(
        record.unlock_token.unwrap().token.as_bytes(),
        b"UNLOCK-TOKEN-MARKER"
    );
    assert_eq!(record.identity.imei2.as_deref(), Some("35 222222 222222 2"));
    assert_eq!(record.identity.product_type.as_deref(), Some("iPhone14,2"));
    assert!(record.enrolled_at.is_some());
    drop(store);

    // Nothing secret is in the database file in clear.
    let mut bytes = std::fs::read(f.db()).unwrap();
    bytes.extend(std::fs::read(f.path("store.sqlite3-wal")).unwrap_or_default());
    for needle in [first.as_bytes(), second.as_bytes(), b"UNLOCK-TOKEN-MARKER"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    // The device now has its code: it is no longer missing.
    let missing = stdout(&run(&mut f.alb(&["missing"])));
    assert!(!missing.contains(UDID), "{missing}");

    // The README's order (generate by serial, then the device enrols): one device, one record,
    // everywhere.
    let shown = run(&mut f.alb(&["show", "C02INGEST1", "--json"]));
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert_eq!(stdout(&shown).lines().count(), 1, "{}", stdout(&shown));
    assert_eq!(json(stdout(&shown).trim())["udid"], UDID);
    let exported = stdout(&run(&mut f.alb(&["export"])));
    assert_eq!(exported.lines().count(), 1, "{exported}");

    // Another device claiming that serial number is refused, and says so.
    let intruder = plist(
        "<key>MessageType</key><string>Authenticate</string>\
         <key>Topic</key><string>com.apple.mgmt.External.t</string>\
         <key>SerialNumber</key><string>C02INGEST1</string>",
    )
    .replace(UDID, "00008030-00FFFFFFFFFFFFFF");
    std::fs::write(f.path("intruder.plist"), intruder).unwrap();
    let out = run(&mut f.alb(&["ingest", f.path("intruder.plist").to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("serial number refused"),
        "{}",
        stdout(&out)
    );
    let shown = stdout(&run(&mut f.alb(&["show", "C02INGEST1", "--json"])));
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert_eq!(json(shown.trim())["udid"], UDID);
    let history = stdout(&run(&mut f.alb(&["history", "00008030-00FFFFFFFFFFFFFF"])));
    assert!(history.contains("serial_refused"), "{history}");
}

/// One tampered row does not stop a backup: every readable record is exported, the unreadable
/// one is named on stderr, and the exit status says something was left out.
#[tokio::test]
async fn export_goes_on_past_an_unreadable_record() {
    let f = Fixture::new();
    for serial in ["C02EXP1", "C02EXP2", "C02EXP3"] {
        assert!(
            run(&mut f.alb(&["generate", "--serial", serial]))
                .status
                .success()
        );
    }
    let db = rusqlite::Connection::open(f.db()).unwrap();
    db.execute(
        "UPDATE devices SET server_code = (SELECT server_code FROM devices \
         WHERE udid = 'serial:C02EXP1') WHERE udid = 'serial:C02EXP2'",
        [],
    )
    .unwrap();
    drop(db);
    let out = run(&mut f.alb(&["export", "--reveal"]));
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(json).collect();
    let udids: Vec<&str> = lines.iter().map(|l| l["udid"].as_str().unwrap()).collect();
    assert_eq!(udids, ["serial:C02EXP1", "serial:C02EXP3"]);
    assert!(
        stderr(&out).contains("serial:C02EXP2") && stderr(&out).contains("server_code"),
        "{}",
        stderr(&out)
    );
}

/// Two `alb` processes generating into the same SQLite file at once: both finish, and every
/// printed code is stored under its device.
#[tokio::test]
async fn concurrent_processes_share_one_sqlite_store() {
    let f = Fixture::new();
    let mut children = Vec::new();
    for p in 0..2 {
        let serials: String = (0..30).map(|i| format!("C02P{p}{i:04}\n")).collect();
        let file = f.path(&format!("fleet{p}"));
        std::fs::write(&file, serials).unwrap();
        children.push(
            f.alb(&["generate", "--serials", file.to_str().unwrap(), "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    let mut printed = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        printed.extend(stdout(&out).lines().map(str::to_owned));
    }
    assert_eq!(printed.len(), 60);
    let store = f.open().await;
    for line in &printed {
        let v = json(line);
        let udid = Udid::new(v["udid"].as_str().unwrap()).unwrap();
        let record = store.record(&udid).await.unwrap().unwrap();
        assert_eq!(
            record.server_code.unwrap().code.to_string(),
            v["code"].as_str().unwrap()
        );
    }
    assert_eq!(store.records().await.unwrap().len(), 60);
}
