//! `supportedOS` resolved: a key's entry updates its parent's (the payload's, or the enclosing
//! key's) platform by platform and field by field, as the schema's documentation says.

use alloc::collections::BTreeMap;

use super::{
    ir::{Avail, PlatAvail},
    yaml,
};

/// The platforms, in schema order: (schema name, `Platform` variant).
const PLATFORMS: [(&str, &str); 5] = [
    ("iOS", "Ios"),
    ("macOS", "MacOs"),
    ("tvOS", "TvOs"),
    ("visionOS", "VisionOs"),
    ("watchOS", "WatchOs"),
];

/// A resolved `supportedOS`: platform → merged entry.
pub type Resolved = BTreeMap<String, yaml::Os>;

/// `parent` updated, platform by platform and field by field, with `own`.
pub fn resolve(parent: &Resolved, own: Option<&yaml::SupportedOs>) -> Result<Resolved, String> {
    let mut out = parent.clone();
    let Some(own) = own else {
        return Ok(out);
    };
    for (platform, entry) in own {
        if !PLATFORMS.iter().any(|(name, _)| name == platform) {
            return Err(format!("unknown platform {platform}"));
        }
        let Some(entry) = entry else { continue };
        if entry.multiple.is_some() || entry.allowmanualinstall.is_some() {
            return Err(format!("{platform}: profile-only fields on an MDM message"));
        }
        let merged = out.entry(platform.clone()).or_default();
        macro_rules! take {
            ($($field:ident),*) => {$(
                if entry.$field.is_some() {
                    merged.$field.clone_from(&entry.$field);
                }
            )*};
        }
        take!(
            introduced,
            deprecated,
            removed,
            accessrights,
            devicechannel,
            userchannel,
            supervised,
            requiresdep,
            userapprovedmdm
        );
        if let Some(shared) = &entry.sharedipad {
            let target = merged.sharedipad.get_or_insert_with(Default::default);
            if shared.mode.is_some() {
                target.mode.clone_from(&shared.mode);
            }
            if shared.devicechannel.is_some() {
                target.devicechannel = shared.devicechannel;
            }
            if shared.userchannel.is_some() {
                target.userchannel = shared.userchannel;
            }
        }
        if let Some(user) = &entry.userenrollment {
            let target = merged.userenrollment.get_or_insert_with(Default::default);
            if user.mode.is_some() {
                target.mode.clone_from(&user.mode);
            }
            if user.behavior.is_some() {
                target.behavior.clone_from(&user.behavior);
            }
        }
    }
    Ok(out)
}

fn mode(value: Option<&String>, what: &str) -> Result<String, String> {
    match value.map(String::as_str) {
        Some(m @ ("allowed" | "required" | "forbidden" | "ignored")) => Ok(m.to_owned()),
        other => Err(format!("{what}: unknown mode {other:?}")),
    }
}

pub fn avail(resolved: &Resolved, path: &str) -> Result<Avail, String> {
    let mut out = Vec::new();
    for (name, variant) in PLATFORMS {
        let Some(os) = resolved.get(name) else {
            continue;
        };
        let introduced = os
            .introduced
            .clone()
            .ok_or_else(|| format!("{path}: {name} has no `introduced`"))?;
        if introduced == "n/a" {
            continue;
        }
        if !introduced.split('.').all(|p| p.parse::<u32>().is_ok()) {
            return Err(format!("{path}: {name}: version {introduced:?}"));
        }
        let shared_ipad = match &os.sharedipad {
            None => None,
            Some(s) => Some((
                mode(s.mode.as_ref(), "sharedipad")?,
                s.devicechannel,
                s.userchannel,
            )),
        };
        let user_enrollment = match &os.userenrollment {
            None => None,
            Some(u) => Some((mode(u.mode.as_ref(), "userenrollment")?, u.behavior.clone())),
        };
        out.push(PlatAvail {
            platform: variant,
            display: name,
            introduced,
            deprecated: os.deprecated.clone(),
            removed: os.removed.clone(),
            access_right: os
                .accessrights
                .clone()
                .filter(|r| r != "None" && r != "n/a"),
            device_channel: os.devicechannel.unwrap_or(true),
            user_channel: os.userchannel.unwrap_or(false),
            supervised: os.supervised.unwrap_or(false),
            requires_dep: os.requiresdep.unwrap_or(false),
            user_approved: os.userapprovedmdm.unwrap_or(false),
            shared_ipad,
            user_enrollment,
        });
    }
    Ok(Avail(out))
}
