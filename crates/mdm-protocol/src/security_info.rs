//! The `SecurityInfo` response dictionary.

use plist::Dictionary;

use crate::{
    ParseError,
    fields::{DictWriter, Fields},
};

/// `SecurityInfo` of a `SecurityInfo` response: the commonly used keys, the rest kept verbatim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityInfo {
    /// `HardwareEncryptionCaps`: 1 block-level, 2 file-level, 3 both.
    pub hardware_encryption_caps: Option<i64>,
    /// `PasscodePresent`.
    pub passcode_present: Option<bool>,
    /// `PasscodeCompliant`.
    pub passcode_compliant: Option<bool>,
    /// `PasscodeCompliantWithProfiles`.
    pub passcode_compliant_with_profiles: Option<bool>,
    /// `FDE_Enabled` (macOS).
    pub fde_enabled: Option<bool>,
    /// `FDE_HasPersonalRecoveryKey` (macOS).
    pub fde_has_personal_recovery_key: Option<bool>,
    /// `FDE_HasInstitutionalRecoveryKey` (macOS).
    pub fde_has_institutional_recovery_key: Option<bool>,
    /// `SystemIntegrityProtectionEnabled` (macOS).
    pub system_integrity_protection_enabled: Option<bool>,
    /// `FirmwarePasswordStatus` (macOS).
    pub firmware_password_status: Option<FirmwarePasswordStatus>,
    /// `ManagementStatus`.
    pub management_status: Option<ManagementStatus>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// `SecurityInfo.FirmwarePasswordStatus`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirmwarePasswordStatus {
    /// `PasswordExists`.
    pub password_exists: Option<bool>,
    /// `ChangePending`.
    pub change_pending: Option<bool>,
    /// `AllowOroms`.
    pub allow_oroms: Option<bool>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// `SecurityInfo.ManagementStatus`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagementStatus {
    /// `EnrolledViaDEP`.
    pub enrolled_via_dep: Option<bool>,
    /// `UserApprovedEnrollment`.
    pub user_approved_enrollment: Option<bool>,
    /// `IsUserEnrollment`.
    pub is_user_enrollment: Option<bool>,
    /// `IsActivationLockManageable`.
    pub is_activation_lock_manageable: Option<bool>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

impl SecurityInfo {
    pub(crate) fn read(mut s: Fields) -> Result<Self, ParseError> {
        let firmware_password_status = match s.opt_dict("FirmwarePasswordStatus")? {
            Some(mut f) => Some(FirmwarePasswordStatus {
                password_exists: f.opt_bool("PasswordExists")?,
                change_pending: f.opt_bool("ChangePending")?,
                allow_oroms: f.opt_bool("AllowOroms")?,
                extra: f.rest(),
            }),
            None => None,
        };
        let management_status = match s.opt_dict("ManagementStatus")? {
            Some(mut m) => Some(ManagementStatus {
                enrolled_via_dep: m.opt_bool("EnrolledViaDEP")?,
                user_approved_enrollment: m.opt_bool("UserApprovedEnrollment")?,
                is_user_enrollment: m.opt_bool("IsUserEnrollment")?,
                is_activation_lock_manageable: m.opt_bool("IsActivationLockManageable")?,
                extra: m.rest(),
            }),
            None => None,
        };
        Ok(Self {
            hardware_encryption_caps: s.opt_integer("HardwareEncryptionCaps")?,
            passcode_present: s.opt_bool("PasscodePresent")?,
            passcode_compliant: s.opt_bool("PasscodeCompliant")?,
            passcode_compliant_with_profiles: s.opt_bool("PasscodeCompliantWithProfiles")?,
            fde_enabled: s.opt_bool("FDE_Enabled")?,
            fde_has_personal_recovery_key: s.opt_bool("FDE_HasPersonalRecoveryKey")?,
            fde_has_institutional_recovery_key: s.opt_bool("FDE_HasInstitutionalRecoveryKey")?,
            system_integrity_protection_enabled: s.opt_bool("SystemIntegrityProtectionEnabled")?,
            firmware_password_status,
            management_status,
            extra: s.rest(),
        })
    }

    pub(crate) fn write(&self, redact: bool) -> Dictionary {
        let mut out = DictWriter::with_extra(redact, &self.extra);
        out.opt_integer("HardwareEncryptionCaps", self.hardware_encryption_caps)
            .opt_bool("PasscodePresent", self.passcode_present)
            .opt_bool("PasscodeCompliant", self.passcode_compliant)
            .opt_bool(
                "PasscodeCompliantWithProfiles",
                self.passcode_compliant_with_profiles,
            )
            .opt_bool("FDE_Enabled", self.fde_enabled)
            .opt_bool(
                "FDE_HasPersonalRecoveryKey",
                self.fde_has_personal_recovery_key,
            )
            .opt_bool(
                "FDE_HasInstitutionalRecoveryKey",
                self.fde_has_institutional_recovery_key,
            )
            .opt_bool(
                "SystemIntegrityProtectionEnabled",
                self.system_integrity_protection_enabled,
            );
        if let Some(f) = &self.firmware_password_status {
            let mut d = DictWriter::with_extra(redact, &f.extra);
            d.opt_bool("PasswordExists", f.password_exists)
                .opt_bool("ChangePending", f.change_pending)
                .opt_bool("AllowOroms", f.allow_oroms);
            out.value(
                "FirmwarePasswordStatus",
                plist::Value::Dictionary(d.finish()),
            );
        }
        if let Some(m) = &self.management_status {
            let mut d = DictWriter::with_extra(redact, &m.extra);
            d.opt_bool("EnrolledViaDEP", m.enrolled_via_dep)
                .opt_bool("UserApprovedEnrollment", m.user_approved_enrollment)
                .opt_bool("IsUserEnrollment", m.is_user_enrollment)
                .opt_bool(
                    "IsActivationLockManageable",
                    m.is_activation_lock_manageable,
                );
            out.value("ManagementStatus", plist::Value::Dictionary(d.finish()));
        }
        out.finish()
    }
}
