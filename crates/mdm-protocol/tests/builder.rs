//! `CommandBuilder`: commands of any request type from `KEY=VALUE` pairs, JSON or property
//! lists, checked against the schema, with key paths in every refusal.

use mdm_protocol::{
    BuildError, Command, CommandBuilder, CommandRequest, CommandType, FileVaultKeyType, Limits,
    SchemaRequest, plist, plist::Value,
};

fn build(command_type: CommandType, pairs: &[&str]) -> Result<Command, BuildError> {
    let mut builder = CommandBuilder::new(command_type);
    builder.uuid("U");
    for pair in pairs {
        builder.set_assignment(pair)?;
    }
    builder.build()
}

#[test]
fn every_request_type_builds_with_its_required_keys() {
    for command_type in CommandType::ALL {
        let mut builder = CommandBuilder::new(command_type);
        let mut sampler = mdm_protocol::sample::Sampler::new(mdm_protocol::sample::Seeded(5));
        sampler.unknown_keys = false;
        sampler.unlisted_values = false;
        for key in command_type.spec().request.iter().filter(|k| k.required) {
            builder.set_value(key.key, &sampler.value(key)).unwrap();
        }
        let command = builder
            .build()
            .unwrap_or_else(|e| panic!("{command_type}: {e}"));
        assert_eq!(command.request.command_type(), Some(command_type));
        assert!(!matches!(command.request, CommandRequest::Other { .. }));
        assert!(
            command.extra.is_empty(),
            "{command_type}: {:?}",
            command.extra
        );
        let again = Command::parse(&command.to_xml().unwrap(), &Limits::DEFAULT).unwrap();
        assert_eq!(again, command);
    }
}

#[test]
fn scalars_are_read_as_their_types() {
    let command = build(
        CommandType::EraseDevice,
        &[
            "PIN=123456",
            "PreserveDataPlan=true",
            "DisallowProximitySetup=false",
            "ObliterationBehavior=ObliterateWithWarning",
        ],
    )
    .unwrap();
    let CommandRequest::Schema(SchemaRequest::EraseDevice(erase)) = &command.request else {
        panic!("not EraseDevice");
    };
    assert_eq!(erase.pin.as_ref().map(|p| p.expose()), Some("123456"));
    assert_eq!(erase.preserve_data_plan, Some(true));
    assert_eq!(
        erase.obliteration_behavior.as_ref().map(|b| b.as_str()),
        Some("ObliterateWithWarning")
    );

    let command = build(
        CommandType::ClearPasscode,
        &["UnlockToken=hex:444154410001"],
    )
    .unwrap();
    let CommandRequest::ClearPasscode(clear) = &command.request else {
        panic!("not ClearPasscode");
    };
    assert_eq!(clear.unlock_token.as_bytes(), b"DATA\x00\x01");

    let command = build(
        CommandType::RotateFileVaultKey,
        &[
            "KeyType=institutional",
            "FileVaultUnlock.PrivateKeyExport=AAEC",
            "FileVaultUnlock.PrivateKeyExportPassword=p12",
        ],
    )
    .unwrap();
    let CommandRequest::RotateFileVaultKey(rotate) = &command.request else {
        panic!("not RotateFileVaultKey");
    };
    assert_eq!(rotate.key_type, FileVaultKeyType::Institutional);
    assert_eq!(
        rotate.private_key_export.as_ref().unwrap().as_bytes(),
        [0, 1, 2]
    );
}

#[test]
fn arrays_unions_and_maps_by_path() {
    let command = build(
        CommandType::DeviceInformation,
        &["Queries.0=SerialNumber", "Queries.1=IMEI"],
    )
    .unwrap();
    let CommandRequest::DeviceInformation(info) = &command.request else {
        panic!("not DeviceInformation");
    };
    assert_eq!(info.queries, ["SerialNumber", "IMEI"]);

    let command = build(
        CommandType::Settings,
        &[
            "Settings.0.Item=Wallpaper",
            "Settings.0.Image=AAEC",
            "Settings.0.Where=3",
            "Settings.1={\"Item\": \"ApplicationConfiguration\", \"Identifier\": \"com.example.app\", \"Configuration\": {\"a.b\": 1}}",
            r"Settings.1.Configuration.c\.d=plain",
        ],
    )
    .unwrap();
    let CommandRequest::Schema(SchemaRequest::Settings(settings)) = &command.request else {
        panic!("not Settings");
    };
    use mdm_protocol::generated::commands::settings::SettingsItem;
    let [
        SettingsItem::Wallpaper(wallpaper),
        SettingsItem::ApplicationConfiguration(app),
    ] = settings.settings.as_slice()
    else {
        panic!("items: {:?}", settings.settings);
    };
    assert_eq!(wallpaper.r#where, 3);
    assert_eq!(wallpaper.image.as_ref(), [0, 1, 2]);
    let configuration = app.configuration.as_ref().unwrap();
    assert_eq!(configuration["a.b"], Value::Integer(1.into()));
    assert_eq!(configuration["c.d"], Value::String("plain".into()));
}

#[test]
fn refusals_name_the_key_path() {
    let error = build(CommandType::Settings, &["Settings.0.Image=AAEC"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Settings.0.Image: set `Settings.0.Item` first: it says which item this is"
    );
    let error = build(
        CommandType::Settings,
        &["Settings.0.Item=Wallpaper", "Settings.0.Colour=red"],
    )
    .unwrap_err();
    assert!(
        matches!(&error, BuildError::UnknownKey { path, known } if path == "Settings.0.Colour" && known.contains(&"Image")),
        "{error}"
    );
    let error = build(
        CommandType::Settings,
        &["Settings.0.Item=Wallpaper", "Settings.0.Where=top"],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Settings.0.Where: expected integer: not a decimal integer"
    );
    let error = build(
        CommandType::Settings,
        &["Settings.0.Item=Wallpaper", "Settings.0.Where=9"],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Settings.0.Where: not one of the values the schema lists (1, 2, 3)"
    );
    let error = build(CommandType::Settings, &["Settings.2.Item=Wallpaper"]).unwrap_err();
    assert!(matches!(error, BuildError::BadPath { .. }), "{error}");
    let error = build(
        CommandType::Settings,
        &["Settings.0.Item=Wallpaper", "Settings.0.Image=AAEC"],
    )
    .unwrap_err();
    assert_eq!(
        error,
        BuildError::Missing {
            path: "Settings.0.Where".into(),
            expected: "integer"
        }
    );
    let error = build(CommandType::SetRecoveryLock, &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "NewPassword: required key is not set (expected string)"
    );
    let error = build(CommandType::DeviceLock, &["PIN"]).unwrap_err();
    assert!(matches!(error, BuildError::BadAssignment { .. }));
    let error = build(CommandType::RestartDevice, &["NotifyUser=yes"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "NotifyUser: expected boolean: not `true` or `false`"
    );
    assert!(matches!(
        CommandBuilder::for_request_type("EraseEverything"),
        Err(BuildError::UnknownRequestType { .. })
    ));
}

#[test]
fn refusals_never_quote_the_value() {
    let error = build(
        CommandType::SetRecoveryLock,
        &["NewPassword.Deeper=s3cr3t-value"],
    )
    .unwrap_err();
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
    let error = build(CommandType::DeviceLock, &["PIN={\"not\": \"s3cr3t-json\"}"]);
    // A string key takes the text as it is: JSON is only read for containers.
    assert!(error.is_ok());
    let error = CommandBuilder::new(CommandType::DeviceLock)
        .set_json(r#"{"PIN": 123456}"#)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "PIN: expected string: found a JSON number"
    );
}

#[test]
fn unlisted_values_are_refused_unless_allowed() {
    let error = build(
        CommandType::EraseDevice,
        &["ObliterationBehavior=Sometimes"],
    )
    .unwrap_err();
    assert!(matches!(error, BuildError::NotAllowed { .. }), "{error}");
    let mut builder = CommandBuilder::new(CommandType::EraseDevice);
    builder
        .allow_unlisted_values(true)
        .set("ObliterationBehavior", "Sometimes")
        .unwrap();
    let command = builder.build().unwrap();
    let CommandRequest::Schema(SchemaRequest::EraseDevice(erase)) = &command.request else {
        panic!("not EraseDevice");
    };
    assert_eq!(
        erase.obliteration_behavior.as_ref().unwrap().as_str(),
        "Sometimes"
    );
}

#[test]
fn json_and_plist_dictionaries() {
    let mut builder = CommandBuilder::new(CommandType::ScheduleOsUpdate);
    builder
        .set_json(
            r#"{"Updates": [{"ProductKey": "082-12345", "InstallAction": "InstallASAP", "MaxUserDeferrals": 3}],
                "RequestRequiresNetworkTether": false}"#,
        )
        .unwrap();
    let command = builder.build().unwrap();
    let CommandRequest::Schema(SchemaRequest::ScheduleOsUpdate(update)) = &command.request else {
        panic!("not ScheduleOSUpdate");
    };
    let item = &update.updates[0];
    assert_eq!(item.product_key.as_deref(), Some("082-12345"));
    assert_eq!(item.max_user_deferrals, Some(3));
    assert_eq!(
        command.extra.get("RequestRequiresNetworkTether"),
        Some(&Value::Boolean(false))
    );

    let mut dict = plist::Dictionary::new();
    dict.insert("Identifier".into(), Value::String("com.example".into()));
    let mut builder = CommandBuilder::new(CommandType::RemoveApplication);
    builder.set_plist(&dict).unwrap();
    assert!(matches!(
        builder.build().unwrap().request,
        CommandRequest::Schema(SchemaRequest::RemoveApplication(_))
    ));
    dict.insert("Identifier".into(), Value::Integer(3.into()));
    let error = CommandBuilder::new(CommandType::RemoveApplication)
        .set_plist(&dict)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Identifier: expected string: found integer"
    );
    let error = CommandBuilder::new(CommandType::RemoveApplication)
        .set_json("[1]")
        .unwrap_err();
    assert!(matches!(error, BuildError::WrongType { .. }));
}

#[test]
fn failed_sets_leave_nothing_behind() {
    let mut builder = CommandBuilder::new(CommandType::Settings);
    builder.uuid("U");
    assert!(builder.set("Settings.0.Image", "AAEC").is_err());
    builder.set("Settings.0.Item", "Bluetooth").unwrap();
    assert!(builder.set("Settings.0.Enabled", "maybe").is_err());
    builder.set("Settings.0.Enabled", "true").unwrap();
    let command = builder.build().unwrap();
    let CommandRequest::Schema(SchemaRequest::Settings(settings)) = &command.request else {
        panic!("not Settings");
    };
    assert_eq!(settings.settings.len(), 1);
}
