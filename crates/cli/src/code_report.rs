//! [`CodeReport`]: what `alb` prints about a code (text or one JSON object per line).

use std::io::Write;

use bypass_code::{BypassCode, EscrowKey};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::{Error, write_json_line};

/// A code with its escrow key and, optionally, its raw bytes, as printed by `alb`.
///
/// The report holds the secret in text form; its strings are zeroized on drop.
#[derive(Serialize)]
pub struct CodeReport {
    code: Zeroizing<String>,
    escrow_key: Zeroizing<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for CodeReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CodeReport").finish_non_exhaustive()
    }
}

impl CodeReport {
    /// The report of `code`, computing its escrow key; `with_raw` adds the raw bytes (lower hex).
    #[must_use]
    pub fn new(code: &BypassCode, with_raw: bool) -> Self {
        Self::with_key(code, &code.escrow_key(), with_raw)
    }

    /// The report of `code` with an escrow key already computed.
    #[must_use]
    pub fn with_key(code: &BypassCode, escrow_key: &EscrowKey, with_raw: bool) -> Self {
        Self {
            code: Zeroizing::new(code.to_string()),
            escrow_key: Zeroizing::new(escrow_key.to_string()),
            raw: with_raw.then(|| Zeroizing::new(hex::encode(code.as_bytes()))),
        }
    }

    /// Writes the report: one JSON object on one line, or aligned text.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&self, out: &mut impl Write, json: bool) -> Result<(), Error> {
        if json {
            write_json_line(out, self)?;
        } else if let Some(raw) = &self.raw {
            writeln!(out, "code:       {}", self.code.as_str())?;
            writeln!(out, "raw:        {}", raw.as_str())?;
            writeln!(out, "escrow_key: {}", self.escrow_key.as_str())?;
        } else {
            writeln!(out, "{}  {}", self.code.as_str(), self.escrow_key.as_str())?;
        }
        Ok(())
    }
}

/// Reads 16 raw bytes given as exactly 32 hexadecimal digits (either case).
///
/// # Errors
/// [`Error::RawHex`] naming the length or the first bad digit and its 1-based position.
pub fn parse_raw_hex(input: &str) -> Result<BypassCode, Error> {
    let found = input.chars().count();
    if found != 32 {
        return Err(Error::RawHex {
            reason: format!("expected 32 hexadecimal digits, found {found} characters"),
        });
    }
    if let Some((index, c)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(Error::RawHex {
            reason: format!("invalid hexadecimal digit {c:?} at position {}", index + 1),
        });
    }
    let mut bytes = Zeroizing::new([0u8; 16]);
    hex::decode_to_slice(input, bytes.as_mut_slice()).map_err(|e| Error::RawHex {
        reason: e.to_string(),
    })?;
    Ok(BypassCode::from_bytes(*bytes))
}
