//! The MicroMDM-format webhook event that NanoMDM (`-webhook-url`) and MicroMDM
//! (`-command-webhook-url`) POST, one JSON object per check-in or command report.
//!
//! [`WebhookEvent::parse`] reads one body: bounded ([`WebhookLimits`]), unknown fields and
//! unknown topics ignored, every refusal a [`WebhookError`] that says what, where and why.

use alloc::collections::BTreeMap;
use core::fmt;

use zeroize::Zeroizing;

mod error;
mod parse;

pub use error::WebhookError;

/// Bounds on one webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookLimits {
    /// The largest body accepted, in bytes; a longer one is refused before parsing.
    pub max_body: usize,
    /// The largest decoded `raw_payload` accepted, in bytes.
    pub max_payload: usize,
}

impl WebhookLimits {
    /// 1 MiB of JSON, 512 KiB of decoded payload: far above what a device sends.
    pub const DEFAULT: Self = Self {
        max_body: 1024 * 1024,
        max_payload: 512 * 1024,
    };
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// What happened (`mdm.TokenUpdate`, `mdm.Connect`, …).
    pub topic: Topic,
    /// The event's identifier, if the server gave a non-empty one.
    pub event_id: Option<String>,
    /// When the server created the event, if it said.
    pub created_at: Option<time::OffsetDateTime>,
    /// The check-in or command report, or [`EventBody::Ignored`].
    pub body: EventBody,
}

impl WebhookEvent {
    /// Parses one webhook body.
    ///
    /// # Errors
    /// The body is over [`WebhookLimits::max_body`], is not a JSON object with a string
    /// `topic`, or (for a known topic) lacks the event it needs, holds a field of the wrong
    /// type, a `raw_payload` that is not padded standard base64 or decodes to more than
    /// [`WebhookLimits::max_payload`], or a `created_at` that is not an RFC 3339 time.
    pub fn parse(body: &[u8], limits: &WebhookLimits) -> Result<Self, WebhookError> {
        parse::event(body, limits)
    }

    /// The device the event is about: the body's `udid`, else its `enrollment_id`.
    #[must_use]
    pub fn device_id(&self) -> Option<&str> {
        let (udid, enrollment_id) = match &self.body {
            EventBody::Checkin(event) => (&event.udid, &event.enrollment_id),
            EventBody::Acknowledge(event) => (&event.udid, &event.enrollment_id),
            EventBody::Ignored => return None,
        };
        udid.as_deref().or(enrollment_id.as_deref())
    }

    /// The property list the device sent (check-in message or command report), if any.
    #[must_use]
    pub fn raw_payload(&self) -> Option<&[u8]> {
        match &self.body {
            EventBody::Checkin(event) => Some(&event.raw_payload),
            EventBody::Acknowledge(event) => Some(&event.raw_payload),
            EventBody::Ignored => None,
        }
    }
}

/// An event's topic: the check-in message type, or `mdm.Connect` for a command report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `mdm.Authenticate`: a device (re-)enrols.
    Authenticate,
    /// `mdm.TokenUpdate`: the enrolment's push token; the first one ends the enrolment.
    TokenUpdate,
    /// `mdm.CheckOut`: the device left management.
    CheckOut,
    /// `mdm.Connect`: a command result or an `Idle` poll.
    Connect,
    /// `mdm.UserAuthenticate`.
    UserAuthenticate,
    /// `mdm.SetBootstrapToken`.
    SetBootstrapToken,
    /// `mdm.GetBootstrapToken`.
    GetBootstrapToken,
    /// `mdm.DeclarativeManagement`.
    DeclarativeManagement,
    /// `mdm.GetToken`.
    GetToken,
    /// A topic this crate does not know, as sent.
    Other(String),
}

impl Topic {
    /// The topic for a wire name (`mdm.TokenUpdate`); an unknown name is [`Topic::Other`].
    #[must_use]
    pub fn from_wire(name: &str) -> Self {
        match name {
            "mdm.Authenticate" => Self::Authenticate,
            "mdm.TokenUpdate" => Self::TokenUpdate,
            "mdm.CheckOut" => Self::CheckOut,
            "mdm.Connect" => Self::Connect,
            "mdm.UserAuthenticate" => Self::UserAuthenticate,
            "mdm.SetBootstrapToken" => Self::SetBootstrapToken,
            "mdm.GetBootstrapToken" => Self::GetBootstrapToken,
            "mdm.DeclarativeManagement" => Self::DeclarativeManagement,
            "mdm.GetToken" => Self::GetToken,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire name (`mdm.TokenUpdate`); for [`Topic::Other`], the name as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Authenticate => "mdm.Authenticate",
            Self::TokenUpdate => "mdm.TokenUpdate",
            Self::CheckOut => "mdm.CheckOut",
            Self::Connect => "mdm.Connect",
            Self::UserAuthenticate => "mdm.UserAuthenticate",
            Self::SetBootstrapToken => "mdm.SetBootstrapToken",
            Self::GetBootstrapToken => "mdm.GetBootstrapToken",
            Self::DeclarativeManagement => "mdm.DeclarativeManagement",
            Self::GetToken => "mdm.GetToken",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Topic {
    /// The wire name, escaped (an unknown topic is untrusted text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&printable::Escaped(self.as_str()), f)
    }
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// A check-in message (every known topic but `mdm.Connect`).
    Checkin(CheckinEvent),
    /// A command report or `Idle` poll (`mdm.Connect`).
    Acknowledge(AcknowledgeEvent),
    /// A topic this crate does not read ([`Topic::Other`]); its fields were not looked at.
    Ignored,
}

/// A check-in message as the server relayed it.
///
/// `Debug` prints the payload's length, never its bytes (it may hold an unlock token).
#[derive(Clone, PartialEq, Eq)]
pub struct CheckinEvent {
    /// The device's UDID (device channel), if sent.
    pub udid: Option<String>,
    /// The enrolment id (user enrolment), if sent.
    pub enrollment_id: Option<String>,
    /// The query parameters of the device's check-in URL.
    pub url_params: BTreeMap<String, String>,
    /// The check-in property list exactly as the device sent it (wiped when dropped: a
    /// `TokenUpdate` carries the unlock token).
    pub raw_payload: Zeroizing<Vec<u8>>,
    /// How many `TokenUpdate`s this enrolment has sent (1 for the enrolment's first), when the
    /// server reports it (`mdm.TokenUpdate` only, newer NanoMDM).
    pub token_update_tally: Option<u64>,
}

impl fmt::Debug for CheckinEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckinEvent")
            .field("udid", &self.udid)
            .field("enrollment_id", &self.enrollment_id)
            .field("url_params", &self.url_params)
            .field("raw_payload", &PayloadLen(self.raw_payload.len()))
            .field("token_update_tally", &self.token_update_tally)
            .finish()
    }
}

/// A command report (or `Idle` poll) as the server relayed it.
///
/// `Debug` prints the payload's length, never its bytes (it may hold a bypass code).
#[derive(Clone, PartialEq, Eq)]
pub struct AcknowledgeEvent {
    /// The device's UDID (device channel), if sent.
    pub udid: Option<String>,
    /// The enrolment id (user enrolment), if sent.
    pub enrollment_id: Option<String>,
    /// The report's status.
    pub status: AckStatus,
    /// The command the report answers (absent for `Idle`).
    pub command_uuid: Option<String>,
    /// The query parameters of the device's URL.
    pub url_params: BTreeMap<String, String>,
    /// The device's full report property list (empty only for an `Idle` without one; wiped
    /// when dropped: it may carry a bypass code).
    pub raw_payload: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for AcknowledgeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcknowledgeEvent")
            .field("udid", &self.udid)
            .field("enrollment_id", &self.enrollment_id)
            .field("status", &self.status)
            .field("command_uuid", &self.command_uuid)
            .field("url_params", &self.url_params)
            .field("raw_payload", &PayloadLen(self.raw_payload.len()))
            .finish()
    }
}

/// Prints `<N bytes>`.
struct PayloadLen(usize);

impl fmt::Debug for PayloadLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// The `Status` of a command report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AckStatus {
    /// The command succeeded.
    Acknowledged,
    /// The command failed (the payload carries an `ErrorChain`).
    Error,
    /// The device could not read the command.
    CommandFormatError,
    /// The device is busy; the server keeps the command queued.
    NotNow,
    /// The device asks for the next command.
    Idle,
    /// A status this crate does not know, as sent.
    Other(String),
}

impl AckStatus {
    /// The status for a wire name; an unknown one is [`AckStatus::Other`].
    #[must_use]
    pub fn from_wire(name: &str) -> Self {
        match name {
            "Acknowledged" => Self::Acknowledged,
            "Error" => Self::Error,
            "CommandFormatError" => Self::CommandFormatError,
            "NotNow" => Self::NotNow,
            "Idle" => Self::Idle,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire name; for [`AckStatus::Other`], the status as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Acknowledged => "Acknowledged",
            Self::Error => "Error",
            Self::CommandFormatError => "CommandFormatError",
            Self::NotNow => "NotNow",
            Self::Idle => "Idle",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for AckStatus {
    /// The wire name, escaped (an unknown status is untrusted text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&printable::Escaped(self.as_str()), f)
    }
}
