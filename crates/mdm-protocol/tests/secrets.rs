//! Secrets from the schema: typed as the crate's secret types, redacted from `Debug` and from
//! redacted output (typed or not), shown only when revealed.

use mdm_protocol::{
    CheckinMessage, Command, CommandBuilder, CommandRequest, CommandResponse, CommandType, Limits,
    Password, REDACTED, SchemaCheckin, SchemaRequest, SecretData, is_secret_key, plist,
    plist::Value,
    sample::{Sampler, Seeded},
    schema::{KeySpec, Kind},
};

/// A text that shows up when leaked.
const LEAK: &str = "LEAKED-SECRET";

fn xml(value: &Value) -> String {
    let mut out = Vec::new();
    value.to_writer_xml(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn set_recovery_lock_passwords_are_redacted() {
    use mdm_protocol::generated::commands::set_recovery_lock::SetRecoveryLock;
    let mut lock = SetRecoveryLock::new(Password::from(LEAK));
    lock.current_password = Some(Password::from("old-LEAKED-SECRET"));
    let command = Command::with_uuid("U", CommandRequest::from(lock));
    assert!(!format!("{command:?}").contains(LEAK));
    let shown = command.to_redacted_value();
    let text = xml(&shown);
    assert!(!text.contains(LEAK), "{text}");
    let payload = shown.as_dictionary().unwrap()["Command"]
        .as_dictionary()
        .unwrap();
    assert_eq!(payload["NewPassword"].as_string(), Some(REDACTED));
    assert_eq!(payload["CurrentPassword"].as_string(), Some(REDACTED));
    // Revealed when asked, and on the wire.
    assert!(xml(&command.render(true)).contains(LEAK));
    let parsed = Command::parse(&command.to_xml().unwrap(), &Limits::DEFAULT).unwrap();
    let CommandRequest::Schema(SchemaRequest::SetRecoveryLock(lock)) = &parsed.request else {
        panic!("not SetRecoveryLock");
    };
    assert_eq!(lock.new_password.expose(), LEAK);
}

#[test]
fn bootstrap_tokens_are_redacted() {
    let xml_in = format!(
        "<plist version=\"1.0\"><dict>\
         <key>MessageType</key><string>SetBootstrapToken</string>\
         <key>UDID</key><string>D</string>\
         <key>BootstrapToken</key><data>{}</data>\
         </dict></plist>",
        base64(LEAK.as_bytes())
    );
    let message = CheckinMessage::parse(xml_in.as_bytes(), &Limits::DEFAULT).unwrap();
    let debug = format!("{message:?}");
    assert!(!debug.contains(LEAK) && !debug.contains(&base64(LEAK.as_bytes())));
    let CheckinMessage::Schema(SchemaCheckin::SetBootstrapToken(set)) = &message else {
        panic!("not SetBootstrapToken");
    };
    let token: &SecretData = set.bootstrap_token.as_ref().unwrap();
    assert_eq!(token.as_bytes(), LEAK.as_bytes());
    assert_eq!(message.identity().unwrap().udid.as_deref(), Some("D"));
    let shown = message.to_redacted_value();
    assert_eq!(
        shown.as_dictionary().unwrap()["BootstrapToken"].as_string(),
        Some(REDACTED)
    );
    // GetBootstrapToken's answer, written by the server.
    use mdm_protocol::generated::checkin::get_bootstrap_token::GetBootstrapTokenResponse;
    let mut answer = GetBootstrapTokenResponse::new();
    answer.bootstrap_token = Some(SecretData::new(LEAK.as_bytes().to_vec()));
    assert!(!format!("{answer:?}").contains(LEAK));
    assert!(!xml(&answer.to_redacted_value()).contains(&base64(LEAK.as_bytes())));
    let back = GetBootstrapTokenResponse::parse(&answer.to_binary().unwrap(), &Limits::DEFAULT);
    assert_eq!(back.unwrap(), answer);
}

fn base64(bytes: &[u8]) -> String {
    let mut value = Vec::new();
    Value::Data(bytes.to_vec())
        .to_writer_xml(&mut value)
        .unwrap();
    let text = String::from_utf8(value).unwrap();
    let start = text.find("<data>").unwrap() + 6;
    let end = text.find("</data>").unwrap();
    text[start..end].split_whitespace().collect()
}

/// Every key the schema data marks secret, filled with a telltale, never shows in `Debug` or
/// redacted output of the typed message; every key not marked secret does show.
#[test]
fn every_secret_key_of_the_schema_is_redacted() {
    let mut secrets = 0;
    for command_type in CommandType::ALL {
        let spec = command_type.spec();
        for (side, keys) in [("request", spec.request), ("response", spec.response)] {
            let mut sampler = Sampler::new(Seeded(11));
            sampler.full = true;
            sampler.unknown_keys = false;
            sampler.unlisted_values = command_type.request_type().is_none();
            let mut dict = sampler.dictionary(keys);
            secrets += plant(&mut dict, keys);
            let (debug, redacted) = match side {
                "request" => {
                    dict.insert(
                        "RequestType".into(),
                        Value::String(command_type.as_str().into()),
                    );
                    let mut top = plist::Dictionary::new();
                    top.insert("CommandUUID".into(), Value::String("U".into()));
                    top.insert("Command".into(), Value::Dictionary(dict));
                    let bytes = binary(&Value::Dictionary(top));
                    let command = Command::parse(&bytes, &Limits::DEFAULT).unwrap();
                    (format!("{command:?}"), xml(&command.to_redacted_value()))
                }
                _ => {
                    dict.insert("Status".into(), Value::String("Acknowledged".into()));
                    let bytes = binary(&Value::Dictionary(dict));
                    let response =
                        CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT)
                            .unwrap();
                    (format!("{response:?}"), xml(&response.to_redacted_value()))
                }
            };
            let place = format!("{command_type} {side}");
            assert!(
                !debug.contains(LEAK),
                "{place}: Debug shows a secret: {debug}"
            );
            assert!(
                !redacted.contains(LEAK),
                "{place}: redacted output shows a secret"
            );
            assert!(
                !redacted.contains(&base64(LEAK.as_bytes())),
                "{place}: redacted output shows secret data"
            );
        }
    }
    assert!(
        secrets >= 20,
        "only {secrets} secret keys found in the schema data"
    );
}

fn binary(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    value.to_writer_binary(&mut out).unwrap();
    out
}

/// Replaces every secret string or data under `keys` in `dict` with [`LEAK`]; returns how many.
fn plant(dict: &mut plist::Dictionary, keys: &[KeySpec]) -> usize {
    let mut count = 0;
    for key in keys {
        let Some(value) = dict.get_mut(key.key) else {
            continue;
        };
        count += plant_value(value, key);
    }
    count
}

fn plant_value(value: &mut Value, spec: &KeySpec) -> usize {
    if spec.secret {
        *value = match spec.kind {
            Kind::Data => Value::Data(LEAK.as_bytes().to_vec()),
            _ => Value::String(LEAK.to_owned()),
        };
        return 1;
    }
    match (spec.kind, value) {
        (Kind::Dictionary(keys), Value::Dictionary(d)) => plant(d, keys),
        (Kind::Array(item), Value::Array(items)) => {
            items.iter_mut().map(|v| plant_value(v, item)).sum()
        }
        (Kind::Map(item), Value::Dictionary(d)) => {
            d.values_mut().map(|v| plant_value(v, item)).sum()
        }
        (Kind::Union { tag, variants }, Value::Dictionary(d)) => {
            let name = d
                .get(tag)
                .and_then(Value::as_string)
                .unwrap_or_default()
                .to_owned();
            match variants.iter().find(|(v, _)| *v == name) {
                Some((_, keys)) => plant(d, keys),
                None => 0,
            }
        }
        _ => 0,
    }
}

/// The schema's secrets by name, as the review decided: passwords, PINs, tokens, the bypass
/// code, recovery keys, password hashes, the exported private key; not the product keys of
/// updates, the token service's name or the device key (a serial number).
#[test]
fn the_secret_review() {
    let secret = |command_type: CommandType, response: bool, path: &[&str]| {
        let spec = command_type.spec();
        let mut keys = if response {
            spec.response
        } else {
            spec.request
        };
        let mut found = None;
        for (i, name) in path.iter().enumerate() {
            let key = keys.iter().find(|k| k.key == *name).unwrap_or_else(|| {
                panic!("{command_type}: no key {name}");
            });
            if i + 1 == path.len() {
                found = Some(key.secret);
            } else {
                keys = match key.kind {
                    Kind::Dictionary(k) => k,
                    Kind::Array(item) => match item.kind {
                        Kind::Dictionary(k) => k,
                        _ => panic!("{name}: not an array of dictionaries"),
                    },
                    _ => panic!("{name}: not a dictionary"),
                };
            }
        }
        found.unwrap()
    };
    assert!(secret(
        CommandType::SetRecoveryLock,
        false,
        &["NewPassword"]
    ));
    assert!(secret(CommandType::DeviceLock, false, &["PIN"]));
    assert!(secret(CommandType::EraseDevice, false, &["PIN"]));
    assert!(secret(CommandType::RequestMirroring, false, &["Password"]));
    assert!(secret(
        CommandType::ActivationLockBypassCode,
        true,
        &["ActivationLockBypassCode"]
    ));
    assert!(secret(
        CommandType::RequestUnlockToken,
        true,
        &["UnlockToken"]
    ));
    assert!(secret(
        CommandType::RotateFileVaultKey,
        false,
        &["FileVaultUnlock", "PrivateKeyExport"]
    ));
    assert!(secret(
        CommandType::RotateFileVaultKey,
        true,
        &["RotateResult", "EncryptedNewRecoveryKey"]
    ));
    assert!(secret(
        CommandType::SecurityInfo,
        true,
        &["SecurityInfo", "FDE_PersonalRecoveryKeyCMS"]
    ));
    assert!(!secret(
        CommandType::SecurityInfo,
        true,
        &["SecurityInfo", "FDE_PersonalRecoveryKeyDeviceKey"]
    ));
    assert!(secret(
        CommandType::AccountConfiguration,
        false,
        &["AutoSetupAdminAccounts", "passwordHash"]
    ));
    assert!(!secret(
        CommandType::ScheduleOsUpdate,
        false,
        &["Updates", "ProductKey"]
    ));
    assert!(!secret(
        CommandType::AvailableOsUpdates,
        true,
        &["AvailableOSUpdates", "ProductKey"]
    ));
    let checkin = |t: mdm_protocol::CheckinType, key: &str| {
        t.spec()
            .request
            .iter()
            .find(|k| k.key == key)
            .unwrap()
            .secret
    };
    use mdm_protocol::CheckinType as C;
    assert!(checkin(C::TokenUpdate, "UnlockToken") && checkin(C::TokenUpdate, "Token"));
    assert!(!checkin(C::TokenUpdate, "PushMagic"));
    assert!(!checkin(C::GetToken, "TokenServiceType"));
    assert!(checkin(C::UserAuthenticate, "DigestResponse"));
}

/// Untyped values (unknown keys, `<any>` values, unknown request types) follow the name rule.
#[test]
fn untyped_values_are_redacted_by_name() {
    let mut builder = CommandBuilder::new(CommandType::InstallApplication);
    builder
        .set("iTunesStoreID", "361309726")
        .unwrap()
        .set(
            "Configuration",
            r#"{"ServerURL": "https://mdm.example", "AdminPassword": "LEAKED-SECRET"}"#,
        )
        .unwrap();
    let mut command = builder.build().unwrap();
    command
        .extra
        .insert("FutureSecretToken".into(), Value::String(LEAK.into()));
    let redacted = xml(&command.to_redacted_value());
    assert!(!redacted.contains(LEAK), "{redacted}");
    assert!(redacted.contains("https://mdm.example"));
    assert!(xml(&command.to_value()).contains(LEAK));

    let mut payload = plist::Dictionary::new();
    payload.insert("Passcode".into(), Value::String(LEAK.into()));
    payload.insert("Name".into(), Value::String("shown".into()));
    let other = Command::with_uuid(
        "U",
        CommandRequest::Other {
            request_type: "FutureCommand".into(),
            payload,
        },
    );
    let redacted = xml(&other.to_redacted_value());
    assert!(!redacted.contains(LEAK) && redacted.contains("shown"));
    assert!(is_secret_key("FutureSecretToken"));
}
