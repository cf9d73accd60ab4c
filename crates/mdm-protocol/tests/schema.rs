//! Our availability table against Apple's schema (`mdm/commands/*.yaml` in the shared checkout).
//!
//! The YAML is read by a small line-based reader that understands exactly the shape of
//! `payload.supportedOS.<platform>.<flag>: value`. The directory is `$ALB_SHARED_DIR/apple-device-
//! management/mdm/commands`, or `../../../shared/…` relative to this crate.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use mdm_protocol::{Platform, RequestType};

fn commands_dir() -> PathBuf {
    let shared = std::env::var_os("ALB_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    shared.join("apple-device-management/mdm/commands")
}

/// `platform -> flag -> value` of `payload.supportedOS`, and the `payload.requesttype`.
#[derive(Debug, Default)]
struct SupportedOs {
    request_type: Option<String>,
    platforms: BTreeMap<String, BTreeMap<String, String>>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn read_supported_os(text: &str) -> SupportedOs {
    let mut out = SupportedOs::default();
    let mut in_payload = false;
    let mut in_supported = false;
    let mut platform: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let depth = indent(line);
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('\'').trim_matches('"').to_owned();
        match depth {
            0 => {
                in_payload = key == "payload";
                in_supported = false;
            }
            2 if in_payload => {
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
                if let Some(p) = &platform {
                    out.platforms
                        .get_mut(p)
                        .unwrap()
                        .insert(key.to_owned(), value);
                }
            }
            _ => {}
        }
    }
    out
}

fn schema_by_request_type() -> BTreeMap<String, (PathBuf, SupportedOs)> {
    let dir = commands_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|error| {
        panic!(
            "Apple's schema is needed for this test: cannot read {} ({error}). Put the shared \
             directory beside the repository or set ALB_SHARED_DIR to it.",
            dir.display()
        )
    });
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let parsed = read_supported_os(&std::fs::read_to_string(&path).unwrap());
            if let Some(request_type) = parsed.request_type.clone() {
                out.insert(request_type, (path, parsed));
            }
        }
    }
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

#[test]
fn availability_matches_apples_schema() {
    let schema = schema_by_request_type();
    for request_type in RequestType::ALL {
        let (path, supported) = schema
            .get(request_type.as_str())
            .unwrap_or_else(|| panic!("{request_type}: no schema file has this request type"));
        let ours = request_type.availability();
        for platform in Platform::ALL {
            let theirs = supported
                .platforms
                .get(platform.as_str())
                .filter(|f| f.get("introduced").is_some_and(|v| v != "n/a"));
            let mine = ours.on(platform);
            let place = format!("{request_type} on {platform} ({})", path.display());
            match (theirs, mine) {
                (None, None) => {}
                (Some(_), None) => panic!("{place}: supported in the schema, missing in ours"),
                (None, Some(_)) => panic!("{place}: not supported in the schema, present in ours"),
                (Some(flags), Some(mine)) => {
                    assert_eq!(
                        Some(mine.introduced),
                        flags.get("introduced").map(String::as_str),
                        "{place}"
                    );
                    let right = flags
                        .get("accessrights")
                        .map(String::as_str)
                        .filter(|r| *r != "None");
                    assert_eq!(
                        mine.access_right.map(|r| r.as_str()),
                        right,
                        "{place}: access right"
                    );
                    assert_eq!(
                        mine.device_channel,
                        flag(flags, "devicechannel", true),
                        "{place}: device channel"
                    );
                    assert_eq!(
                        mine.user_channel,
                        flag(flags, "userchannel", false),
                        "{place}: user channel"
                    );
                    assert_eq!(
                        mine.supervised,
                        flag(flags, "supervised", false),
                        "{place}: supervised"
                    );
                    assert_eq!(
                        mine.requires_dep,
                        flag(flags, "requiresdep", false),
                        "{place}: requiresdep"
                    );
                }
            }
        }
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
    assert_eq!(parsed.platforms.len(), 2);
}
