//! Where a command may be sent: platforms, versions, channels, supervision and access rights,
//! transcribed from Apple's device-management schema.

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
        }
    }
}

impl fmt::Display for AccessRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command's support on one platform.
///
/// Where the schema leaves a flag out, the MDM defaults apply: the device channel is supported,
/// the user channel is not, supervision and Automated Device Enrollment are not required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlatformAvailability {
    /// The platform.
    pub platform: Platform,
    /// The OS version the command was introduced in, e.g. `"7.1"`.
    pub introduced: &'static str,
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
}

impl PlatformAvailability {
    /// The usual case: device channel only, nothing else required.
    pub(crate) const fn device(platform: Platform, introduced: &'static str) -> Self {
        Self {
            platform,
            introduced,
            access_right: None,
            device_channel: true,
            user_channel: false,
            supervised: false,
            requires_dep: false,
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

    pub(crate) const fn dep(mut self) -> Self {
        self.requires_dep = true;
        self
    }

    /// Whether `version` (dotted, e.g. `"17.4.1"`) is at least [`Self::introduced`].
    #[must_use]
    pub fn supports_version(&self, version: &str) -> bool {
        let mut have = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let mut need = self
            .introduced
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        loop {
            match (have.next(), need.next()) {
                (_, None) => return true,
                (None, Some(n)) if n > 0 => return false,
                (Some(h), Some(n)) if h != n => return h > n,
                _ => {}
            }
        }
    }
}

/// A command's support on every platform that has it (platforms absent are unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Availability {
    /// One entry per supporting platform.
    pub platforms: &'static [PlatformAvailability],
}

impl Availability {
    /// The entry for `platform`, or `None` when the command does not exist there.
    #[must_use]
    pub fn on(&self, platform: Platform) -> Option<&'static PlatformAvailability> {
        self.platforms.iter().find(|p| p.platform == platform)
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
}
