//! The API's errors: an HTTP status and a JSON body `{"error": {"kind": ..., "message": ...}}`
//! whose `kind` is stable and machine-readable.

use serde::Serialize;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable name: `unauthorized`, `forbidden`, `not_found`, `bad_webhook`...
    pub kind: &'static str,
    /// What is wrong, in words (escaped; never a secret).
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    kind: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with this status, kind and message.
    #[must_use]
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    /// `401 unauthorized`.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "a valid API key is needed")
    }

    /// `403 forbidden`: the key may not do this.
    #[must_use]
    pub fn forbidden(what: &str) -> Self {
        Self::new(403, "forbidden", format!("this API key may not {what}"))
    }

    /// `404 not_found`.
    #[must_use]
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(404, "not_found", what)
    }

    /// `500 store`: the store failed (nothing was lost; try again).
    #[must_use]
    pub fn store(error: &impl core::fmt::Display) -> Self {
        Self::new(500, "store", format!("store: {error}"))
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            error: Inner {
                kind: self.kind,
                message: &self.message,
            },
        })
        .unwrap_or_default()
    }
}
