//! Why a webhook body was refused.

/// Why a webhook body was refused. Text from the body in a message is escaped and shortened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is longer than [`WebhookLimits::max_body`](super::WebhookLimits::max_body);
    /// it was not parsed.
    #[error("the webhook body is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The body's length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON (or nests too deeply).
    #[error("the webhook body is not JSON: {reason} at line {line}, column {column}")]
    NotJson {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// What the JSON parser reported.
        reason: String,
    },
    /// A field the event needs is absent or `null`.
    #[error("`{field}` is missing from the {topic} event")]
    MissingField {
        /// The field's path (`checkin_event.raw_payload`).
        field: &'static str,
        /// The event's topic, escaped (`?` when the topic itself is missing).
        topic: String,
    },
    /// A field holds the wrong JSON type (or a number out of range).
    #[error("`{field}` is {found}, expected {expected}")]
    WrongType {
        /// The field's path (`checkin_event.url_params["key"]`, the key escaped).
        field: String,
        /// What was expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A `raw_payload` is not standard base64 with padding.
    #[error("`{field}` is not padded standard base64: {reason}")]
    BadBase64 {
        /// The field's path.
        field: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// A `raw_payload` is empty where the event needs a property list.
    #[error("`{field}` is empty: the {topic} event carries no property list")]
    EmptyPayload {
        /// The field's path.
        field: &'static str,
        /// The event's topic, escaped.
        topic: String,
    },
    /// A `raw_payload` decodes to more than
    /// [`WebhookLimits::max_payload`](super::WebhookLimits::max_payload); it was not decoded.
    #[error("`{field}` decodes to about {size} bytes, over the limit of {limit}")]
    PayloadTooLarge {
        /// The field's path.
        field: &'static str,
        /// The decoded size (estimated from the base64 length).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `created_at` is not an RFC 3339 date and time.
    #[error("`created_at` is not an RFC 3339 time (\"{value}\"): {reason}")]
    BadTime {
        /// The value, escaped and shortened.
        value: String,
        /// What the time parser reported.
        reason: String,
    },
}

impl WebhookError {
    /// A stable, machine-readable name for the kind of error: `too_large`, `not_json`,
    /// `missing_field`, `wrong_type`, `bad_base64`, `empty_payload`, `payload_too_large`,
    /// `bad_time`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::NotJson { .. } => "not_json",
            Self::MissingField { .. } => "missing_field",
            Self::WrongType { .. } => "wrong_type",
            Self::BadBase64 { .. } => "bad_base64",
            Self::EmptyPayload { .. } => "empty_payload",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BadTime { .. } => "bad_time",
        }
    }
}
