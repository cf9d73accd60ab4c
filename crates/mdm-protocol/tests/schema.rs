//! The generated code against Apple's schema, read here by a second, independent reader: a
//! small line-based one that understands exactly the shapes it checks
//! (`payload.requesttype`, `payload.supportedOS.<platform>.<flag>`, its `sharedipad.mode` and
//! `userenrollment.mode`, and the top-level `- key:` names of `payloadkeys` and
//! `responsekeys`). The schema is `vendor/apple-device-management/mdm` (or under
//! `$ALB_SHARED_DIR`); without it these tests fail, saying so.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use mdm_protocol::{Availability, CheckinType, CommandType, Platform, RequestType};

fn mdm_dir(sub: &str) -> PathBuf {
    crate::apple_examples::schema_dir().join("mdm").join(sub)
}

/// `platform -> flag -> value` of `payload.supportedOS`, the `payload.requesttype`, and the
/// top-level keys.
#[derive(Debug, Default)]
struct SupportedOs {
    request_type: Option<String>,
    platforms: BTreeMap<String, BTreeMap<String, String>>,
    request_keys: Vec<String>,
    response_keys: Vec<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn read_supported_os(text: &str) -> SupportedOs {
    let mut out = SupportedOs::default();
    let mut section = "";
    let mut in_supported = false;
    let mut platform: Option<String> = None;
    let mut object: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let depth = indent(line);
        if depth == 0
            && let Some(key) = line.strip_prefix("- key: ")
        {
            match section {
                "payloadkeys" => out.request_keys.push(key.trim().to_owned()),
                "responsekeys" => out.response_keys.push(key.trim().to_owned()),
                _ => {}
            }
            continue;
        }
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('\'').trim_matches('"').to_owned();
        match depth {
            0 => {
                section = match key {
                    "payload" => "payload",
                    "payloadkeys" => "payloadkeys",
                    "responsekeys" => "responsekeys",
                    _ => "",
                };
                in_supported = false;
            }
            2 if section == "payload" => {
                in_supported = key == "supportedOS";
                if key == "requesttype" {
                    out.request_type = Some(value);
                }
            }
            4 if in_supported => {
                platform = Some(key.to_owned());
                out.platforms.entry(key.to_owned()).or_default();
            }
            6 if in_supported => {
                object = Some(key.to_owned());
                if let Some(p) = &platform {
                    out.platforms
                        .get_mut(p)
                        .unwrap()
                        .insert(key.to_owned(), value);
                }
            }
            8 if in_supported => {
                if let (Some(p), Some(o)) = (&platform, &object) {
                    out.platforms
                        .get_mut(p)
                        .unwrap()
                        .insert(format!("{o}.{key}"), value);
                }
            }
            _ => {}
        }
    }
    out
}

fn schema_by_request_type(sub: &str) -> BTreeMap<String, (PathBuf, SupportedOs)> {
    let dir = mdm_dir(sub);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|error| {
        panic!(
            "Apple's schema is needed for this test: cannot read {} ({error}). It is kept in \
             crates/mdm-protocol/vendor/apple-device-management (or set ALB_SHARED_DIR).",
            dir.display()
        )
    });
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let parsed = read_supported_os(&std::fs::read_to_string(&path).unwrap());
            let request_type = parsed
                .request_type
                .clone()
                .unwrap_or_else(|| panic!("{}: no payload.requesttype", path.display()));
            out.insert(request_type, (path, parsed));
        }
    }
    assert!(
        !out.is_empty(),
        "Apple's schema is needed for this test: no YAML file in {}",
        dir.display()
    );
    out
}

fn flag(flags: &BTreeMap<String, String>, name: &str, default: bool) -> bool {
    match flags.get(name).map(String::as_str) {
        None => default,
        Some("true") => true,
        Some("false") => false,
        Some(other) => panic!("{name}: not a boolean: {other}"),
    }
}

fn compare(name: &str, path: &std::path::Path, supported: &SupportedOs, ours: Availability) {
    for platform in Platform::ALL {
        let theirs = supported
            .platforms
            .get(platform.as_str())
            .filter(|f| f.get("introduced").is_some_and(|v| v != "n/a"));
        let mine = ours.on(platform);
        let place = format!("{name} on {platform} ({})", path.display());
        match (theirs, mine) {
            (None, None) => {}
            (Some(_), None) => panic!("{place}: supported in the schema, missing in ours"),
            (None, Some(_)) => panic!("{place}: not supported in the schema, present in ours"),
            (Some(flags), Some(mine)) => {
                let text = |key: &str| flags.get(key).map(String::as_str);
                assert_eq!(Some(mine.introduced), text("introduced"), "{place}");
                assert_eq!(mine.deprecated, text("deprecated"), "{place}: deprecated");
                assert_eq!(mine.removed, text("removed"), "{place}: removed");
                let right = text("accessrights").filter(|r| *r != "None" && *r != "n/a");
                assert_eq!(
                    mine.access_right.map(|r| r.as_str()),
                    right,
                    "{place}: right"
                );
                for (ours, key, default) in [
                    (mine.device_channel, "devicechannel", true),
                    (mine.user_channel, "userchannel", false),
                    (mine.supervised, "supervised", false),
                    (mine.requires_dep, "requiresdep", false),
                    (mine.requires_user_approved_mdm, "userapprovedmdm", false),
                ] {
                    assert_eq!(ours, flag(flags, key, default), "{place}: {key}");
                }
                assert_eq!(
                    mine.shared_ipad.map(|s| s.mode.as_str()),
                    text("sharedipad.mode"),
                    "{place}: sharedipad"
                );
                assert_eq!(
                    mine.user_enrollment.map(|u| u.mode.as_str()),
                    text("userenrollment.mode"),
                    "{place}: userenrollment"
                );
            }
        }
    }
}

#[test]
fn every_command_of_the_schema_is_typed_with_its_availability_and_keys() {
    let schema = schema_by_request_type("commands");
    let names: BTreeSet<&str> = CommandType::ALL.iter().map(|t| t.as_str()).collect();
    let theirs: BTreeSet<&str> = schema.keys().map(String::as_str).collect();
    assert_eq!(
        names, theirs,
        "the schema's request types and CommandType::ALL differ"
    );
    for command_type in CommandType::ALL {
        let (path, supported) = &schema[command_type.as_str()];
        compare(
            command_type.as_str(),
            path,
            supported,
            command_type.availability(),
        );
        let spec = command_type.spec();
        assert_eq!(spec.name, command_type.as_str());
        let keys = |k: &[mdm_protocol::schema::KeySpec]| -> Vec<String> {
            k.iter().map(|k| k.key.to_owned()).collect()
        };
        assert_eq!(
            keys(spec.request),
            supported.request_keys,
            "{}",
            path.display()
        );
        assert_eq!(
            keys(spec.response),
            supported.response_keys,
            "{}",
            path.display()
        );
    }
    // The hand-written request types keep their availability, from the same data.
    for request_type in RequestType::ALL {
        let (path, supported) = &schema[request_type.as_str()];
        compare(
            request_type.as_str(),
            path,
            supported,
            request_type.availability(),
        );
    }
}

#[test]
fn every_checkin_message_of_the_schema_is_typed_with_its_availability_and_keys() {
    let schema = schema_by_request_type("checkin");
    let names: BTreeSet<&str> = CheckinType::ALL.iter().map(|t| t.as_str()).collect();
    let theirs: BTreeSet<&str> = schema.keys().map(String::as_str).collect();
    assert_eq!(
        names, theirs,
        "the schema's message types and CheckinType::ALL differ"
    );
    for checkin_type in CheckinType::ALL {
        let (path, supported) = &schema[checkin_type.as_str()];
        compare(
            checkin_type.as_str(),
            path,
            supported,
            checkin_type.availability(),
        );
        let mut theirs = supported.request_keys.clone();
        theirs.retain(|k| k != "MessageType");
        let ours: Vec<String> = checkin_type
            .spec()
            .request
            .iter()
            .map(|k| k.key.to_owned())
            .collect();
        assert_eq!(ours, theirs, "{}", path.display());
    }
}

#[test]
fn the_line_reader_reads_the_shape_it_expects() {
    let text = "title: T\npayload:\n  requesttype: X\n  supportedOS:\n    iOS:\n      introduced: '7.1'\n      supervised: true\n      sharedipad:\n        mode: forbidden\n    tvOS:\n      introduced: n/a\n  content: c\npayloadkeys:\n- key: K\n  supportedOS:\n    iOS:\n      introduced: '99'\n";
    let parsed = read_supported_os(text);
    assert_eq!(parsed.request_type.as_deref(), Some("X"));
    assert_eq!(parsed.platforms["iOS"]["introduced"], "7.1");
    assert_eq!(parsed.platforms["iOS"]["supervised"], "true");
    assert!(!parsed.platforms["iOS"].contains_key("mode"));
    assert_eq!(parsed.platforms["tvOS"]["introduced"], "n/a");
    assert_eq!(parsed.platforms["iOS"]["sharedipad.mode"], "forbidden");
    assert_eq!(parsed.platforms.len(), 2);
    assert_eq!(parsed.request_keys, ["K"]);
}
