//! The start of a response body, kept for diagnostics within a fixed bound, printable.

use core::fmt::{self, Write as _};

/// How much of an error body is kept.
pub const EXCERPT_BYTES: usize = 512;

/// At most [`EXCERPT_BYTES`] from the start of a response body, and whether more followed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BodyExcerpt {
    bytes: Vec<u8>,
    truncated: bool,
}

impl BodyExcerpt {
    /// Keeps the start of `body`.
    #[must_use]
    pub fn new(body: &[u8]) -> Self {
        let kept = body.get(..EXCERPT_BYTES).unwrap_or(body);
        Self {
            bytes: kept.to_vec(),
            truncated: kept.len() < body.len(),
        }
    }

    /// The bytes kept.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the body was longer than the excerpt.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Printable text for a log line or terminal: invalid UTF-8 replaced, control characters
    /// escaped (no terminal escape sequence passes), `…` appended when truncated.
    #[must_use]
    pub fn to_text(&self) -> String {
        let lossy = String::from_utf8_lossy(&self.bytes);
        let mut text = String::with_capacity(lossy.len());
        for c in lossy.chars() {
            if c.is_control() {
                let _ = write!(text, "{}", c.escape_default());
            } else {
                text.push(c);
            }
        }
        if self.truncated {
            text.push('…');
        }
        text
    }
}

impl fmt::Debug for BodyExcerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyExcerpt({:?})", self.to_text())
    }
}

impl fmt::Display for BodyExcerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// The service's error code in a body, whatever its form: a bare word (`T_C_NOT_SIGNED`), a
/// JSON string (`"T_C_NOT_SIGNED"`), or a JSON object with a `code`/`error`/`error_code`/`message`
/// field. `None` when no upper-case code word is found.
#[must_use]
pub fn service_code(body: &[u8]) -> Option<String> {
    let text = core::str::from_utf8(body).ok()?.trim();
    let candidate = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(code)) => code,
        Ok(serde_json::Value::Object(fields)) => {
            ["code", "error", "error_code", "errorCode", "message"]
                .iter()
                .find_map(|key| fields.get(*key).and_then(serde_json::Value::as_str))
                .map(str::to_owned)?
        }
        _ => text.to_owned(),
    };
    candidate
        .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .find(|word| {
            word.len() >= 3
                && word.contains('_')
                && word.starts_with(|c: char| c.is_ascii_uppercase())
        })
        .map(str::to_owned)
}

/// Whether the body contains this code (substring: Apple's bodies vary in form).
#[must_use]
pub fn body_has(body: &[u8], code: &str) -> bool {
    !code.is_empty()
        && body
            .windows(code.len())
            .any(|window| window == code.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_every_form() {
        for body in [
            &b"USER_AGENT_INVALID"[..],
            b"\"USER_AGENT_INVALID\"\n",
            br#"{"code":"USER_AGENT_INVALID","message":"bad agent"}"#,
            br#"{"error":"USER_AGENT_INVALID"}"#,
            b"error: USER_AGENT_INVALID (see docs)",
        ] {
            assert_eq!(
                service_code(body).as_deref(),
                Some("USER_AGENT_INVALID"),
                "{body:?}"
            );
        }
        assert_eq!(service_code(b"Bad Request"), None);
        assert_eq!(service_code(b"\xff\xfe"), None);
        assert!(body_has(b"{\"x\":\"T_C_NOT_SIGNED\"}", "T_C_NOT_SIGNED"));
        assert!(!body_has(b"", "FORBIDDEN"));
        assert!(!body_has(b"x", ""));
    }

    #[test]
    fn excerpts_are_bounded_and_printable() {
        let long = vec![b'a'; 2000];
        let excerpt = BodyExcerpt::new(&long);
        assert_eq!(excerpt.as_bytes().len(), EXCERPT_BYTES);
        assert!(excerpt.is_truncated());
        assert!(excerpt.to_text().ends_with('…'));
        assert_eq!(
            BodyExcerpt::new(b"a\x1b[2Jb\n").to_text(),
            "a\\u{1b}[2Jb\\n"
        );
    }
}
