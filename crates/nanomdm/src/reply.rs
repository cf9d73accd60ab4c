//! NanoMDM's answer to an enqueue or push: its `APIResult` JSON object, per enrollment id.
//!
//! Facts from NanoMDM's source (`api/types.go`, `api/api.go`, `http/api/api.go`): the object
//! has `status` (a map from enrollment id to `push_result` / `push_error` / `command_error`),
//! `no_push`, top-level `push_error` and `command_error`, `command_uuid` and `request_type`;
//! errors are plain strings. The HTTP status is 200 when nothing failed, 207 when some ids
//! failed and 500 when every id failed or a top-level error occurred (same JSON object).

use alloc::collections::BTreeMap;

use serde::Deserialize;

/// What NanoMDM reported for one enrollment id.
///
/// The texts are NanoMDM's (untrusted): escape them before printing to a terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdResult {
    /// The `apns-id` of the push sent to this id (`push_result`).
    pub push_id: Option<String>,
    /// Why the push to this id failed (`push_error`); the command, if any, stays queued.
    pub push_error: Option<String>,
    /// Why the command could not be queued for this id (`command_error`).
    pub enqueue_error: Option<String>,
}

impl IdResult {
    /// Whether NanoMDM reported no error for this id.
    #[must_use]
    pub const fn is_ok(&self) -> bool {
        self.push_error.is_none() && self.enqueue_error.is_none()
    }
}

/// NanoMDM's answer to [`enqueue`](crate::NanoMdmClient::enqueue) (and, with no command,
/// to [`push`](crate::NanoMdmClient::push)).
///
/// `results` holds the ids NanoMDM reported: with a push, every id (its `push_result` or
/// `push_error`); without one, only the ids that failed. An id it did not report had its
/// command queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnqueueReply {
    /// The `CommandUUID` of the command queued, as NanoMDM read it.
    pub command_uuid: Option<String>,
    /// The command's `RequestType`, as NanoMDM read it.
    pub request_type: Option<String>,
    /// Per enrollment id, what NanoMDM reported.
    pub results: BTreeMap<String, IdResult>,
    /// Whether NanoMDM sent no push for this call (`no_push`).
    pub no_push: bool,
    /// An error that concerned the whole call's queueing (`command_error`).
    pub enqueue_error: Option<String>,
    /// An error that concerned the whole call's push (`push_error`).
    pub push_error: Option<String>,
    /// The HTTP status: 200 (all succeeded), 207 (some ids failed), or 500 in
    /// [`NanoMdmError::AllFailed`](crate::NanoMdmError::AllFailed).
    pub http_status: u16,
}

/// The reply of [`push`](crate::NanoMdmClient::push): the same object, with no command.
pub type PushReply = EnqueueReply;

impl EnqueueReply {
    /// Whether NanoMDM reported no error at all.
    #[must_use]
    pub fn all_succeeded(&self) -> bool {
        self.enqueue_error.is_none()
            && self.push_error.is_none()
            && self.results.values().all(IdResult::is_ok)
    }

    /// The ids NanoMDM reported an error for.
    pub fn failed_ids(&self) -> impl Iterator<Item = (&str, &IdResult)> {
        self.results
            .iter()
            .filter(|(_, result)| !result.is_ok())
            .map(|(id, result)| (id.as_str(), result))
    }

    /// Whether any error is reported (top-level or for an id).
    pub(crate) fn any_error(&self) -> bool {
        !self.all_succeeded()
    }

    /// Reads the JSON object; `Err` says why it is not one.
    pub(crate) fn from_json(body: &[u8], http_status: u16) -> Result<Self, serde_json::Error> {
        let wire: WireResult = serde_json::from_slice(body)?;
        Ok(Self {
            command_uuid: text(wire.command_uuid),
            request_type: text(wire.request_type),
            results: wire
                .status
                .unwrap_or_default()
                .into_iter()
                .map(|(id, result)| {
                    let result = IdResult {
                        push_id: text(result.push_result),
                        push_error: text(result.push_error),
                        enqueue_error: text(result.command_error),
                    };
                    (id, result)
                })
                .collect(),
            no_push: wire.no_push.unwrap_or(false),
            enqueue_error: text(wire.command_error),
            push_error: text(wire.push_error),
            http_status,
        })
    }
}

/// Go's `omitempty`: an empty string is no value.
fn text(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.is_empty())
}

/// `api.APIResult` on the wire (unknown fields ignored).
#[derive(Deserialize)]
struct WireResult {
    status: Option<BTreeMap<String, WireIdResult>>,
    no_push: Option<bool>,
    push_error: Option<String>,
    command_error: Option<String>,
    command_uuid: Option<String>,
    request_type: Option<String>,
}

/// `api.EnrollmentResult` on the wire.
#[derive(Deserialize)]
struct WireIdResult {
    push_error: Option<String>,
    push_result: Option<String>,
    command_error: Option<String>,
}
