//! What can go wrong talking to the service: one precise variant per cause, naming the
//! endpoint and carrying a bounded, printable excerpt of the body.

use core::time::Duration;

use time::OffsetDateTime;

use crate::excerpt::BodyExcerpt;

/// Why a request is not valid, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The device serial number is empty.
    #[error("the device serial number is empty")]
    EmptySerial,
    /// The device serial number is too long or has characters a serial cannot have.
    #[error("the device serial number must be 1 to {max} visible ASCII characters without spaces")]
    InvalidSerial {
        /// The longest serial accepted.
        max: usize,
    },
    /// The lost-mode message is too long or has control characters other than line breaks.
    #[error(
        "the lost message must be at most {max} characters without control characters (line breaks allowed)"
    )]
    InvalidLostMessage {
        /// The longest message accepted, in characters.
        max: usize,
    },
}

/// Why a call to the device enrollment service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DepError {
    /// The request itself is invalid; nothing was sent.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The server token has expired; nothing was sent.
    #[error("the server token expired at {}; download a new one from the portal", crate::token::rfc3339(*expired_at))]
    TokenExpired {
        /// When it expired.
        expired_at: OffsetDateTime,
    },
    /// The service refused the credentials or the session (`401`), also after one new
    /// session: the token was revoked, the signature or clock is wrong, or a nonce was reused.
    #[error("{endpoint}: 401 Unauthorized (after re-authenticating): {body}")]
    Unauthorized {
        /// The endpoint (`GET /session`).
        endpoint: &'static str,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// `403 T_C_NOT_SIGNED`: the organisation must accept Apple's new terms in the portal;
    /// re-authenticating does not help.
    #[error(
        "{endpoint}: 403 T_C_NOT_SIGNED: an administrator must accept the new terms and conditions in Apple Business/School Manager"
    )]
    TermsNotSigned {
        /// The endpoint.
        endpoint: &'static str,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// `403 ACCESS_DENIED`: this MDM server may not do this.
    #[error("{endpoint}: 403 ACCESS_DENIED: {body}")]
    AccessDenied {
        /// The endpoint.
        endpoint: &'static str,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// `403` otherwise (`FORBIDDEN` again after a new session, or no known code).
    #[error("{endpoint}: 403 Forbidden: {body}")]
    Forbidden {
        /// The endpoint.
        endpoint: &'static str,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// `400`: the service names what it refused (`USER_AGENT_INVALID`,
    /// `MALFORMED_REQUEST_BODY`…). Not retried: a bug or a configuration to fix.
    #[error("{endpoint}: 400 Bad Request{}: {body}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    BadRequest {
        /// The endpoint.
        endpoint: &'static str,
        /// The service's error code, if the body has one.
        code: Option<String>,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// `429` or `5xx` that did not clear within the throttle policy, or a `Retry-After`
    /// longer than the policy's `max_wait`: try again later (after `retry_after` if given).
    #[error("{endpoint}: {status} after {attempts} attempt(s){}", retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    Unavailable {
        /// The endpoint.
        endpoint: &'static str,
        /// The last status.
        status: u16,
        /// The last `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// How many times the request was sent.
        attempts: u32,
    },
    /// Any other status.
    #[error("{endpoint}: unexpected status {status}: {body}")]
    UnexpectedStatus {
        /// The endpoint.
        endpoint: &'static str,
        /// The status.
        status: u16,
        /// The start of the body.
        body: BodyExcerpt,
    },
    /// The response body is larger than the configured bound.
    #[error("{endpoint}: the response body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The endpoint.
        endpoint: &'static str,
        /// The bound.
        limit: usize,
    },
    /// A `200` body that is not the expected JSON.
    #[error("{endpoint}: the response is not what the service sends: {reason}")]
    InvalidResponse {
        /// The endpoint.
        endpoint: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The exchange took longer than the request time-out. The service may still have
    /// acted on the request.
    #[error("{endpoint}: no complete answer within {} ms", limit.as_millis())]
    Timeout {
        /// The endpoint.
        endpoint: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// TLS failed (the service's certificate is not trusted, or the handshake failed).
    #[error("{endpoint}: TLS failure: {message}")]
    Tls {
        /// The endpoint.
        endpoint: &'static str,
        /// The chain of errors.
        message: String,
    },
    /// The connection failed or broke.
    #[error("{endpoint}: connection failure: {message}")]
    Connection {
        /// The endpoint.
        endpoint: &'static str,
        /// The chain of errors.
        message: String,
    },
    /// The operating system's random source failed (for the OAuth nonce).
    #[error("the random source failed: {0}")]
    Random(String),
}

impl DepError {
    /// Whether trying the same request later may succeed (`429`/`5xx`, time-outs, broken
    /// connections); `false` for what needs a person (terms, credentials, configuration).
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Timeout { .. } | Self::Connection { .. }
        )
    }
}
