//! Secrets without a typed model: every value under a key whose name says it is secret is
//! redacted from `to_redacted_value()`, at any depth; public values stay readable.

use mdm_protocol::{
    Command, CommandRequest, CommandResponse, Limits, MdmMessage, REDACTED,
    plist::{Dictionary, Value},
};

fn plist(body: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>{body}</dict></plist>"
    )
    .into_bytes()
}

/// The value at a key path (`A.B.0.C`: dictionary keys and array indices).
fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |value, step| match value {
        Value::Dictionary(dict) => dict.get(step).unwrap_or_else(|| panic!("no {step}")),
        Value::Array(items) => &items[step.parse::<usize>().unwrap()],
        other => panic!("{other:?} has no {step}"),
    })
}

fn redacted(value: &Value, path: &str) -> bool {
    at(value, path).as_string() == Some(REDACTED)
}

fn xml(value: &Value) -> String {
    let mut out = Vec::new();
    value.to_writer_xml(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// `SetBootstrapToken` (macOS): the device escrows its bootstrap token at the check-in URL.
const BOOTSTRAP_TOKEN: &str = "Ym9vdHN0cmFwLXRva2VuLXNlY3JldC1ieXRlcy0wMTIzNDU2Nzg5";

#[test]
fn a_set_bootstrap_token_check_in_hides_the_token() {
    let bytes = plist(&format!(
        "<key>MessageType</key><string>SetBootstrapToken</string>\
         <key>UDID</key><string>0000FE00-3E6F1B1A1B2C3D4E</string>\
         <key>AwaitingConfiguration</key><false/>\
         <key>BootstrapToken</key><data>{BOOTSTRAP_TOKEN}</data>"
    ));
    let message = MdmMessage::parse(&bytes, &Limits::DEFAULT).unwrap();
    assert!(matches!(message, MdmMessage::Checkin(_)), "{message:?}");
    let shown = message.to_redacted_value();
    assert!(redacted(&shown, "BootstrapToken"));
    assert!(!xml(&shown).contains(BOOTSTRAP_TOKEN));
    assert_eq!(
        at(&shown, "MessageType").as_string(),
        Some("SetBootstrapToken")
    );
    assert_eq!(
        at(&shown, "UDID").as_string(),
        Some("0000FE00-3E6F1B1A1B2C3D4E")
    );
    assert_eq!(
        at(&shown, "AwaitingConfiguration").as_boolean(),
        Some(false)
    );
    // Revealed on request.
    assert!(
        at(&message.to_value(), "BootstrapToken")
            .as_data()
            .is_some()
    );
}

#[test]
fn a_set_recovery_lock_command_hides_both_passwords() {
    let bytes = plist(
        "<key>CommandUUID</key><string>5A1B</string><key>Command</key><dict>\
         <key>RequestType</key><string>SetRecoveryLock</string>\
         <key>CurrentPassword</key><string>old-recovery-secret</string>\
         <key>NewPassword</key><string>new-recovery-secret</string></dict>",
    );
    let command = Command::parse(&bytes, &Limits::DEFAULT).unwrap();
    let shown = command.to_redacted_value();
    assert!(redacted(&shown, "Command.CurrentPassword"));
    assert!(redacted(&shown, "Command.NewPassword"));
    let text = xml(&shown);
    assert!(!text.contains("recovery-secret"), "{text}");
    assert_eq!(
        at(&shown, "Command.RequestType").as_string(),
        Some("SetRecoveryLock")
    );
}

#[test]
fn clear_restrictions_password_keeps_its_name_and_hides_an_unknown_password() {
    // The request type's *value* says "Password"; values are never judged by their text.
    let bytes = plist(
        "<key>CommandUUID</key><string>7C2D</string><key>Command</key><dict>\
         <key>RequestType</key><string>ClearRestrictionsPassword</string>\
         <key>RestrictionsPassword</key><string>1234-kept-unknown</string></dict>",
    );
    let command = Command::parse(&bytes, &Limits::DEFAULT).unwrap();
    assert_eq!(command.request, CommandRequest::ClearRestrictionsPassword);
    let shown = command.to_redacted_value();
    assert_eq!(
        at(&shown, "Command.RequestType").as_string(),
        Some("ClearRestrictionsPassword")
    );
    assert!(redacted(&shown, "Command.RestrictionsPassword"));
    assert!(!xml(&shown).contains("1234-kept-unknown"));
}

#[test]
fn nested_dictionaries_and_arrays_are_redacted_at_any_depth() {
    let bytes = plist(
        "<key>CommandUUID</key><string>9E3F</string><key>Command</key><dict>\
         <key>RequestType</key><string>Settings</string>\
         <key>Settings</key><array>\
           <dict><key>Item</key><string>WiFi</string><key>SSID</key><string>Office</string>\
             <key>Password</key><string>wifi-secret-1</string></dict>\
           <dict><key>Item</key><string>Lock</string>\
             <key>RecoveryKey</key><dict><key>Value</key><string>rk-secret-2</string>\
               <key>Parts</key><array><string>rk-secret-3</string><integer>4711</integer></array>\
               <key>Escrowed</key><true/></dict>\
             <key>UnlockPIN</key><integer>123456</integer>\
             <key>Pinned</key><string>visible</string></dict>\
         </array></dict>",
    );
    let command = Command::parse(&bytes, &Limits::DEFAULT).unwrap();
    let shown = command.to_redacted_value();
    let settings = "Command.Settings";
    assert!(redacted(&shown, &format!("{settings}.0.Password")));
    assert_eq!(
        at(&shown, &format!("{settings}.0.SSID")).as_string(),
        Some("Office")
    );
    assert!(redacted(&shown, &format!("{settings}.1.RecoveryKey.Value")));
    assert!(redacted(
        &shown,
        &format!("{settings}.1.RecoveryKey.Parts.0")
    ));
    assert!(redacted(
        &shown,
        &format!("{settings}.1.RecoveryKey.Parts.1")
    ));
    assert_eq!(
        at(&shown, &format!("{settings}.1.RecoveryKey.Escrowed")).as_boolean(),
        Some(true)
    );
    assert!(redacted(&shown, &format!("{settings}.1.UnlockPIN")));
    assert_eq!(
        at(&shown, &format!("{settings}.1.Pinned")).as_string(),
        Some("visible")
    );
    let text = xml(&shown);
    assert!(
        !text.contains("secret") && !text.contains("123456"),
        "{text}"
    );
    // The command itself is untouched.
    assert_eq!(
        at(&command.to_value(), &format!("{settings}.1.UnlockPIN")).as_signed_integer(),
        Some(123_456)
    );
}

#[test]
fn public_values_stay_readable() {
    let bytes = plist(
        "<key>Status</key><string>Acknowledged</string><key>UDID</key><string>U-1</string>\
         <key>CertificateList</key><array><dict><key>CommonName</key><string>MDM CA</string>\
           <key>IsIdentity</key><false/><key>Data</key><data>MIIBY2VydGlmaWNhdGU=</data></dict></array>\
         <key>SecurityInfo</key><dict><key>PasscodePresent</key><true/>\
           <key>FDE_HasPersonalRecoveryKey</key><false/></dict>",
    );
    let response = CommandResponse::parse(&bytes, &Limits::DEFAULT).unwrap();
    let shown = response.to_redacted_value();
    assert!(at(&shown, "CertificateList.0.Data").as_data().is_some());
    assert_eq!(
        at(&shown, "CertificateList.0.CommonName").as_string(),
        Some("MDM CA")
    );
    assert_eq!(
        at(&shown, "SecurityInfo.PasscodePresent").as_boolean(),
        Some(true)
    );
    assert_eq!(
        at(&shown, "SecurityInfo.FDE_HasPersonalRecoveryKey").as_boolean(),
        Some(false)
    );

    let update = crate::fixtures::read("checkin_token_update.plist");
    let shown = MdmMessage::parse(&update, &Limits::DEFAULT)
        .unwrap()
        .to_redacted_value();
    assert!(redacted(&shown, "UnlockToken"));
    assert!(redacted(&shown, "Token"), "the APNs token is a token too");
    assert_eq!(
        at(&shown, "PushMagic").as_string(),
        Some("9C1E0F5A-3B7D-4E2A-8F61-D4C2B0A19E37")
    );
    assert!(
        at(&shown, "Topic")
            .as_string()
            .unwrap()
            .starts_with("com.apple.mgmt")
    );
    assert!(at(&shown, "AwaitingConfiguration").as_boolean().is_some());
}

#[test]
fn the_redacted_tree_of_a_kept_unknown_response_key_is_redacted() {
    let mut extra = Dictionary::new();
    extra.insert(
        "BypassCode".into(),
        Value::String("kept-unknown-code".into()),
    );
    let mut response = CommandResponse::new(Some("1".into()), mdm_protocol::Status::Acknowledged);
    response.extra = extra;
    let shown = response.to_redacted_value();
    assert!(redacted(&shown, "BypassCode"));
}
