//! The decrypted content: a MIME part (`Content-Type: text/plain;charset=UTF-8`, blank line)
//! whose text holds one JSON object between `-----BEGIN MESSAGE-----` and
//! `-----END MESSAGE-----`.

use core::fmt;

use serde::{Deserialize, Deserializer, de};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::file::{header, media_type, printable, split_headers};
use crate::secret::Secret;

/// The line that opens the token JSON.
pub const BEGIN_MESSAGE: &str = "-----BEGIN MESSAGE-----";
/// The line that closes the token JSON.
pub const END_MESSAGE: &str = "-----END MESSAGE-----";

/// Why decrypted content is not a server token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The content is not UTF-8 text.
    #[error("the decrypted content is not UTF-8 text")]
    NotUtf8,
    /// The MIME part is not text.
    #[error("the decrypted MIME part is {content_type}, not text/plain")]
    NotText {
        /// The `Content-Type` given (printable excerpt).
        content_type: String,
    },
    /// No `-----BEGIN MESSAGE-----` line.
    #[error("no `-----BEGIN MESSAGE-----` marker in the decrypted content")]
    NoBeginMarker,
    /// No `-----END MESSAGE-----` after the opening marker.
    #[error("no `-----END MESSAGE-----` marker after `-----BEGIN MESSAGE-----`")]
    NoEndMarker,
    /// The text between the markers is not a JSON object of strings.
    #[error("the token JSON is malformed at line {line}, column {column}: {reason}")]
    BadJson {
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser reported (never a value of a secret field).
        reason: String,
    },
    /// A required field is absent.
    #[error("the token JSON has no `{0}`")]
    MissingField(&'static str),
    /// A required field is the empty string.
    #[error("the token JSON's `{0}` is empty")]
    EmptyField(&'static str),
    /// `access_token_expiry` is not an RFC 3339 date-time.
    #[error("`access_token_expiry` {value:?} is not an RFC 3339 date-time: {reason}")]
    BadExpiry {
        /// The value (printable excerpt; not a secret).
        value: String,
        /// What the date parser reported.
        reason: String,
    },
}

/// The token fields, as read from JSON.
pub(super) struct TokenFields {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub access_token: Secret,
    pub access_secret: Secret,
    pub access_token_expiry: OffsetDateTime,
}

/// The JSON between the markers of the decrypted content.
pub(super) fn token_json(content: &[u8]) -> Result<&[u8], MessageError> {
    let text = core::str::from_utf8(content).map_err(|_| MessageError::NotUtf8)?;
    let body = match split_headers(text.as_bytes()) {
        Some((headers, body)) => {
            if let Some(content_type) = header(&headers, "Content-Type")
                && media_type(content_type) != "text/plain"
            {
                return Err(MessageError::NotText {
                    content_type: printable(content_type),
                });
            }
            body
        }
        None => text.as_bytes(),
    };
    let begin = find(body, BEGIN_MESSAGE.as_bytes()).ok_or(MessageError::NoBeginMarker)?;
    let after = body
        .get(begin + BEGIN_MESSAGE.len()..)
        .ok_or(MessageError::NoEndMarker)?;
    let end = find(after, END_MESSAGE.as_bytes()).ok_or(MessageError::NoEndMarker)?;
    Ok(after.get(..end).unwrap_or_default().trim_ascii())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Parses the token JSON (Apple's fields; unknown fields ignored).
pub(super) fn parse_fields(json: &[u8]) -> Result<TokenFields, MessageError> {
    let raw: RawToken = serde_json::from_slice(json).map_err(|error| MessageError::BadJson {
        line: error.line(),
        column: error.column(),
        reason: reason_without_position(&error),
    })?;
    let consumer_key = required("consumer_key", raw.consumer_key.map(|s| s.0))?;
    let consumer_secret = required_secret("consumer_secret", raw.consumer_secret)?;
    let access_token = required_secret("access_token", raw.access_token)?;
    let access_secret = required_secret("access_secret", raw.access_secret)?;
    let expiry = required("access_token_expiry", raw.access_token_expiry.map(|s| s.0))?;
    let access_token_expiry =
        OffsetDateTime::parse(&expiry, &Rfc3339).map_err(|error| MessageError::BadExpiry {
            value: printable(&expiry),
            reason: error.to_string(),
        })?;
    Ok(TokenFields {
        consumer_key,
        consumer_secret,
        access_token,
        access_secret,
        access_token_expiry,
    })
}

fn reason_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let cut = text.rfind(" at line ").unwrap_or(text.len());
    printable(text.get(..cut).unwrap_or_default())
}

fn required(name: &'static str, value: Option<String>) -> Result<String, MessageError> {
    let value = value.ok_or(MessageError::MissingField(name))?;
    if value.is_empty() {
        return Err(MessageError::EmptyField(name));
    }
    Ok(value)
}

fn required_secret(name: &'static str, value: Option<Secret>) -> Result<Secret, MessageError> {
    let value = value.ok_or(MessageError::MissingField(name))?;
    if value.is_empty() {
        return Err(MessageError::EmptyField(name));
    }
    Ok(value)
}

/// The JSON object; secrets go straight into wiped storage.
#[derive(Deserialize)]
struct RawToken {
    consumer_key: Option<Plain>,
    consumer_secret: Option<Secret>,
    access_token: Option<Secret>,
    access_secret: Option<Secret>,
    access_token_expiry: Option<Plain>,
}

/// A JSON string field (its type errors never quote a value).
struct Plain(String);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_string(StringVisitor).map(Plain)
    }
}

/// Takes a JSON string whole (into wiped storage for [`Secret`]); never quotes a value in
/// its errors.
pub(crate) struct StringVisitor;

impl de::Visitor<'_> for StringVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<String, E> {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"consumer_key":"CK_1","consumer_secret":"CS_2","access_token":"AT_3","access_secret":"AS_4","access_token_expiry":"2027-06-18T16:46:07Z"}"#;

    #[test]
    fn finds_the_json_with_or_without_mime_headers() {
        let framed = format!(
            "Content-Type: text/plain;charset=UTF-8\r\n\r\n{BEGIN_MESSAGE}\n{JSON}\n{END_MESSAGE}\n"
        );
        assert_eq!(token_json(framed.as_bytes()).unwrap(), JSON.as_bytes());
        let bare = format!("{BEGIN_MESSAGE}{JSON}{END_MESSAGE}");
        assert_eq!(token_json(bare.as_bytes()).unwrap(), JSON.as_bytes());
        let fields = parse_fields(JSON.as_bytes()).unwrap();
        assert_eq!(fields.consumer_key, "CK_1");
        assert_eq!(fields.access_secret.expose(), "AS_4");
        assert_eq!(fields.access_token_expiry.unix_timestamp(), 1_813_337_167);
    }

    #[test]
    fn type_errors_never_quote_values() {
        let Err(error) = parse_fields(br#"{"consumer_secret": 12345}"#) else {
            panic!("accepted")
        };
        let MessageError::BadJson { reason, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(reason.contains("a string"), "{reason}");
    }
}
