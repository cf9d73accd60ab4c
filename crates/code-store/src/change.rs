//! [`Change`]: one thing that can happen to a device record, the input of
//! [`DeviceRecord::apply`](crate::DeviceRecord::apply).

use bypass_code::{BypassCode, EscrowKey};

use crate::{
    AnswerStatus, AttemptOutcome, CodeKind, CommandKind, DeviceIdentity, DeviceRecord, Timestamp,
    UnlockToken,
};

/// One thing that can happen to a device record.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Change {
    /// The device's identity was (partly) reported: known fields replace stored ones.
    Identity(DeviceIdentity),
    /// The device enrolled (or was supervised) at this time: the 15-day window starts.
    Enrolled {
        /// When.
        at: Timestamp,
    },
    /// An `ActivationLockBypassCode` response: kept only if non-empty and different.
    DeviceCode(Option<BypassCode>),
    /// The server made a code (and computed its escrow key) for this device.
    ServerCode {
        /// The code.
        code: BypassCode,
        /// Its escrow key.
        escrow_key: EscrowKey,
    },
    /// The escrow key of the pending server code is being sent to Apple's enrollment service
    /// (recorded before it leaves).
    ServerCodeSent {
        /// The escrow key sent (it must be the pending code's).
        escrow_key: EscrowKey,
    },
    /// Apple's enrollment service answered for the escrow key sent: `SUCCESS` makes the code
    /// the accepted one; any other status (verbatim) leaves it pending, refused.
    ServerCodeAnswered {
        /// The escrow key sent.
        escrow_key: EscrowKey,
        /// The status, as the service wrote it.
        status: String,
    },
    /// A `TokenUpdate` unlock token: kept only if non-empty and different.
    UnlockToken(Option<UnlockToken>),
    /// An unlock attempt was made.
    UnlockAttempt {
        /// Which code.
        code: CodeKind,
        /// How it ended.
        outcome: AttemptOutcome,
    },
    /// A record read back from an export: every part goes through the same rules, keeping the
    /// exported times.
    Restore(Box<DeviceRecord>),
    /// The device is to be asked for its codes: once per enrolment (ignored when it was already
    /// asked for the current one), or `again` whatever was asked before.
    AskForCodes {
        /// Ask even though the device was asked for this enrolment.
        again: bool,
    },
    /// Commands are about to be sent (their UUIDs durable before they leave). An
    /// `ActivationLockBypassCode` / `DeviceInformation` pair claims the device's due ask (ignored
    /// when it is not due: another sender has it); a `ClearPasscode` is recorded as the last one.
    CommandsRecorded {
        /// Each command's kind and `CommandUUID`.
        commands: Vec<(CommandKind, String)>,
        /// When the ask may be claimed again if the sender never reports back (a lease).
        retry_at: Timestamp,
    },
    /// The MDM server took the commands with these UUIDs.
    CommandsQueued {
        /// Their UUIDs.
        uuids: Vec<String>,
    },
    /// The MDM server did not take the commands with these UUIDs.
    CommandsNotQueued {
        /// Their UUIDs.
        uuids: Vec<String>,
        /// Why (no secret).
        reason: String,
        /// When the ask may be tried again; `None` gives it up.
        retry_at: Option<Timestamp>,
    },
    /// The device answered the command with this UUID.
    CommandAnswered {
        /// Its `CommandUUID`.
        uuid: String,
        /// The answer.
        status: AnswerStatus,
        /// For the ask's commands: when to ask again (`None`: not again, or the MDM server
        /// sends it again itself, as after `NotNow`).
        retry_at: Option<Timestamp>,
    },
}
