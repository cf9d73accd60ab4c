//! What a change did: the [`Event`]s appended to a device's history, the parts the rules
//! [`Ignored`], and the [`Outcome`] that carries both.

use bypass_code::{BypassCode, EscrowKey};

use crate::{AttemptOutcome, CodeKind, CommandEvent, Timestamp, Udid, UnlockToken};

/// What a change did, as written to the append-only history.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The record was created.
    Created,
    /// Identity fields changed (their names).
    IdentityChanged {
        /// The names of the fields that changed.
        fields: Vec<String>,
    },
    /// The enrolment time was set.
    Enrolled {
        /// The new enrolment time.
        at: Timestamp,
    },
    /// A device code was stored (`replaced`: another one was there before).
    DeviceCodeStored {
        /// The new code.
        code: BypassCode,
        /// Whether a different code was replaced.
        replaced: bool,
    },
    /// A server code was stored.
    ServerCodeStored {
        /// The new code.
        code: BypassCode,
        /// Its escrow key.
        escrow_key: EscrowKey,
        /// Whether a different code was replaced.
        replaced: bool,
    },
    /// The pending server code's escrow key was sent to Apple's enrollment service.
    ServerCodeSent,
    /// Apple's enrollment service answered for the pending server code.
    ServerCodeAnswered {
        /// The status, verbatim.
        status: String,
        /// Whether it is `SUCCESS`: the code is now the accepted one.
        accepted: bool,
    },
    /// An unlock token was stored.
    UnlockTokenStored {
        /// The new token.
        token: UnlockToken,
        /// Whether a different token was replaced.
        replaced: bool,
    },
    /// An unlock attempt was recorded.
    UnlockAttempted {
        /// Which code.
        code: CodeKind,
        /// How it ended.
        outcome: AttemptOutcome,
    },
    /// The device claimed a serial number that belongs to another enrolled device: refused.
    SerialRefused {
        /// The serial number claimed.
        serial: String,
        /// The enrolled device it belongs to.
        holder: Udid,
    },
    /// The device enrolled, and the record made for its serial number before (a `serial:`
    /// placeholder holding a server code) was merged into its record and removed.
    PlaceholderMerged {
        /// The placeholder's key.
        placeholder: Udid,
    },
    /// (In a placeholder's history.) Merged into the record of the device that enrolled with
    /// its serial number.
    MergedInto {
        /// The device's UDID.
        udid: Udid,
    },
    /// Something happened to the commands sent to the device.
    Command(CommandEvent),
}

impl Event {
    /// The event's name in the history table and in `alb history`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::IdentityChanged { .. } => "identity",
            Self::Enrolled { .. } => "enrolled",
            Self::DeviceCodeStored { .. } => "device_code",
            Self::ServerCodeStored { .. } => "server_code",
            Self::ServerCodeSent => "server_code_sent",
            Self::ServerCodeAnswered { .. } => "server_code_answered",
            Self::UnlockTokenStored { .. } => "unlock_token",
            Self::UnlockAttempted { .. } => "unlock_attempt",
            Self::SerialRefused { .. } => "serial_refused",
            Self::PlaceholderMerged { .. } => "placeholder_merged",
            Self::MergedInto { .. } => "merged_into",
            Self::Command(_) => "command",
        }
    }
}

/// What happened, in words (the one text of every event: `alb history`, `alb ingest`). Never a
/// secret.
impl core::fmt::Display for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let first_or = |replaced: bool| if replaced { "replaced" } else { "first" };
        match self {
            Self::Created => f.write_str("record created"),
            Self::IdentityChanged { fields } => write!(f, "identity: {}", fields.join(", ")),
            Self::Enrolled { at } => write!(f, "enrolled at {at}"),
            Self::DeviceCodeStored { replaced, .. } => {
                write!(f, "device code stored ({})", first_or(*replaced))
            }
            Self::ServerCodeStored { replaced, .. } => {
                write!(f, "server code stored ({})", first_or(*replaced))
            }
            Self::ServerCodeSent => f.write_str("server code's escrow key sent to Apple"),
            Self::ServerCodeAnswered { status, accepted } => {
                if *accepted {
                    f.write_str("Apple accepted the server code: the device is locked with it")
                } else {
                    write!(
                        f,
                        "Apple did not lock the device with the server code: {status:?}"
                    )
                }
            }
            Self::UnlockTokenStored { replaced, .. } => {
                write!(f, "unlock token stored ({})", first_or(*replaced))
            }
            Self::UnlockAttempted { code, outcome } => {
                write!(
                    f,
                    "unlock attempt with the {} code: {}",
                    code.as_str(),
                    outcome.as_str()
                )
            }
            Self::SerialRefused { serial, holder } => write!(
                f,
                "serial number {serial:?} refused: it belongs to enrolled device {holder}"
            ),
            Self::PlaceholderMerged { placeholder } => write!(
                f,
                "the record made before enrolment ({placeholder}) was merged into this one"
            ),
            Self::MergedInto { udid } => write!(f, "merged into device {udid}"),
            Self::Command(event) => event.fmt(f),
        }
    }
}

/// Why part of a change was ignored (the retention rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The reported device code was empty or absent: the stored one stays.
    EmptyDeviceCode,
    /// The reported device code equals the stored one.
    SameDeviceCode,
    /// The server code equals the stored one.
    SameServerCode,
    /// The reported unlock token was empty or absent: the stored one stays.
    EmptyUnlockToken,
    /// The reported unlock token equals the stored one.
    SameUnlockToken,
    /// The enrolment time is not later than the stored one.
    OlderEnrolment,
    /// A restored value is older than the stored one.
    OlderValue,
    /// The serial number reported belongs to another enrolled device: not taken (see
    /// [`Event::SerialRefused`]).
    SerialTaken,
    /// The escrow key is not the pending server code's (sent or answered for another code).
    NotThePendingServerCode,
    /// A restored accepted server code differs from the stored accepted one, which stays.
    AcceptedServerCodeKept,
    /// The device was already asked for its codes for this enrolment.
    AlreadyAsked,
    /// The ask is not due (another sender claimed it, or it is waiting for an answer).
    AskNotDue,
    /// No command with this `CommandUUID` was sent to the device.
    UnknownCommand,
    /// The command already has this answer.
    SameAnswer,
}

impl Ignored {
    /// A stable name (`alb ingest --json`): `empty_device_code`, `same_device_code`...
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EmptyDeviceCode => "empty_device_code",
            Self::SameDeviceCode => "same_device_code",
            Self::SameServerCode => "same_server_code",
            Self::EmptyUnlockToken => "empty_unlock_token",
            Self::SameUnlockToken => "same_unlock_token",
            Self::OlderEnrolment => "older_enrolment",
            Self::OlderValue => "older_value",
            Self::SerialTaken => "serial_taken",
            Self::NotThePendingServerCode => "not_the_pending_server_code",
            Self::AcceptedServerCodeKept => "accepted_server_code_kept",
            Self::AlreadyAsked => "already_asked",
            Self::AskNotDue => "ask_not_due",
            Self::UnknownCommand => "unknown_command",
            Self::SameAnswer => "same_answer",
        }
    }
}

/// Why part of a change was ignored, in words (the one text: `alb ingest`).
impl core::fmt::Display for Ignored {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::EmptyDeviceCode => "no device code in the response: the stored code is kept",
            Self::SameDeviceCode => "same device code: unchanged",
            Self::SameServerCode => "same server code: unchanged",
            Self::EmptyUnlockToken => "no unlock token: the stored token is kept",
            Self::SameUnlockToken => "same unlock token: unchanged",
            Self::OlderEnrolment => "enrolment not newer than the stored one: unchanged",
            Self::OlderValue => "older than what is stored: unchanged",
            Self::SerialTaken => "serial number refused: it belongs to another enrolled device",
            Self::NotThePendingServerCode => "not the pending server code: unchanged",
            Self::AcceptedServerCodeKept => {
                "the server code Apple accepted is kept: a restored one does not replace it"
            }
            Self::AlreadyAsked => "already asked for its codes for this enrolment: unchanged",
            Self::AskNotDue => "the ask is not due: unchanged",
            Self::UnknownCommand => "no command with this CommandUUID was sent to the device",
            Self::SameAnswer => "same answer: unchanged",
        })
    }
}

/// The result of applying a [`Change`](crate::Change): what was recorded, and what was ignored and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The events appended to the history, in order (empty when nothing changed).
    pub events: Vec<Event>,
    /// The parts of the change the rules ignored.
    pub ignored: Vec<Ignored>,
}

impl Outcome {
    /// Whether the record changed.
    #[must_use]
    pub fn changed(&self) -> bool {
        !self.events.is_empty()
    }
}
