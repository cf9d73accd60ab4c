//! Clearing a device's passcode without anyone handling its unlock token: the `ClearPasscode`
//! command built from the token the store holds, refused before anything is sent when there is
//! no token or the device's platform does not run the command (Apple's availability data).

use code_store::DeviceRecord;
use mdm_protocol::{ClearPasscode, Command, CommandRequest, Platform, UnlockToken};

/// Why no `ClearPasscode` can be sent to a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClearPasscodeError {
    /// The store holds no unlock token for the device (it comes with its `TokenUpdate`).
    #[error("the store holds no unlock token for {udid} (it comes with the device's TokenUpdate)")]
    NoUnlockToken {
        /// The device.
        udid: String,
    },
    /// The device's platform does not run `ClearPasscode`.
    #[error("ClearPasscode does not run on {platform} ({product_type}), per Apple's schema")]
    Unavailable {
        /// The platform.
        platform: &'static str,
        /// The device's product type (escaped).
        product_type: String,
    },
}

impl ClearPasscodeError {
    /// A stable machine-readable name: `no_unlock_token`, `unavailable_on_platform`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::NoUnlockToken { .. } => "no_unlock_token",
            Self::Unavailable { .. } => "unavailable_on_platform",
        }
    }
}

/// The `ClearPasscode` command for `record`, with `uuid` as its `CommandUUID`.
///
/// # Errors
/// [`ClearPasscodeError`]: no stored token, or a platform without the command (a device whose
/// product type is unknown is not refused: the device itself answers).
pub fn command_for(record: &DeviceRecord, uuid: String) -> Result<Command, ClearPasscodeError> {
    let Some(token) = record.unlock_token.as_ref() else {
        return Err(ClearPasscodeError::NoUnlockToken {
            udid: record.udid.to_string(),
        });
    };
    let request = CommandRequest::ClearPasscode(ClearPasscode {
        unlock_token: UnlockToken::new(token.token.as_bytes().to_vec()),
    });
    if let Some(product) = record.identity.product_type.as_deref()
        && let (Some(platform), Some(availability)) =
            (Platform::of_product_type(product), request.availability())
        && availability.on(platform).is_none()
    {
        return Err(ClearPasscodeError::Unavailable {
            platform: platform.as_str(),
            product_type: printable::Escaped(product).to_string(),
        });
    }
    Ok(Command::with_uuid(uuid, request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use code_store::{Timestamp, Udid};

    #[test]
    fn needs_a_token_and_a_platform_that_runs_it() {
        let mut record = DeviceRecord::new(Udid::new("U").unwrap(), Timestamp::from_unix(1));
        let missing = command_for(&record, "c".into()).unwrap_err();
        assert_eq!(missing.kind(), "no_unlock_token");
        record.unlock_token = Some(code_store::StoredUnlockToken {
            token: code_store::UnlockToken::new(vec![1, 2, 3]).unwrap(),
            received_at: Timestamp::from_unix(1),
        });
        record.identity.product_type = Some("iPad8,1".into());
        let command = command_for(&record, "c".into()).unwrap();
        assert_eq!(command.request.request_type(), "ClearPasscode");
        record.identity.product_type = Some("AppleTV6,2".into());
        let refused = command_for(&record, "c".into()).unwrap_err();
        assert_eq!(refused.kind(), "unavailable_on_platform", "{refused}");
    }
}
