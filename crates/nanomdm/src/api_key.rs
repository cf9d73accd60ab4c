//! The key of NanoMDM's API (`-api`), the password of its HTTP Basic authentication.

use core::fmt;
use std::{io::Read as _, path::Path};

use zeroize::Zeroizing;

use crate::config::NanoMdmConfigError;

/// The largest key file [`ApiKey::from_file`] reads.
pub const MAX_KEY_FILE_BYTES: usize = 4096;

/// NanoMDM's API key: wiped when dropped, never printed (`Debug` shows `ApiKey(<redacted>)`).
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key; it is wiped when the value is dropped.
    #[must_use]
    pub fn new(key: String) -> Self {
        Self(Zeroizing::new(key))
    }

    /// Reads a key file: its first non-empty line, trimmed.
    ///
    /// # Errors
    /// The file cannot be read, is over [`MAX_KEY_FILE_BYTES`], is not UTF-8, or holds no key.
    pub fn from_file(path: &Path) -> Result<Self, NanoMdmConfigError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| NanoMdmConfigError::KeyFile {
            path: shown.clone(),
            source,
        })?;
        let mut bytes = Zeroizing::new(Vec::new());
        let limit = u64::try_from(MAX_KEY_FILE_BYTES).unwrap_or(u64::MAX);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| NanoMdmConfigError::KeyFile {
                path: shown.clone(),
                source,
            })?;
        if bytes.len() > MAX_KEY_FILE_BYTES {
            return Err(NanoMdmConfigError::KeyFileTooLarge { path: shown });
        }
        let text =
            core::str::from_utf8(&bytes).map_err(|_| NanoMdmConfigError::KeyFileNotText {
                path: shown.clone(),
            })?;
        let key = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .ok_or(NanoMdmConfigError::EmptyKeyFile { path: shown })?;
        Ok(Self::new(key.to_owned()))
    }

    /// The key. Keep the borrow short and never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}
