//! Why a call to NanoMDM's API did not produce a reply.

use core::time::Duration;

use crate::reply::EnqueueReply;

/// Why a call to NanoMDM's API failed. Text from the server or the caller is escaped and
/// shortened in messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NanoMdmError {
    /// No enrollment id was given.
    #[error("no enrollment id given")]
    NoIds,
    /// An enrollment id cannot be sent (NanoMDM splits the path on commas).
    #[error("enrollment id \"{id}\" cannot be sent: {reason}")]
    InvalidId {
        /// The id, escaped and shortened.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// NanoMDM refused the API key (`401`).
    #[error("NanoMDM refused the API key (401 Unauthorized)")]
    Unauthorized,
    /// NanoMDM answered with its result object and a `500`: every id failed, or the call as
    /// a whole did (an unreadable command, the store or the push service unavailable).
    #[error("NanoMDM reported that the call failed ({status}): {}", summary(reply))]
    AllFailed {
        /// The HTTP status.
        status: u16,
        /// What NanoMDM reported, per id and for the whole call.
        reply: Box<EnqueueReply>,
    },
    /// Any other status that is not a success, with the start of the body.
    #[error("NanoMDM answered {status}{}", if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") })]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the body, escaped, `…` when cut.
        excerpt: String,
    },
    /// A success status whose body is not NanoMDM's result object.
    #[error("NanoMDM's {status} reply is not its result object: {reason}")]
    BadReply {
        /// The HTTP status.
        status: u16,
        /// Why (what the JSON parser reported).
        reason: String,
    },
    /// A success status whose body is over the bound.
    #[error("NanoMDM's {status} reply is over {limit} bytes")]
    ReplyTooLarge {
        /// The HTTP status.
        status: u16,
        /// The bound.
        limit: usize,
    },
    /// The request did not complete within the time limit.
    #[error("NanoMDM did not answer within {limit:?}")]
    Timeout {
        /// The time limit.
        limit: Duration,
    },
    /// The connection failed (DNS, TCP, TLS, proxy, or the server closed it).
    #[error("cannot reach NanoMDM: {message}")]
    Transport {
        /// What failed, with its causes.
        message: String,
    },
    /// The request could not be built (an invalid URL after the ids were added).
    #[error("cannot build the request: {reason}")]
    Request {
        /// Why.
        reason: String,
    },
}

/// The first errors NanoMDM reported, for a message.
fn summary(reply: &EnqueueReply) -> String {
    let mut parts = Vec::new();
    if let Some(error) = &reply.enqueue_error {
        parts.push(format!("enqueue error: {}", crate::text::shown(error)));
    }
    if let Some(error) = &reply.push_error {
        parts.push(format!("push error: {}", crate::text::shown(error)));
    }
    let failed = reply.failed_ids().count();
    if let Some((id, result)) = reply.failed_ids().next() {
        let error = result
            .enqueue_error
            .as_deref()
            .or(result.push_error.as_deref())
            .unwrap_or_default();
        parts.push(format!(
            "{failed} id(s) failed, first {}: {}",
            crate::text::shown(id),
            crate::text::shown(error)
        ));
    }
    if parts.is_empty() {
        parts.push("no error given".to_owned());
    }
    parts.join("; ")
}
