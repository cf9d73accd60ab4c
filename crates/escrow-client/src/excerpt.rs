//! The start of a response body, kept for diagnostics within a fixed bound.

/// What replaces a secret found in a body.
const REDACTED: &[u8] = b"[redacted]";

/// At most `limit` bytes from the start of a response body, and whether more followed.
///
/// Filled chunk by chunk with [`push`](Self::push): memory never exceeds the limit, whatever
/// the server sends. [`redact`](Self::redact) removes a secret (the bypass code) the server may
/// have echoed, including a partial copy cut at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyExcerpt {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl BodyExcerpt {
    /// An empty excerpt that keeps at most `limit` bytes.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Appends a chunk, keeping only what fits. Returns `false` once the limit is reached and
    /// more bytes were offered: the caller can stop reading.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.limit.saturating_sub(self.bytes.len());
        if chunk.len() > room {
            self.bytes.extend_from_slice(&chunk[..room]);
            self.truncated = true;
            false
        } else {
            self.bytes.extend_from_slice(chunk);
            true
        }
    }

    /// Replaces every copy of `secret` with `[redacted]`; when the excerpt was cut, also a
    /// trailing partial copy. An empty secret changes nothing.
    pub fn redact(&mut self, secret: &[u8]) {
        if secret.is_empty() || self.bytes.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.bytes.len());
        let mut i = 0;
        let mut changed = false;
        while i < self.bytes.len() {
            if self.bytes[i..].starts_with(secret) {
                out.extend_from_slice(REDACTED);
                i += secret.len();
                changed = true;
            } else {
                out.push(self.bytes[i]);
                i += 1;
            }
        }
        if self.truncated {
            let longest = (1..secret.len().min(out.len() + 1))
                .rev()
                .find(|&n| out.ends_with(&secret[..n]));
            if let Some(n) = longest {
                out.truncate(out.len() - n);
                out.extend_from_slice(REDACTED);
                changed = true;
            }
        }
        if changed {
            self.bytes = out;
        }
    }

    /// Replaces every copy of a bypass code with `[redacted]`, however the server wrote it:
    /// in any case, with the dashes where they belong, elsewhere, or none
    /// (`A8QK7-GFG21-...`, `a8qk7gfg21...`); when the excerpt was cut, also a trailing partial
    /// copy.
    pub fn redact_code(&mut self, code: &bypass_code::BypassCode) {
        let mut dashed = zeroize::Zeroizing::new([0u8; bypass_code::ENCODED_LEN]);
        let text = code.encode(&mut dashed);
        let mut symbols = zeroize::Zeroizing::new([0u8; bypass_code::ENCODED_LEN]);
        let mut count = 0;
        for b in text.bytes().filter(|b| *b != b'-') {
            symbols[count] = b;
            count += 1;
        }
        self.redact_loose(&symbols[..count]);
    }

    /// [`redact_code`](Self::redact_code) over the code's symbols: ASCII case ignored, dashes
    /// skipped between symbols.
    fn redact_loose(&mut self, symbols: &[u8]) {
        if symbols.is_empty() || self.bytes.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.bytes.len());
        let mut i = 0;
        let mut changed = false;
        while i < self.bytes.len() {
            match loose_match(&self.bytes[i..], symbols) {
                Match::Whole(len) => {
                    out.extend_from_slice(REDACTED);
                    i += len;
                    changed = true;
                }
                Match::Partial if self.truncated => {
                    out.extend_from_slice(REDACTED);
                    i = self.bytes.len();
                    changed = true;
                }
                Match::Partial | Match::None => {
                    out.push(self.bytes[i]);
                    i += 1;
                }
            }
        }
        if changed {
            zeroize::Zeroize::zeroize(&mut self.bytes);
            self.bytes = out;
        }
    }

    /// The bytes kept.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the body was longer than the limit.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Whether nothing was kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Printable text for a log line or terminal: invalid UTF-8 replaced, control, bidirectional
    /// and invisible characters escaped ([`printable`]: no terminal escape sequence passes), `…`
    /// appended when truncated.
    #[must_use]
    pub fn to_text(&self) -> String {
        use core::fmt::Write as _;
        let lossy = String::from_utf8_lossy(&self.bytes);
        // Every escape as `\u{..}`, never the short forms (`\0`, `\t`): a short escape's last
        // character could join the text after it into a code the redaction removed (a body
        // of `NUL 0000-0000W-...` would read `\00000-0000W-...`). Braces are no code symbol.
        let mut text = String::with_capacity(lossy.len() + 8);
        for c in lossy.chars() {
            if printable::needs_escape(c) {
                // Writing into a `String` cannot fail.
                let _ = write!(text, "\\u{{{:x}}}", u32::from(c));
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

/// How the bytes at one position match a code.
enum Match {
    /// The whole code, spanning this many bytes.
    Whole(usize),
    /// A prefix of the code (at least one symbol) runs to the end of the bytes.
    Partial,
    /// No match.
    None,
}

/// Whether `bytes` start with `symbols`, ASCII case ignored, dashes allowed between symbols.
fn loose_match(bytes: &[u8], symbols: &[u8]) -> Match {
    let mut at = 0;
    for (n, symbol) in symbols.iter().enumerate() {
        if n > 0 {
            while bytes.get(at) == Some(&b'-') {
                at += 1;
            }
        }
        match bytes.get(at) {
            Some(b) if b.eq_ignore_ascii_case(symbol) => at += 1,
            Some(_) => return Match::None,
            None if n > 0 => return Match::Partial,
            None => return Match::None,
        }
    }
    Match::Whole(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `unlock_outcome` fuzz target: a NUL before the code's tail, escaped as
    /// `\0`, completed the code the redaction had removed (the code's first symbol is `0`).
    #[test]
    fn an_escape_never_completes_a_redacted_code() {
        let code = bypass_code::BypassCode::from_bytes([
            0, 0, 0, 0, 0, 7, 0, 0xff, 0x66, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let secret = code.to_string();
        assert!(secret.starts_with('0'), "{secret}");
        let mut body = vec![b'o', b'k', b' ', 0x80, 0x00];
        body.extend_from_slice(&secret.as_bytes()[1..]);
        let mut excerpt = BodyExcerpt::new(4096);
        assert!(excerpt.push(&body));
        excerpt.redact(secret.as_bytes());
        excerpt.redact_code(&code);
        let text = excerpt.to_text();
        assert!(!text.contains(&secret), "{text}");
        assert!(text.contains("\\u{0}"), "{text}");
        let mut tab = BodyExcerpt::new(16);
        assert!(tab.push(b"a\tb"));
        assert_eq!(tab.to_text(), "a\\u{9}b");
    }

    #[test]
    fn keeps_at_most_the_limit() {
        let mut excerpt = BodyExcerpt::new(5);
        assert!(excerpt.push(b"abc"));
        assert!(!excerpt.push(b"defgh"));
        assert_eq!(excerpt.as_bytes(), b"abcde");
        assert!(excerpt.is_truncated());
        assert_eq!(excerpt.to_text(), "abcde…");
        let mut exact = BodyExcerpt::new(3);
        assert!(exact.push(b"abc"));
        assert!(!exact.is_truncated());
        assert!(!exact.push(b"d"));
        assert!(exact.is_truncated());
    }

    #[test]
    fn redacts_whole_and_trailing_partial_secrets() {
        let mut excerpt = BodyExcerpt::new(64);
        excerpt.push(b"bad key SECRET-CODE for SECRET-CODE");
        excerpt.redact(b"SECRET-CODE");
        assert_eq!(excerpt.to_text(), "bad key [redacted] for [redacted]");

        let mut cut = BodyExcerpt::new(12);
        cut.push(b"echo: SECRET-CODE");
        cut.redact(b"SECRET-CODE");
        assert_eq!(cut.as_bytes(), b"echo: [redacted]");
    }

    #[test]
    fn codes_are_redacted_in_any_case_with_or_without_dashes() {
        let code: bypass_code::BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
        for echoed in [
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            "a8qk7-gfg21-6rht-v0u9-756p-l7e3",
            "A8QK7GFG216RHTV0U9756PL7E3",
            "a8qk7gfg216rhtv0u9756pl7e3",
            "A8qK7-gfg216RHT-v0u9756P-L7e3",
        ] {
            let mut excerpt = BodyExcerpt::new(256);
            excerpt.push(format!("{{\"key\":\"{echoed}\",\"again\":\"{echoed}\"}}").as_bytes());
            excerpt.redact_code(&code);
            assert_eq!(
                excerpt.to_text(),
                "{\"key\":\"[redacted]\",\"again\":\"[redacted]\"}",
                "{echoed}"
            );
        }
        // Cut in the middle of a lower-case copy: the partial copy goes too.
        let mut cut = BodyExcerpt::new(20);
        cut.push(b"escrowKey=a8qk7gfg216rhtv0u9756pl7e3");
        cut.redact_code(&code);
        assert_eq!(cut.as_bytes(), b"escrowKey=[redacted]");
        // Other text is untouched.
        let mut other = BodyExcerpt::new(64);
        other.push(b"A8QK7-GFG21-6RHT-V0U9-756P-L7E4 and a8qk");
        other.redact_code(&code);
        assert_eq!(
            other.as_bytes(),
            b"A8QK7-GFG21-6RHT-V0U9-756P-L7E4 and a8qk"
        );
    }

    #[test]
    fn text_escapes_control_characters() {
        let mut excerpt = BodyExcerpt::new(64);
        excerpt.push(b"a\x1b[31mb\n\xff");
        assert_eq!(excerpt.to_text(), "a\\u{1b}[31mb\\u{a}\u{fffd}");
        let mut c1 = BodyExcerpt::new(64);
        c1.push("x\u{9b}2J\u{202e}y".as_bytes());
        assert_eq!(c1.to_text(), "x\\u{9b}2J\\u{202e}y");
    }
}
