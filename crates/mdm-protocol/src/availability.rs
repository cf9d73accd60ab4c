//! Where a command, check-in message or key may be used: platforms, versions, channels,
//! supervision, access rights, user enrollment and Shared iPad, as Apple's device-management
//! schema states them (`supportedOS`). The values are generated as `const` data
//! (`cargo xtask codegen`); these are their types.

use core::fmt;

/// An Apple operating system that speaks MDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// iOS and iPadOS.
    Ios,
    /// macOS.
    MacOs,
    /// tvOS.
    TvOs,
    /// visionOS.
    VisionOs,
    /// watchOS.
    WatchOs,
}

impl Platform {
    /// Every platform, in schema order.
    pub const ALL: [Self; 5] = [
        Self::Ios,
        Self::MacOs,
        Self::TvOs,
        Self::VisionOs,
        Self::WatchOs,
    ];

    /// The platform of a product type as a device reports it (`iPhone14,2`, `iPad4,1`,
    /// `Mac14,2`, `MacBookPro18,3`, `AppleTV6,2`, `Watch6,1`, `RealityDevice14,1`), or `None`
    /// for one this table does not know.
    ///
    /// ```
    /// use mdm_protocol::Platform;
    /// assert_eq!(Platform::of_product_type("iPad4,1"), Some(Platform::Ios));
    /// assert_eq!(Platform::of_product_type("MacBookPro18,3"), Some(Platform::MacOs));
    /// assert_eq!(Platform::of_product_type("Toaster1,1"), None);
    /// ```
    #[must_use]
    pub fn of_product_type(product_type: &str) -> Option<Self> {
        const PREFIXES: [(&str, Platform); 10] = [
            ("iPhone", Platform::Ios),
            ("iPad", Platform::Ios),
            ("iPod", Platform::Ios),
            ("AppleTV", Platform::TvOs),
            ("Watch", Platform::WatchOs),
            ("RealityDevice", Platform::VisionOs),
            ("MacBook", Platform::MacOs),
            ("Macmini", Platform::MacOs),
            ("iMac", Platform::MacOs),
            ("Mac", Platform::MacOs),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| {
                product_type.starts_with(prefix)
                    && product_type[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
                    || *prefix == "MacBook" && product_type.starts_with("MacBook")
            })
            .map(|(_, platform)| *platform)
    }

    /// The schema's name: `iOS`, `macOS`, `tvOS`, `visionOS`, `watchOS`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ios => "iOS",
            Self::MacOs => "macOS",
            Self::TvOs => "tvOS",
            Self::VisionOs => "visionOS",
            Self::WatchOs => "watchOS",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An MDM access right the enrollment profile must grant before the device runs the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessRight {
    /// `AllowPasscodeRemovalAndLock` (iOS: device lock and passcode removal).
    AllowPasscodeRemovalAndLock,
    /// `DeviceLockAndRemovePasscode` (macOS spelling of the same right).
    DeviceLockAndRemovePasscode,
    /// `AllowInspection` (inspect installed profiles and certificates).
    AllowInspection,
    /// `AllowQuerySecurity` (query security information).
    AllowQuerySecurity,
    /// `Special Case`: the right depends on what is asked (e.g. each `DeviceInformation` query).
    SpecialCase,
    /// `AllowQueryDeviceInformation` (query device information).
    AllowQueryDeviceInformation,
    /// `AllowQueryNetworkInformation` (query network information).
    AllowQueryNetworkInformation,
    /// `AllowQueryApplications` (query installed apps).
    AllowQueryApplications,
    /// `QueryInstalledApps` (the schema's other spelling of the installed-apps right).
    QueryInstalledApps,
    /// `AllowQueryRestrictions` (query restrictions).
    AllowQueryRestrictions,
    /// `AllowAppInstallation` (install and manage apps).
    AllowAppInstallation,
    /// `AllowInstallationRemoval` (install and remove profiles).
    AllowInstallationRemoval,
    /// `AllowProvisioningInstallationRemoval` (install and remove provisioning profiles).
    AllowProvisioningInstallationRemoval,
    /// `AllowProvisioningInspection` (inspect provisioning profiles).
    AllowProvisioningInspection,
    /// `AllowDeviceErase` (erase the device).
    AllowDeviceErase,
    /// `AllowSettings` (apply settings).
    AllowSettings,
}

impl AccessRight {
    /// The schema's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AllowPasscodeRemovalAndLock => "AllowPasscodeRemovalAndLock",
            Self::DeviceLockAndRemovePasscode => "DeviceLockAndRemovePasscode",
            Self::AllowInspection => "AllowInspection",
            Self::AllowQuerySecurity => "AllowQuerySecurity",
            Self::SpecialCase => "Special Case",
            Self::AllowQueryDeviceInformation => "AllowQueryDeviceInformation",
            Self::AllowQueryNetworkInformation => "AllowQueryNetworkInformation",
            Self::AllowQueryApplications => "AllowQueryApplications",
            Self::QueryInstalledApps => "QueryInstalledApps",
            Self::AllowQueryRestrictions => "AllowQueryRestrictions",
            Self::AllowAppInstallation => "AllowAppInstallation",
            Self::AllowInstallationRemoval => "AllowInstallationRemoval",
            Self::AllowProvisioningInstallationRemoval => "AllowProvisioningInstallationRemoval",
            Self::AllowProvisioningInspection => "AllowProvisioningInspection",
            Self::AllowDeviceErase => "AllowDeviceErase",
            Self::AllowSettings => "AllowSettings",
        }
    }
}

impl fmt::Display for AccessRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How something may be used under Shared iPad or user enrollment (the schema's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allowance {
    /// `allowed`: usable with or without it.
    Allowed,
    /// `required`: usable only with it.
    Required,
    /// `forbidden`: not usable with it.
    Forbidden,
    /// `ignored`: accepted but without effect with it.
    Ignored,
}

impl Allowance {
    /// The schema's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Required => "required",
            Self::Forbidden => "forbidden",
            Self::Ignored => "ignored",
        }
    }
}

impl fmt::Display for Allowance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Behaviour on a Shared iPad (the schema's `sharedipad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedIpad {
    /// Whether it may be used on a Shared iPad.
    pub mode: Allowance,
    /// Accepted on a Shared iPad's device channel, when the schema says.
    pub device_channel: Option<bool>,
    /// Accepted on a Shared iPad's user channel, when the schema says.
    pub user_channel: Option<bool>,
}

/// Behaviour under user enrollment (the schema's `userenrollment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserEnrollment {
    /// Whether it may be used under user enrollment.
    pub mode: Allowance,
    /// Special behaviour the schema describes, if any.
    pub behavior: Option<&'static str>,
}

/// Support on one platform.
///
/// Where the schema leaves a flag out, the MDM defaults apply: the device channel is supported,
/// the user channel is not, supervision, Automated Device Enrollment and user-approved MDM are
/// not required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlatformAvailability {
    /// The platform.
    pub platform: Platform,
    /// The OS version it was introduced in, e.g. `"7.1"`.
    pub introduced: &'static str,
    /// The OS version it was deprecated in, if it was.
    pub deprecated: Option<&'static str>,
    /// The OS version it was removed in, if it was.
    pub removed: Option<&'static str>,
    /// The access right required, if any.
    pub access_right: Option<AccessRight>,
    /// Accepted on the device channel.
    pub device_channel: bool,
    /// Accepted on the user channel.
    pub user_channel: bool,
    /// Only runs on supervised devices.
    pub supervised: bool,
    /// Only runs on devices enrolled through Automated Device Enrollment (DEP).
    pub requires_dep: bool,
    /// Only runs on devices with a user-approved MDM enrollment.
    pub requires_user_approved_mdm: bool,
    /// Shared iPad behaviour, when the schema states it.
    pub shared_ipad: Option<SharedIpad>,
    /// User-enrollment behaviour, when the schema states it.
    pub user_enrollment: Option<UserEnrollment>,
}

impl PlatformAvailability {
    /// The usual case: device channel only, nothing else required.
    pub(crate) const fn device(platform: Platform, introduced: &'static str) -> Self {
        Self {
            platform,
            introduced,
            deprecated: None,
            removed: None,
            access_right: None,
            device_channel: true,
            user_channel: false,
            supervised: false,
            requires_dep: false,
            requires_user_approved_mdm: false,
            shared_ipad: None,
            user_enrollment: None,
        }
    }

    pub(crate) const fn right(mut self, right: AccessRight) -> Self {
        self.access_right = Some(right);
        self
    }

    pub(crate) const fn supervised(mut self) -> Self {
        self.supervised = true;
        self
    }

    pub(crate) const fn user_channel(mut self) -> Self {
        self.user_channel = true;
        self
    }

    pub(crate) const fn no_device_channel(mut self) -> Self {
        self.device_channel = false;
        self
    }

    pub(crate) const fn dep(mut self) -> Self {
        self.requires_dep = true;
        self
    }

    // The generator emits it for `userapprovedmdm: true`, which this schema release never sets.
    #[allow(dead_code)]
    pub(crate) const fn user_approved(mut self) -> Self {
        self.requires_user_approved_mdm = true;
        self
    }

    pub(crate) const fn deprecated(mut self, version: &'static str) -> Self {
        self.deprecated = Some(version);
        self
    }

    pub(crate) const fn removed(mut self, version: &'static str) -> Self {
        self.removed = Some(version);
        self
    }

    pub(crate) const fn shared_ipad(
        mut self,
        mode: Allowance,
        device_channel: Option<bool>,
        user_channel: Option<bool>,
    ) -> Self {
        self.shared_ipad = Some(SharedIpad {
            mode,
            device_channel,
            user_channel,
        });
        self
    }

    pub(crate) const fn user_enrollment(
        mut self,
        mode: Allowance,
        behavior: Option<&'static str>,
    ) -> Self {
        self.user_enrollment = Some(UserEnrollment { mode, behavior });
        self
    }

    /// Whether `version` (dotted, e.g. `"17.4.1"`) is at least `introduced` and, when it
    /// was removed, older than `removed`.
    #[must_use]
    pub fn supports_version(&self, version: &str) -> bool {
        at_least(version, self.introduced) && self.removed.is_none_or(|r| !at_least(version, r))
    }

    /// Whether it is deprecated in `version` (dotted).
    #[must_use]
    pub fn is_deprecated_in(&self, version: &str) -> bool {
        self.deprecated.is_some_and(|d| at_least(version, d))
    }
}

/// Whether dotted `version` is at least dotted `need` (missing parts count as 0; parts that are
/// not numbers count as 0).
fn at_least(version: &str, need: &str) -> bool {
    let mut have = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let mut need = need.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    loop {
        match (have.next(), need.next()) {
            (_, None) => return true,
            (None, Some(n)) if n > 0 => return false,
            (Some(h), Some(n)) if h != n => return h > n,
            _ => {}
        }
    }
}

/// Support on every platform that has it (platforms absent are unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Availability {
    /// One entry per supporting platform.
    pub platforms: &'static [PlatformAvailability],
}

impl Availability {
    /// The entry for `platform`, or `None` when it does not exist there.
    #[must_use]
    pub fn on(&self, platform: Platform) -> Option<&'static PlatformAvailability> {
        self.platforms.iter().find(|p| p.platform == platform)
    }

    /// Whether it is deprecated on every platform that has it (and exists somewhere).
    #[must_use]
    pub fn is_deprecated(&self) -> bool {
        !self.platforms.is_empty() && self.platforms.iter().all(|p| p.deprecated.is_some())
    }

    /// Whether it can be sent to `platform` at OS `version` on the device channel (`user_channel`
    /// false) or the user channel (`user_channel` true), given whether the device is
    /// `supervised`. Access rights, enrollment type and Shared iPad are the caller's to check
    /// with [`Self::on`].
    #[must_use]
    pub fn allows(
        &self,
        platform: Platform,
        version: &str,
        user_channel: bool,
        supervised: bool,
    ) -> bool {
        self.on(platform).is_some_and(|p| {
            p.supports_version(version)
                && if user_channel {
                    p.user_channel
                } else {
                    p.device_channel
                }
                && (supervised || !p.supervised)
        })
    }
}

impl fmt::Display for Availability {
    /// `iOS 7.1+ (supervised), macOS 10.15+ (supervised)`, or `no platform`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.platforms.is_empty() {
            return f.write_str("no platform");
        }
        for (i, p) in self.platforms.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}+", p.platform, p.introduced)?;
            let mut notes = Vec::new();
            if !p.device_channel {
                notes.push("user channel only".to_owned());
            } else if p.user_channel {
                notes.push("device and user channel".to_owned());
            }
            if p.supervised {
                notes.push("supervised".to_owned());
            }
            if p.requires_dep {
                notes.push("ADE".to_owned());
            }
            if let Some(d) = p.deprecated {
                notes.push(format!("deprecated {d}"));
            }
            if let Some(r) = p.removed {
                notes.push(format!("removed {r}"));
            }
            if !notes.is_empty() {
                write!(f, " ({})", notes.join(", "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comparison() {
        let entry = PlatformAvailability::device(Platform::Ios, "7.1");
        assert!(entry.supports_version("7.1"));
        assert!(entry.supports_version("7.1.0"));
        assert!(entry.supports_version("17.0"));
        assert!(entry.supports_version("8"));
        assert!(!entry.supports_version("7.0.6"));
        assert!(!entry.supports_version("7"));
        assert!(!entry.supports_version("6.9"));
    }

    #[test]
    fn removal_and_deprecation_bound_the_versions() {
        let entry = PlatformAvailability::device(Platform::MacOs, "10.7")
            .deprecated("13.0")
            .removed("15.0");
        assert!(entry.supports_version("14.9"));
        assert!(!entry.supports_version("15.0"));
        assert!(entry.is_deprecated_in("13.1") && !entry.is_deprecated_in("12.6"));
    }

    #[test]
    fn allows_checks_channel_and_supervision() {
        const PLATFORMS: &[PlatformAvailability] =
            &[PlatformAvailability::device(Platform::Ios, "7.1").supervised()];
        let availability = Availability {
            platforms: PLATFORMS,
        };
        assert!(availability.allows(Platform::Ios, "17.0", false, true));
        assert!(!availability.allows(Platform::Ios, "17.0", false, false));
        assert!(!availability.allows(Platform::Ios, "17.0", true, true));
        assert!(!availability.allows(Platform::MacOs, "14.0", false, true));
        assert_eq!(availability.to_string(), "iOS 7.1+ (supervised)");
    }
}
