//! Interop with an independent implementation: Python's standard `plistlib`.

use std::{path::Path, process::Command as Process};

use mdm_protocol::{
    CheckinMessage, Command, CommandResponse, Limits, ResponsePayload, Status, plist,
};

use crate::samples::{CODE, all_commands, all_responses};

/// Runs `python3 -c script args…`. Without python3 the test fails and says so: `CPython`'s
/// `plistlib` is the independent reader and writer these tests compare against.
fn python(script: &str, args: &[&Path]) -> Option<String> {
    let output = match Process::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!(
            "python3 is needed for the plistlib interop tests (apt-get install python3): {error}"
        ),
    };
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

const WRITE: &str = r#"
import plistlib, sys, os
d = sys.argv[1]
token = bytes(range(200))
messages = {
    "bypass": {"CommandUUID": "PY-1", "Status": "Acknowledged", "UDID": "PY-UDID",
               "ActivationLockBypassCode": "A8QK7-GFG21-6RHT-V0U9-756P-L7E3"},
    "devinfo": {"CommandUUID": "PY-2", "Status": "Acknowledged", "UDID": "PY-UDID",
                "QueryResponses": {"SerialNumber": "PYSERIAL", "ProductName": "iPhone14,2",
                    "DeviceCapacity": 128.0,
                    "ServiceSubscriptions": [
                        {"Slot": "CTSubscriptionSlotTwo", "IMEI": "222"},
                        {"Slot": "CTSubscriptionSlotOne", "IMEI": "111", "MEID": "M1"}]}},
    "token": {"MessageType": "TokenUpdate", "Topic": "com.apple.mgmt.py", "UDID": "PY-UDID",
              "Token": bytes(32), "PushMagic": "magic", "UnlockToken": token},
    "clear": {"CommandUUID": "PY-3", "Command": {"RequestType": "ClearPasscode",
              "UnlockToken": token}},
}
for name, value in messages.items():
    for fmt, ext in ((plistlib.FMT_XML, "xml"), (plistlib.FMT_BINARY, "bin")):
        with open(os.path.join(d, f"{name}.{ext}"), "wb") as f:
            plistlib.dump(value, f, fmt=fmt)
"#;

#[test]
fn we_read_what_plistlib_writes() {
    let dir = tempfile::tempdir().unwrap();
    if python(WRITE, &[dir.path()]).is_none() {
        return;
    }
    for ext in ["xml", "bin"] {
        let read = |name: &str| std::fs::read(dir.path().join(format!("{name}.{ext}"))).unwrap();
        let bypass = CommandResponse::parse(&read("bypass"), &Limits::DEFAULT).unwrap();
        let ResponsePayload::ActivationLockBypassCode { code: Some(code) } = &bypass.payload else {
            panic!("{ext}: no code");
        };
        assert_eq!(code.to_string(), CODE);
        assert_eq!(bypass.status, Status::Acknowledged);

        let info = CommandResponse::parse(&read("devinfo"), &Limits::DEFAULT).unwrap();
        let ResponsePayload::DeviceInformation(info) = &info.payload else {
            panic!("{ext}: not DeviceInformation");
        };
        assert_eq!(info.serial_number.as_deref(), Some("PYSERIAL"));
        assert_eq!(info.product_type(), Some("iPhone14,2"));
        let cellular = info.cellular_identity();
        assert_eq!(
            (
                cellular.imei.as_deref(),
                cellular.imei2.as_deref(),
                cellular.meid.as_deref()
            ),
            (Some("111"), Some("222"), Some("M1"))
        );

        let CheckinMessage::TokenUpdate(update) =
            CheckinMessage::parse(&read("token"), &Limits::DEFAULT).unwrap()
        else {
            panic!("{ext}: not TokenUpdate");
        };
        let expected: Vec<u8> = (0..200).collect();
        assert_eq!(
            update.unlock_token.as_ref().unwrap().as_bytes(),
            &expected[..]
        );

        let clear = Command::parse(&read("clear"), &Limits::DEFAULT).unwrap();
        let mdm_protocol::CommandRequest::ClearPasscode(clear) = clear.request else {
            panic!("{ext}: not ClearPasscode");
        };
        assert_eq!(clear.unlock_token.as_bytes(), &expected[..]);
    }
}

const READ: &str = r#"
import plistlib, sys, json
def plain(v):
    if isinstance(v, bytes): return {"data": v.hex()}
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    return v
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        print(json.dumps(plain(plistlib.load(f)), sort_keys=True))
"#;

/// The same tree, printed as Python's script does, from our own reading of it.
fn plain(value: &plist::Value) -> String {
    use plist::Value;
    match value {
        Value::Data(d) => format!("{{\"data\": \"{}\"}}", hex(d)),
        Value::Dictionary(d) => {
            let mut keys: Vec<_> = d.keys().collect();
            keys.sort();
            let items: Vec<_> = keys
                .into_iter()
                .map(|k| format!("\"{k}\": {}", plain(d.get(k).unwrap())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(plain).collect::<Vec<_>>().join(", ")),
        Value::String(s) => format!("{s:?}"),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn plistlib_reads_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    let commands = all_commands()
        .into_iter()
        .map(|c| (c.to_value(), c.to_xml(), c.to_binary()));
    let responses = all_responses()
        .into_iter()
        .map(|r| (r.to_value(), r.to_xml(), r.to_binary()));
    for (i, (value, xml, binary)) in commands.chain(responses).enumerate() {
        for (ext, bytes) in [("xml", xml.unwrap()), ("bin", binary.unwrap())] {
            let path = dir.path().join(format!("{i}.{ext}"));
            std::fs::write(&path, bytes).unwrap();
            paths.push(path);
            expected.push(plain(&value));
        }
    }
    let args: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let Some(out) = python(READ, &args) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for ((line, want), path) in lines.iter().zip(&expected).zip(&paths) {
        assert_eq!(line, want, "{}", path.display());
    }
}
