//! What the schema leaves unsaid or says wrongly, reviewed by hand. Every entry must match a
//! key of the schema, or the generator fails: when Apple fixes something, the entry goes.
//!
//! A key is named `<family> <Name> <request|response> <path>`, the path being the wire keys
//! from the top, with the schema's placeholder names for array items and map values (e.g.
//! `command ManagedApplicationList response ManagedApplicationList.ANY app identifier.X`).

use alloc::collections::BTreeSet;
use core::cell::RefCell;

/// One reviewed decision.
pub struct Entry {
    pub at: &'static str,
    pub reason: &'static str,
}

/// String or data keys whose name (or description) says secret, but which hold public data.
pub const NOT_SECRET: [Entry; 3] = [
    Entry {
        at: "checkin GetToken request TokenServiceType",
        reason: "names the token service (`com.apple.maid`, `com.apple.watch.pairing`), not a token",
    },
    Entry {
        at: "command SecurityInfo response SecurityInfo.FDE_PersonalRecoveryKeyDeviceKey",
        reason: "the device's serial number, as its description says",
    },
    Entry {
        at: "command SecurityInfo response SecurityInfo.BootstrapTokenAllowedForAuthentication",
        reason: "a state (`allowed`, `disallowed`, `not supported`), not the token",
    },
];

/// String or data keys that hold secrets their name and description leave unsaid.
pub const SECRET: [Entry; 4] = [
    Entry {
        at: "command RotateFileVaultKey request FileVaultUnlock.PrivateKeyExport",
        reason: "a PKCS#12 export of the institutional recovery key's private key",
    },
    Entry {
        at: "checkin UserAuthenticate request DigestResponse",
        reason: "the HTTP digest response, computed from the user's password",
    },
    Entry {
        at: "command ApplyRedemptionCode request RedemptionCode",
        reason: "a bearer voucher: whoever reads it can redeem the paid app",
    },
    Entry {
        at: "command ManagedApplicationList response \
             ManagedApplicationList.ANY app identifier.UnusedRedemptionCode",
        reason: "a bearer voucher: whoever reads it can redeem the paid app",
    },
];

/// Dictionaries whose single sub-key is a wildcard although it is not spelled `ANY …`.
pub const WILDCARDS: [Entry; 1] = [Entry {
    at: "command ContentCachingInformation response StatusResponse.CacheDetails.Category Name",
    reason: "the cache's size per category: the keys are category names (`iCloud`, `iOS \
             Software`…), like the `ANY …` maps",
}];

/// Array items the schema declares as a map of `<any>` that are the envelope's `ErrorChain`
/// items.
pub const ERROR_CHAIN_ITEMS: [Entry; 2] = [
    Entry {
        at: "command Settings response Settings.ErrorChain.ErrorChainItem",
        reason: "devices send the standard ErrorChain item (ErrorCode, ErrorDomain, \
                 LocalizedDescription, USEnglishDescription), as in the response envelope",
    },
    Entry {
        at: "command ScheduleOSUpdate response UpdateResults.UpdateResultsItem.ErrorChain.ErrorChainItem",
        reason: "devices send the standard ErrorChain item, as in the response envelope",
    },
];

/// Commands whose request type stays hand-written in `mdm-protocol` (`src/command.rs`): their
/// public types predate the generator, are built with struct literals by `alb`, the testbed,
/// the fuzz targets and the benchmarks, and are as complete as the generated ones would be
/// (every key typed, unknown keys in `Command::extra`).
pub const HAND_WRITTEN: [Entry; 12] = [
    Entry {
        at: "ActivationLockBypassCode",
        reason: "a unit variant of CommandRequest",
    },
    Entry {
        at: "ClearActivationLockBypassCode",
        reason: "a unit variant of CommandRequest",
    },
    Entry {
        at: "ClearPasscode",
        reason: "ClearPasscode { unlock_token } is built by alb",
    },
    Entry {
        at: "SecurityInfo",
        reason: "a unit variant of CommandRequest",
    },
    Entry {
        at: "CertificateList",
        reason: "CertificateList { managed_only } is built by alb",
    },
    Entry {
        at: "RotateFileVaultKey",
        reason: "a closed FileVaultKeyType and the FileVaultUnlock keys flattened",
    },
    Entry {
        at: "ClearRestrictionsPassword",
        reason: "a unit variant of CommandRequest",
    },
    Entry {
        at: "UnlockUserAccount",
        reason: "UnlockUserAccount { user_name } is built by alb",
    },
    Entry {
        at: "SetAutoAdminPassword",
        reason: "the password hash as SecretData, built by the fuzz targets",
    },
    Entry {
        at: "SetFirmwarePassword",
        reason: "SetFirmwarePassword { … } is built by alb",
    },
    Entry {
        at: "VerifyFirmwarePassword",
        reason: "VerifyFirmwarePassword { password } is built by alb",
    },
    Entry {
        at: "DeviceInformation",
        reason: "queries as strings and for_unlock(), used by alb and the testbed",
    },
];

/// Records which entries matched, so unused ones fail the run.
#[derive(Default)]
pub struct Used(RefCell<BTreeSet<&'static str>>);

impl Used {
    /// The entry of `list` at `at`, marked used.
    pub fn find(&self, list: &'static [Entry], at: &str) -> Option<&'static Entry> {
        let entry = list.iter().find(|e| e.at == at)?;
        self.0.borrow_mut().insert(entry.at);
        Some(entry)
    }

    /// Every entry of every list that matched nothing.
    pub fn unused(&self) -> Vec<&'static str> {
        let used = self.0.borrow();
        [
            &NOT_SECRET[..],
            &SECRET[..],
            &WILDCARDS[..],
            &ERROR_CHAIN_ITEMS[..],
            &HAND_WRITTEN[..],
        ]
        .into_iter()
        .flatten()
        .filter(|e| !used.contains(e.at))
        .map(|e| e.at)
        .collect()
    }
}
