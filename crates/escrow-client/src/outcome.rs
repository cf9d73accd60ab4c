//! What an unlock attempt came to: the status classes, each attempt's report and the verdict.

use core::{fmt, time::Duration};

use crate::excerpt::BodyExcerpt;

/// Where a bypass code came from. Reports and logs name the code by its source, never by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeSource {
    /// The code the device generated and reported to the MDM server.
    Device,
    /// The code the MDM server created and whose escrow key it sent to the device.
    Server,
    /// The n-th code given by the operator (1-based), for instance on a command line.
    Supplied(u32),
}

impl fmt::Display for CodeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device => f.write_str("device code"),
            Self::Server => f.write_str("server code"),
            Self::Supplied(n) => write!(f, "code #{n}"),
        }
    }
}

/// What an HTTP status from the escrow-key unlock service means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusClass {
    /// `200`: Activation Lock is removed.
    Unlocked,
    /// `404`: the device is not found or the escrow key is not valid; try the other code.
    NotFound,
    /// `400`: the request is malformed. A bug on our side: never retried.
    BadRequest,
    /// `5xx`, `408`, `429`: the service is having trouble; retried with backoff.
    Retryable,
    /// Any other status (`401`, `403`, a `3xx`, another `2xx`...): not retried, reported.
    Unexpected,
    /// `401` from a NanoMDM relay: NanoMDM's own API authentication refused the key (Apple's
    /// service, reached with a client certificate, does not answer `401`). Not retried, and no
    /// other code is tried: the key is wrong, not the code. Only
    /// [`AttemptResult::from_relay_response`] gives it.
    RelayUnauthorized,
}

impl StatusClass {
    /// Classifies an HTTP status code. Total: every `u16` has a class.
    #[must_use]
    pub const fn of(status: u16) -> Self {
        match status {
            200 => Self::Unlocked,
            404 => Self::NotFound,
            400 => Self::BadRequest,
            408 | 429 | 500..=599 => Self::Retryable,
            _ => Self::Unexpected,
        }
    }
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The TLS handshake failed or the peer sent a TLS alert (untrusted server certificate,
    /// client certificate refused...). Not retried: retrying cannot help.
    Tls,
    /// The connection could not be made, or was reset or closed before a whole response came.
    /// Retried.
    Connection,
}

/// What one HTTP exchange came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// The service answered.
    Response {
        /// The HTTP status code.
        status: u16,
        /// What the status means.
        class: StatusClass,
        /// The start of the response body, bounded, with the code redacted.
        body: BodyExcerpt,
    },
    /// No whole response within the attempt's time limit.
    TimedOut {
        /// The limit that expired.
        limit: Duration,
    },
    /// The exchange failed below HTTP.
    Transport {
        /// Which kind of failure.
        failure: TransportFailure,
        /// The error chain, as text (it never holds the request).
        message: String,
    },
}

impl AttemptResult {
    /// Classifies a response: status and bounded body.
    #[must_use]
    pub fn from_response(status: u16, body: BodyExcerpt) -> Self {
        Self::Response {
            status,
            class: StatusClass::of(status),
            body,
        }
    }

    /// Classifies a response relayed by NanoMDM: as [`from_response`](Self::from_response) (NanoMDM
    /// passes Apple's status and body through), except `401`, which is NanoMDM's own refusal of
    /// the API key ([`StatusClass::RelayUnauthorized`]).
    #[must_use]
    pub fn from_relay_response(status: u16, body: BodyExcerpt) -> Self {
        if status == 401 {
            return Self::Response {
                status,
                class: StatusClass::RelayUnauthorized,
                body,
            };
        }
        Self::from_response(status, body)
    }

    /// Whether trying the same code again may succeed (`5xx`, time-outs, connection failures).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Response { class, .. } => matches!(class, StatusClass::Retryable),
            Self::TimedOut { .. } => true,
            Self::Transport { failure, .. } => matches!(failure, TransportFailure::Connection),
        }
    }

    /// The HTTP status, when the service answered.
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response { status, .. } => write!(f, "HTTP {status}"),
            Self::TimedOut { limit } => write!(f, "no response within {} ms", limit.as_millis()),
            Self::Transport {
                failure: TransportFailure::Tls,
                message,
            } => {
                write!(f, "TLS failure: {message}")
            }
            Self::Transport { message, .. } => write!(f, "connection failure: {message}"),
        }
    }
}

/// One HTTP exchange: which code, which try, what came of it, how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// Which code was sent (never the code itself).
    pub code: CodeSource,
    /// The try number for this code, from 1.
    pub try_number: u32,
    /// What came of it.
    pub result: AttemptResult,
    /// From sending the request to the end of the (bounded) body or the failure.
    pub duration: Duration,
}

/// How the whole unlock came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Activation Lock is removed; this code worked.
    Unlocked {
        /// The code that worked.
        code: CodeSource,
    },
    /// Every code was answered `404`: device not found or no code matches its escrow key.
    NotFound,
    /// `404` for this code: the device is not found or this code does not match its escrow
    /// key (the verdict of one code; the other code may be the active one).
    Rejected {
        /// The code refused.
        code: CodeSource,
    },
    /// `400` for this code: the request is malformed (a bug); not retried.
    BadRequest {
        /// The code being tried.
        code: CodeSource,
    },
    /// A status that is neither success, `404`, `400` nor retryable; not retried.
    UnexpectedStatus {
        /// The code being tried.
        code: CodeSource,
        /// The status.
        status: u16,
    },
    /// `401` from the NanoMDM relay: it refused the API key. Not retried, no other code tried.
    RelayUnauthorized {
        /// The code being tried.
        code: CodeSource,
    },
    /// The TLS handshake failed (certificates): not retried.
    TlsFailure {
        /// The code being tried.
        code: CodeSource,
    },
    /// `5xx`, time-outs or connection failures on every try the retry policy allows.
    Unavailable {
        /// The code being tried.
        code: CodeSource,
    },
    /// The overall deadline passed before an answer.
    DeadlineExceeded {
        /// The code being tried.
        code: CodeSource,
    },
    /// No code was given.
    NoCodes,
}

impl Verdict {
    /// Whether Activation Lock was removed.
    #[must_use]
    pub const fn is_unlocked(&self) -> bool {
        matches!(self, Self::Unlocked { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unlocked { code } => write!(f, "unlocked with the {code}"),
            Self::NotFound => f.write_str(
                "not unlocked: every code was refused (404: device not found or escrow key not valid)",
            ),
            Self::Rejected { code } => write!(
                f,
                "not unlocked: the {code} was refused (404: device not found or escrow key not \
                 valid)"
            ),
            Self::BadRequest { code } => write!(
                f,
                "not unlocked: the service called the request malformed (400) with the {code}; \
                 this is a bug, not retried"
            ),
            Self::UnexpectedStatus { code, status } => {
                write!(f, "not unlocked: unexpected HTTP {status} with the {code}")
            }
            Self::RelayUnauthorized { code } => write!(
                f,
                "not unlocked: NanoMDM refused the API key (401) with the {code}; check the key, \
                 not retried"
            ),
            Self::TlsFailure { code } => write!(
                f,
                "not unlocked: TLS handshake failed with the {code} (check the client identity \
                 and the server's trust)"
            ),
            Self::Unavailable { code } => write!(
                f,
                "not unlocked: the service stayed unavailable while trying the {code}"
            ),
            Self::DeadlineExceeded { code } => {
                write!(f, "not unlocked: the overall deadline passed while trying the {code}")
            }
            Self::NoCodes => f.write_str("not unlocked: no code to try"),
        }
    }
}

/// How the tries of one code came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeVerdict {
    /// The code.
    pub code: CodeSource,
    /// Its verdict: [`Verdict::Unlocked`], [`Verdict::Rejected`] or why it could not unlock.
    pub verdict: Verdict,
}

/// The verdict, each code's verdict and every attempt that led to them, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockOutcome {
    /// How it came out as a whole (see [`UnlockOutcome::from_codes`]).
    pub verdict: Verdict,
    /// Each code tried, in order, with its own verdict.
    pub codes: Vec<CodeVerdict>,
    /// Every HTTP exchange, in order.
    pub attempts: Vec<AttemptReport>,
}

impl UnlockOutcome {
    /// The outcome of codes tried in order. The overall verdict: [`Verdict::Unlocked`] when a
    /// code unlocked; [`Verdict::NoCodes`] when none was tried; [`Verdict::NotFound`] when every
    /// code was refused (`404`); otherwise the first code's failure that was not a refusal (the
    /// reason the answer is not final: a code could not be checked).
    #[must_use]
    pub fn from_codes(codes: Vec<CodeVerdict>, attempts: Vec<AttemptReport>) -> Self {
        let verdict = if let Some(unlocked) = codes.iter().find(|c| c.verdict.is_unlocked()) {
            unlocked.verdict
        } else if codes.is_empty() {
            Verdict::NoCodes
        } else {
            codes
                .iter()
                .map(|c| c.verdict)
                .find(|v| !matches!(v, Verdict::Rejected { .. }))
                .unwrap_or(Verdict::NotFound)
        };
        Self {
            verdict,
            codes,
            attempts,
        }
    }

    /// Whether Activation Lock was removed.
    #[must_use]
    pub const fn is_unlocked(&self) -> bool {
        self.verdict.is_unlocked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_follow_the_service_contract() {
        assert_eq!(StatusClass::of(200), StatusClass::Unlocked);
        assert_eq!(StatusClass::of(404), StatusClass::NotFound);
        assert_eq!(StatusClass::of(400), StatusClass::BadRequest);
        for status in [500, 502, 503, 504, 599, 408, 429] {
            assert_eq!(StatusClass::of(status), StatusClass::Retryable, "{status}");
        }
        for status in [0, 100, 201, 204, 301, 401, 403, 405, 600, u16::MAX] {
            assert_eq!(StatusClass::of(status), StatusClass::Unexpected, "{status}");
        }
    }

    #[test]
    fn verdicts_name_the_code_source_only() {
        let verdict = Verdict::Unlocked {
            code: CodeSource::Server,
        };
        assert_eq!(verdict.to_string(), "unlocked with the server code");
        assert_eq!(CodeSource::Supplied(2).to_string(), "code #2");
    }
}
