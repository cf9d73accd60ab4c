//! Structured: any command we can build writes to XML and binary, and both parse back to it:
//! the hand-written request types built field by field, and every request type of the schema
//! sampled from its schema data (the fuzzer's bytes making every choice), through the
//! generated types.
#![no_main]

use alb_fuzz::{limit_error, round_trip};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mdm_protocol::{
    CertificateList, ClearPasscode, Command, CommandRequest, CommandType, DeviceInformation,
    FileVaultKeyType, Limits, Password, RotateFileVaultKey, SecretData, SetAutoAdminPassword,
    SetFirmwarePassword, UnlockToken, UnlockUserAccount, VerifyFirmwarePassword, plist,
    sample::{FromBytes, Sampler},
};

#[derive(Debug, Arbitrary)]
enum Request {
    ActivationLockBypassCode,
    ClearActivationLockBypassCode,
    ClearPasscode(Vec<u8>),
    SecurityInfo,
    CertificateList(Option<bool>),
    RotateFileVaultKey {
        institutional: bool,
        password: Option<String>,
        export: Option<Vec<u8>>,
        export_password: Option<String>,
        new_certificate: Option<Vec<u8>>,
        reply_certificate: Option<Vec<u8>>,
    },
    ClearRestrictionsPassword,
    UnlockUserAccount(String),
    SetAutoAdminPassword(String, Vec<u8>),
    SetFirmwarePassword(Option<String>, String, Option<bool>),
    VerifyFirmwarePassword(String),
    DeviceInformation(Vec<String>, Option<Vec<u8>>),
    Other(String, Vec<(String, String)>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    uuid: String,
    request: Request,
    extra: Vec<(String, i64)>,
    /// A request type of the schema (by index) and the choices of its sample.
    sampled: (u8, Vec<u8>),
}

/// A command of the schema's request type `index`, sampled from its schema data: it parses
/// into its type (hand-written or generated, never `Other`) and writes back unchanged.
fn sampled(index: u8, choices: &[u8]) {
    let command_type = CommandType::ALL[usize::from(index) % CommandType::ALL.len()];
    let mut sampler = Sampler::new(FromBytes(choices));
    // Hand-written request types keep closed enumerations.
    sampler.unlisted_values = command_type.request_type().is_none();
    let value = sampler.command(command_type);
    let mut bytes = Vec::new();
    value.to_writer_binary(&mut bytes).expect("a sample writes");
    let command = match Command::parse(&bytes, &Limits::DEFAULT) {
        Ok(command) => command,
        Err(error) => {
            assert!(limit_error(&error), "{command_type}: {error}");
            return;
        }
    };
    assert!(!matches!(command.request, CommandRequest::Other { .. }));
    assert_eq!(command.request.command_type(), Some(command_type));
    assert!(command.to_value() == value, "{command_type}: the typed command differs");
    round_trip(&command, |b| Command::parse(b, &Limits::DEFAULT));
}

fn request(r: Request) -> CommandRequest {
    match r {
        Request::ActivationLockBypassCode => CommandRequest::ActivationLockBypassCode,
        Request::ClearActivationLockBypassCode => CommandRequest::ClearActivationLockBypassCode,
        Request::ClearPasscode(token) => CommandRequest::ClearPasscode(ClearPasscode {
            unlock_token: UnlockToken::new(token),
        }),
        Request::SecurityInfo => CommandRequest::SecurityInfo,
        Request::CertificateList(managed_only) => {
            CommandRequest::CertificateList(CertificateList { managed_only })
        }
        Request::RotateFileVaultKey {
            institutional,
            password,
            export,
            export_password,
            new_certificate,
            reply_certificate,
        } => CommandRequest::RotateFileVaultKey(RotateFileVaultKey {
            key_type: if institutional {
                FileVaultKeyType::Institutional
            } else {
                FileVaultKeyType::Personal
            },
            unlock_password: password.map(Password::new),
            private_key_export: export.map(SecretData::new),
            private_key_export_password: export_password.map(Password::new),
            new_certificate,
            reply_encryption_certificate: reply_certificate,
            unlock_extra: plist::Dictionary::new(),
        }),
        Request::ClearRestrictionsPassword => CommandRequest::ClearRestrictionsPassword,
        Request::UnlockUserAccount(user_name) => {
            CommandRequest::UnlockUserAccount(UnlockUserAccount { user_name })
        }
        Request::SetAutoAdminPassword(guid, hash) => {
            CommandRequest::SetAutoAdminPassword(SetAutoAdminPassword {
                guid,
                password_hash: SecretData::new(hash),
            })
        }
        Request::SetFirmwarePassword(current, new, allow_oroms) => {
            CommandRequest::SetFirmwarePassword(SetFirmwarePassword {
                current_password: current.map(Password::new),
                new_password: Password::new(new),
                allow_oroms,
            })
        }
        Request::VerifyFirmwarePassword(password) => {
            CommandRequest::VerifyFirmwarePassword(VerifyFirmwarePassword {
                password: Password::new(password),
            })
        }
        Request::DeviceInformation(queries, nonce) => {
            CommandRequest::DeviceInformation(DeviceInformation {
                queries,
                device_attestation_nonce: nonce,
            })
        }
        Request::Other(request_type, keys) => {
            let mut payload = plist::Dictionary::new();
            for (k, v) in keys {
                payload.insert(k, plist::Value::String(v));
            }
            CommandRequest::Other {
                request_type,
                payload,
            }
        }
    }
}

/// Characters XML 1.0 cannot carry (a limitation of the format, not of our code).
fn xml_safe(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        && !s.contains('\r')
}

fuzz_target!(|input: Input| {
    sampled(input.sampled.0, &input.sampled.1);
    let mut command = Command::with_uuid(input.uuid, request(input.request));
    for (k, v) in input.extra {
        // Prefixed so they never collide with a typed key (typed keys win on writing).
        command
            .extra
            .insert(format!("X-{k}"), plist::Value::Integer(v.into()));
    }
    // An `Other` request type that names one of the schema's, or an `Other` payload holding
    // `RequestType`, is read back differently by design: skip those constructions.
    let collision = matches!(&command.request, CommandRequest::Other { request_type, .. }
        if request_type.parse::<CommandType>().is_ok())
        || matches!(&command.request, CommandRequest::Other { payload, .. } if payload.contains_key("RequestType"));
    if collision {
        return;
    }
    let rebuilt = Command::parse(
        &command.to_binary().expect("binary writes"),
        &Limits::DEFAULT,
    );
    let parsed = match rebuilt {
        Ok(parsed) => parsed,
        // Only the limits may refuse what we wrote.
        Err(error) => {
            assert!(
                matches!(
                    error,
                    mdm_protocol::ParseError::TooLarge { .. }
                        | mdm_protocol::ParseError::TooManyValues { .. }
                        | mdm_protocol::ParseError::TooManyDecodedBytes { .. }
                ),
                "{error}"
            );
            return;
        }
    };
    // For `Other`, parsing puts every key in the payload: that is the canonical form.
    if let CommandRequest::Other { payload, .. } = &mut command.request {
        for (k, v) in std::mem::take(&mut command.extra) {
            payload.entry(k).or_insert(v);
        }
    }
    assert_eq!(parsed, command, "binary round trip");
    let mut texts: Vec<&str> = vec![&command.uuid, command.request.request_type()];
    let other_strings: Vec<String> = match &command.request {
        CommandRequest::Other { payload, .. } => payload
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.as_string().unwrap_or_default().to_owned()])
            .collect(),
        CommandRequest::UnlockUserAccount(u) => vec![u.user_name.clone()],
        CommandRequest::SetAutoAdminPassword(s) => vec![s.guid.clone()],
        CommandRequest::DeviceInformation(d) => d.queries.clone(),
        CommandRequest::SetFirmwarePassword(s) => vec![
            s.new_password.expose().to_owned(),
            s.current_password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
        ],
        CommandRequest::VerifyFirmwarePassword(v) => vec![v.password.expose().to_owned()],
        CommandRequest::RotateFileVaultKey(r) => vec![
            r.unlock_password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            r.private_key_export_password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
        ],
        _ => Vec::new(),
    };
    texts.extend(other_strings.iter().map(String::as_str));
    if texts.iter().all(|t| xml_safe(t)) {
        let xml = command.to_xml().expect("XML writes");
        let parsed = Command::parse(&xml, &Limits::DEFAULT).expect("our XML parses");
        assert_eq!(parsed, command, "XML round trip");
    }
});
