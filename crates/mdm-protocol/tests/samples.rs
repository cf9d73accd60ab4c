//! One value of every typed command and response, shared by the round-trip tests.

use mdm_protocol::{
    BypassCode, CertificateList, CertificateListItem, ClearPasscode, Command, CommandRequest,
    CommandResponse, DeviceInformation, DeviceInformationResponse, ErrorChainItem,
    FileVaultKeyType, FirmwarePasswordStatus, Identity, ManagementStatus, Password,
    ResponsePayload, RotateFileVaultKey, SLOT_ONE, SLOT_TWO, SecretData, SecurityInfo,
    ServiceSubscription, SetAutoAdminPassword, SetFirmwarePassword, Status, UnlockToken,
    UnlockUserAccount, VerifyFirmwarePassword, plist,
};

pub const CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";

pub fn all_requests() -> Vec<CommandRequest> {
    let mut other = plist::Dictionary::new();
    other.insert(
        "Identifier".into(),
        plist::Value::String("com.example.app".into()),
    );
    other.insert("Count".into(), plist::Value::Integer((-1i64).into()));
    vec![
        CommandRequest::ActivationLockBypassCode,
        CommandRequest::ClearActivationLockBypassCode,
        CommandRequest::ClearPasscode(ClearPasscode {
            unlock_token: UnlockToken::new((0u8..=255).collect()),
        }),
        CommandRequest::SecurityInfo,
        CommandRequest::CertificateList(CertificateList::default()),
        CommandRequest::CertificateList(CertificateList {
            managed_only: Some(true),
        }),
        CommandRequest::RotateFileVaultKey(RotateFileVaultKey {
            key_type: FileVaultKeyType::Personal,
            unlock_password: Some(Password::from("correct horse")),
            private_key_export: None,
            private_key_export_password: None,
            new_certificate: None,
            reply_encryption_certificate: Some(vec![0x30, 0x82, 0x01, 0x0a]),
            unlock_extra: plist::Dictionary::new(),
        }),
        CommandRequest::RotateFileVaultKey(RotateFileVaultKey {
            key_type: FileVaultKeyType::Institutional,
            unlock_password: None,
            private_key_export: Some(SecretData::new(vec![0x30, 0x80, 9, 9])),
            private_key_export_password: Some(Password::from("p12 pass")),
            new_certificate: Some(vec![0x30, 0x82]),
            reply_encryption_certificate: None,
            unlock_extra: plist::Dictionary::new(),
        }),
        CommandRequest::ClearRestrictionsPassword,
        CommandRequest::UnlockUserAccount(UnlockUserAccount {
            user_name: "student".into(),
        }),
        CommandRequest::SetAutoAdminPassword(SetAutoAdminPassword {
            guid: "2B7D4C1E-0000-4000-8000-000000000001".into(),
            password_hash: SecretData::new(b"bplist00-hash".to_vec()),
        }),
        CommandRequest::SetFirmwarePassword(SetFirmwarePassword {
            current_password: Some(Password::from("old")),
            new_password: Password::from(""),
            allow_oroms: Some(false),
        }),
        CommandRequest::VerifyFirmwarePassword(VerifyFirmwarePassword {
            password: Password::from("fw <&> pass"),
        }),
        CommandRequest::DeviceInformation(DeviceInformation::for_unlock()),
        CommandRequest::Other {
            request_type: "FutureCommand".into(),
            payload: other,
        },
    ]
}

pub fn all_commands() -> Vec<Command> {
    all_requests()
        .into_iter()
        .enumerate()
        .map(|(i, request)| Command::with_uuid(format!("UUID-{i:04}"), request))
        .collect()
}

fn udid() -> Identity {
    Identity {
        udid: Some("00008101-001A2B3C4D5E6F70".into()),
        ..Identity::default()
    }
}

pub fn all_responses() -> Vec<CommandResponse> {
    let code: BypassCode = CODE.parse().unwrap();
    let mut extra = plist::Dictionary::new();
    extra.insert(
        "CarrierSettingsVersion".into(),
        plist::Value::String("60.0".into()),
    );
    let payloads = vec![
        ResponsePayload::None,
        ResponsePayload::ActivationLockBypassCode { code: Some(code) },
        ResponsePayload::SecurityInfo(SecurityInfo {
            hardware_encryption_caps: Some(3),
            passcode_present: Some(true),
            passcode_compliant: Some(true),
            fde_enabled: Some(false),
            firmware_password_status: Some(FirmwarePasswordStatus {
                password_exists: Some(false),
                change_pending: Some(false),
                allow_oroms: None,
                ..FirmwarePasswordStatus::default()
            }),
            management_status: Some(ManagementStatus {
                enrolled_via_dep: Some(true),
                is_activation_lock_manageable: Some(true),
                ..ManagementStatus::default()
            }),
            ..SecurityInfo::default()
        }),
        ResponsePayload::CertificateList(vec![CertificateListItem {
            common_name: "MDM Identity".into(),
            is_identity: true,
            data: vec![0x30, 0x82, 0x03, 0x00],
            ..CertificateListItem::default()
        }]),
        ResponsePayload::DeviceInformation(Box::new(DeviceInformationResponse {
            serial_number: Some("DMPZK1ABCDEF".into()),
            product_name: Some("iPad4,1".into()),
            model_name: Some("iPad".into()),
            service_subscriptions: vec![
                ServiceSubscription {
                    slot: Some(SLOT_ONE.into()),
                    imei: Some("352099001761481".into()),
                    meid: Some("35209900176148".into()),
                    extra,
                    ..ServiceSubscription::default()
                },
                ServiceSubscription {
                    slot: Some(SLOT_TWO.into()),
                    imei: Some("352099001761499".into()),
                    ..ServiceSubscription::default()
                },
            ],
            ..DeviceInformationResponse::default()
        })),
        ResponsePayload::SetFirmwarePassword {
            password_changed: true,
            extra: plist::Dictionary::new(),
        },
        ResponsePayload::VerifyFirmwarePassword {
            password_verified: false,
            extra: plist::Dictionary::new(),
        },
        ResponsePayload::RotateFileVaultKey {
            encrypted_new_recovery_key: Some(SecretData::new(vec![1, 2, 3, 4])),
            extra: plist::Dictionary::new(),
        },
    ];
    let mut responses: Vec<CommandResponse> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, payload)| CommandResponse {
            payload,
            identity: udid(),
            ..CommandResponse::new(Some(format!("UUID-{i:04}")), Status::Acknowledged)
        })
        .collect();
    let mut failed = CommandResponse::new(Some("UUID-ERR".into()), Status::Error);
    failed.identity = Identity {
        enrollment_id: Some("EID-1".into()),
        enrollment_user_id: Some("EUID-1".into()),
        user_id: Some("U-1".into()),
        user_short_name: Some("ada".into()),
        user_long_name: Some("Ada Lovelace".into()),
        not_on_console: Some(false),
        ..Identity::default()
    };
    failed.error_chain = vec![ErrorChainItem {
        error_code: -1,
        error_domain: "MCMDMErrorDomain".into(),
        localized_description: Some("No.".into()),
        us_english_description: None,
        ..ErrorChainItem::default()
    }];
    responses.push(failed);
    responses.push(CommandResponse::new(None, Status::Idle));
    responses
}
