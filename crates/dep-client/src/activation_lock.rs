//! `POST /device/activationlock`: lock a device to the organisation with the escrow key of
//! the server-created bypass code.

use core::fmt;

use bypass_code::{ESCROW_KEY_HEX_LEN, EscrowKey};
use hyper::Method;
use serde::{Deserialize, Serialize};
use tokio::{sync::Semaphore, task::JoinSet};
use zeroize::Zeroizing;

use crate::{
    client::{DepClient, DepRequest},
    error::{DepError, RequestError},
};

/// The longest serial number accepted.
pub const MAX_SERIAL_LEN: usize = 64;
/// The longest lost-mode message accepted, in characters.
pub const MAX_LOST_MESSAGE_CHARS: usize = 1024;

/// One device to lock: its serial number, the escrow key of the server-created code, and an
/// optional message for the lock screen.
///
/// The escrow key is required by construction: a request without one would lock the device
/// to the person who created the MDM server in the portal, and this type cannot express it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationLockRequest {
    device: String,
    escrow_key: EscrowKey,
    lost_message: Option<String>,
}

impl fmt::Debug for ActivationLockRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationLockRequest")
            .field("device", &self.device)
            .field("escrow_key", &"[redacted]")
            .field("lost_message", &self.lost_message.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl ActivationLockRequest {
    /// A request for this serial number with this escrow key.
    ///
    /// # Errors
    /// [`RequestError::EmptySerial`] or [`RequestError::InvalidSerial`] (more than
    /// [`MAX_SERIAL_LEN`] characters, or not visible ASCII).
    pub fn new(device: impl Into<String>, escrow_key: EscrowKey) -> Result<Self, RequestError> {
        let device = device.into();
        if device.is_empty() {
            return Err(RequestError::EmptySerial);
        }
        if device.len() > MAX_SERIAL_LEN || !device.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RequestError::InvalidSerial {
                max: MAX_SERIAL_LEN,
            });
        }
        Ok(Self {
            device,
            escrow_key,
            lost_message: None,
        })
    }

    /// Adds the lock-screen message; an empty message is left out of the request.
    ///
    /// # Errors
    /// [`RequestError::InvalidLostMessage`]: more than [`MAX_LOST_MESSAGE_CHARS`]
    /// characters, or control characters other than line breaks.
    pub fn with_lost_message(mut self, message: impl Into<String>) -> Result<Self, RequestError> {
        let message = message.into();
        if message.chars().count() > MAX_LOST_MESSAGE_CHARS
            || message.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(RequestError::InvalidLostMessage {
                max: MAX_LOST_MESSAGE_CHARS,
            });
        }
        self.lost_message = (!message.is_empty()).then_some(message);
        Ok(self)
    }

    /// The serial number.
    #[must_use]
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The escrow key sent.
    #[must_use]
    pub const fn escrow_key(&self) -> &EscrowKey {
        &self.escrow_key
    }

    /// The lock-screen message, if any.
    #[must_use]
    pub fn lost_message(&self) -> Option<&str> {
        self.lost_message.as_deref()
    }

    /// The JSON body: `{"device":…,"escrow_key":<64 lower-case hex digits>[,"lost_message":…]}`,
    /// in wiped memory.
    #[must_use]
    pub fn json_body(&self) -> Zeroizing<Vec<u8>> {
        #[derive(Serialize)]
        struct Body<'a> {
            device: &'a str,
            escrow_key: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            lost_message: Option<&'a str>,
        }
        let mut hex = Zeroizing::new([0u8; ESCROW_KEY_HEX_LEN]);
        let body = Body {
            device: &self.device,
            escrow_key: self.escrow_key.encode_lower(&mut hex),
            lost_message: self.lost_message.as_deref(),
        };
        let room = 6 * (self.device.len() + self.lost_message.as_ref().map_or(0, String::len))
            + ESCROW_KEY_HEX_LEN
            + 64;
        let mut out = Zeroizing::new(Vec::with_capacity(room));
        // Serialising strings into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &body);
        out
    }
}

/// What the service answered for one device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActivationLockStatus {
    /// `SUCCESS`: the device is locked; the code whose escrow key was sent unlocks it (keep it).
    Success,
    /// `NOT_ACCESSIBLE`: not this organisation's device.
    NotAccessible,
    /// `ORG_NOT_SUPPORTED`: the organisation cannot lock devices.
    OrgNotSupported,
    /// `DEVICE_NOT_SUPPORTED`: this device cannot be locked this way.
    DeviceNotSupported,
    /// `DEVICE_ALREADY_LOCKED`: someone locked it first; the first lock takes precedence.
    DeviceAlreadyLocked,
    /// `FAILED`: try again later.
    Failed,
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl ActivationLockStatus {
    /// Reads the `response_status` value.
    #[must_use]
    pub fn from_wire(value: &str) -> Self {
        match value {
            "SUCCESS" => Self::Success,
            "NOT_ACCESSIBLE" => Self::NotAccessible,
            "ORG_NOT_SUPPORTED" => Self::OrgNotSupported,
            "DEVICE_NOT_SUPPORTED" => Self::DeviceNotSupported,
            "DEVICE_ALREADY_LOCKED" => Self::DeviceAlreadyLocked,
            "FAILED" => Self::Failed,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The wire value (verbatim for [`Unknown`](Self::Unknown)).
    #[must_use]
    pub fn as_wire(&self) -> &str {
        match self {
            Self::Success => "SUCCESS",
            Self::NotAccessible => "NOT_ACCESSIBLE",
            Self::OrgNotSupported => "ORG_NOT_SUPPORTED",
            Self::DeviceNotSupported => "DEVICE_NOT_SUPPORTED",
            Self::DeviceAlreadyLocked => "DEVICE_ALREADY_LOCKED",
            Self::Failed => "FAILED",
            Self::Unknown(other) => other,
        }
    }

    /// Whether the device is now locked with the escrow key sent.
    #[must_use]
    pub const fn is_locked(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// Whether sending the same request later may give another answer (`FAILED`).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Failed)
    }
}

impl fmt::Display for ActivationLockStatus {
    /// The wire value; an unknown value with control characters escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.as_wire().chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The service's answer for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationLockOutcome {
    /// The serial number the service answered for.
    pub serial_number: String,
    /// Its status.
    pub status: ActivationLockStatus,
}

/// Reads a `200` body of `POST /device/activationlock`: `{"serial_number","response_status"}`.
///
/// # Errors
/// What is missing or malformed.
pub fn parse_activation_lock_answer(body: &[u8]) -> Result<ActivationLockOutcome, String> {
    #[derive(Deserialize)]
    struct Answer {
        serial_number: Option<String>,
        response_status: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|error| format!("not the activation-lock JSON: {error}"))?;
    let serial_number = answer
        .serial_number
        .ok_or_else(|| "no serial_number".to_owned())?;
    let status = answer
        .response_status
        .ok_or_else(|| "no response_status".to_owned())?;
    Ok(ActivationLockOutcome {
        serial_number,
        status: ActivationLockStatus::from_wire(&status),
    })
}

impl DepRequest for ActivationLockRequest {
    type Response = ActivationLockOutcome;
    const ENDPOINT: &'static str = "POST /device/activationlock";
    const METHOD: Method = Method::POST;
    const PATH: &'static str = "/device/activationlock";

    fn body(&self) -> Option<Zeroizing<Vec<u8>>> {
        Some(self.json_body())
    }

    fn parse(&self, body: &[u8]) -> Result<ActivationLockOutcome, String> {
        let outcome = parse_activation_lock_answer(body)?;
        if !outcome.serial_number.eq_ignore_ascii_case(&self.device) {
            return Err(format!(
                "the answer is for serial {:?}, the request for {:?}",
                outcome.serial_number.escape_default().to_string(),
                self.device
            ));
        }
        Ok(outcome)
    }
}

impl DepClient {
    /// Locks one device with the escrow key of its server-created code.
    ///
    /// Make the code durable before calling: once the service answers
    /// [`Success`](ActivationLockStatus::Success), that code is the one that unlocks the device.
    ///
    /// # Errors
    /// As [`DepClient::send`]; a `200` body for another serial is
    /// [`DepError::InvalidResponse`].
    pub async fn activation_lock(
        &self,
        request: &ActivationLockRequest,
    ) -> Result<ActivationLockOutcome, DepError> {
        self.send(request).await
    }

    /// Locks many devices on one session, at most `max_in_flight` requests at a time (at
    /// least 1); the results are in the order of `requests`.
    pub async fn activation_lock_all(
        &self,
        requests: Vec<ActivationLockRequest>,
        max_in_flight: usize,
    ) -> Vec<Result<ActivationLockOutcome, DepError>> {
        let permits = alloc::sync::Arc::new(Semaphore::new(
            max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
        ));
        let mut tasks = JoinSet::new();
        let count = requests.len();
        for (index, request) in requests.into_iter().enumerate() {
            let client = self.clone();
            let permits = alloc::sync::Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (index, client.activation_lock(&request).await)
            });
        }
        let mut results: Vec<Option<Result<ActivationLockOutcome, DepError>>> =
            (0..count).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = Some(result);
                    }
                }
                Err(error) => tracing::error!(%error, "an activation-lock task failed"),
            }
        }
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(DepError::Connection {
                        endpoint: ActivationLockRequest::ENDPOINT,
                        message: "the request's task ended without an answer".to_owned(),
                    })
                })
            })
            .collect()
    }
}
