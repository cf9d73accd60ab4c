//! API keys: who may call the service, and what each key allows.
//!
//! A key file holds one key per line, optionally followed by what it allows: `read-only` (reads
//! only), `reveal` (everything, and secrets in answers); a key alone may read and change but never
//! sees a secret. Blank lines and lines starting with `#` are ignored. Callers send
//! `Authorization: Bearer KEY`; `/webhook` also takes HTTP Basic with the key as the password
//! (NanoMDM puts credentials in its webhook URL). Keys are compared in constant time, against
//! every key of the file.

use std::path::Path;

use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What a key allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Reads, without secrets.
    ReadOnly,
    /// Reads and changes, without secrets.
    ReadWrite,
    /// Everything, secrets in answers included.
    Reveal,
}

impl Access {
    /// Whether this key may change things (`POST`, webhooks).
    #[must_use]
    pub const fn may_write(self) -> bool {
        !matches!(self, Self::ReadOnly)
    }

    /// Whether answers may carry secrets.
    #[must_use]
    pub const fn may_reveal(self) -> bool {
        matches!(self, Self::Reveal)
    }
}

/// Why a key file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A line is not `KEY [read-only|reveal]`.
    #[error("{path}, line {line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong (never the key).
        reason: String,
    },
    /// The file holds no key.
    #[error("{path}: no API key in the file")]
    Empty {
        /// The file.
        path: String,
    },
}

/// The shortest key accepted: 16 characters (a guessable key is no key).
pub const MIN_KEY_LEN: usize = 16;
/// The longest key file read.
const MAX_FILE: u64 = 64 * 1024;

/// The keys that may call the service.
pub struct ApiKeys {
    keys: Vec<(Zeroizing<Vec<u8>>, Access)>,
}

impl core::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ApiKeys({} keys, redacted)", self.keys.len())
    }
}

impl ApiKeys {
    /// Keys given directly (tests, embedding).
    #[must_use]
    pub fn new(keys: impl IntoIterator<Item = (String, Access)>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|(k, a)| (Zeroizing::new(k.into_bytes()), a))
                .collect(),
        }
    }

    /// Reads a key file.
    ///
    /// # Errors
    /// [`KeyFileError`]: unreadable, over 64 KiB, a malformed line, no key.
    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let name = printable::Escaped(&path.display().to_string()).to_string();
        let io = |source| KeyFileError::Io {
            path: name.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE {
            return Err(KeyFileError::Line {
                path: name,
                line: 0,
                reason: format!("the file is {len} bytes; at most {MAX_FILE} are read"),
            });
        }
        let text = Zeroizing::new(std::fs::read(path).map_err(io)?);
        Self::parse(&text, &name)
    }

    /// Reads the text of a key file named `name` (for messages).
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file).
    pub fn parse(text: &[u8], name: &str) -> Result<Self, KeyFileError> {
        let line_error = |line, reason: &str| KeyFileError::Line {
            path: name.to_owned(),
            line,
            reason: reason.to_owned(),
        };
        let text = core::str::from_utf8(text).map_err(|_| line_error(0, "not UTF-8 text"))?;
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or_default();
            let access = match words.next() {
                None => Access::ReadWrite,
                Some("read-only") => Access::ReadOnly,
                Some("reveal") => Access::Reveal,
                Some(_) => {
                    return Err(line_error(
                        i + 1,
                        "after the key, only `read-only` or `reveal` may follow",
                    ));
                }
            };
            if words.next().is_some() {
                return Err(line_error(i + 1, "more than a key and what it allows"));
            }
            if key.len() < MIN_KEY_LEN {
                return Err(line_error(i + 1, "a key has at least 16 characters"));
            }
            if key.bytes().any(|b| !b.is_ascii_graphic() || b == b':') {
                return Err(line_error(
                    i + 1,
                    "a key is printable ASCII without `:` (it may travel as an HTTP Basic password)",
                ));
            }
            keys.push((Zeroizing::new(key.as_bytes().to_vec()), access));
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty {
                path: name.to_owned(),
            });
        }
        Ok(Self { keys })
    }

    /// The access of `presented`, comparing it with every key in constant time.
    #[must_use]
    pub fn check(&self, presented: &[u8]) -> Option<Access> {
        let mut found = None;
        for (key, access) in &self.keys {
            // Every key is compared, whatever matched before: the time does not say which.
            if bool::from(key.as_slice().ct_eq(presented)) {
                found = found.max(Some(*access));
            }
        }
        found
    }

    /// The access an `Authorization` header grants: `Bearer KEY`, or (when `basic` is allowed)
    /// `Basic base64(user:KEY)` with any user name.
    #[must_use]
    pub fn authorize(&self, header: Option<&[u8]>, basic: bool) -> Option<Access> {
        let header = header?;
        if let Some(key) = strip_scheme(header, b"bearer ") {
            return self.check(trim(key));
        }
        if basic && let Some(encoded) = strip_scheme(header, b"basic ") {
            let decoded = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(trim(encoded))
                    .ok()?,
            );
            let colon = decoded.iter().position(|&b| b == b':')?;
            return self.check(&decoded[colon + 1..]);
        }
        None
    }
}

fn strip_scheme<'a>(header: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    (header.len() >= scheme.len() && header[..scheme.len()].eq_ignore_ascii_case(scheme))
        .then(|| &header[scheme.len()..])
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"# keys\nreader-key-0123456789 read-only\n\nwriter-key-0123456789\nreveal-key-0123456789 reveal\n";

    #[test]
    fn keys_and_what_they_allow() {
        let keys = ApiKeys::parse(FILE, "keys").unwrap();
        assert_eq!(
            keys.authorize(Some(b"Bearer reader-key-0123456789"), false),
            Some(Access::ReadOnly)
        );
        assert_eq!(
            keys.authorize(Some(b"bearer writer-key-0123456789"), false),
            Some(Access::ReadWrite)
        );
        assert_eq!(keys.check(b"reveal-key-0123456789"), Some(Access::Reveal));
        assert_eq!(keys.check(b"reveal-key-012345678"), None);
        assert_eq!(keys.authorize(None, true), None);
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("nanomdm:writer-key-0123456789")
        );
        assert_eq!(
            keys.authorize(Some(basic.as_bytes()), true),
            Some(Access::ReadWrite)
        );
        assert_eq!(keys.authorize(Some(basic.as_bytes()), false), None);
        assert_eq!(keys.authorize(Some(b"Basic !!!"), true), None);
        assert!(!format!("{keys:?}").contains("key-0123"));
    }

    #[test]
    fn bad_key_files_name_the_line_never_the_key() {
        let short = ApiKeys::parse(b"short\n", "f").unwrap_err().to_string();
        assert!(
            short.contains("line 1") && !short.contains("short\n"),
            "{short}"
        );
        let marker = ApiKeys::parse(b"a-long-enough-key-123 admin\n", "f").unwrap_err();
        assert!(marker.to_string().contains("read-only"), "{marker}");
        assert!(matches!(
            ApiKeys::parse(b"# nothing\n", "f"),
            Err(KeyFileError::Empty { .. })
        ));
    }
}
