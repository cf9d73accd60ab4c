//! What `alb unlock` prints: one line per attempt, each code's verdict and the overall
//! verdict, or one JSON object. Codes are named by where they came from, never printed.

use std::io::{self, Write};

use escrow_client::{AttemptResult, CodeSource, UnlockOutcome, Verdict};
use printable::Escaped;
use serde::Serialize;

use crate::write_json_line;

/// A short, stable name for a code's source in JSON: `device`, `server`, `supplied-N`.
#[must_use]
pub fn source_name(source: CodeSource) -> String {
    match source {
        CodeSource::Device => "device".to_owned(),
        CodeSource::Server => "server".to_owned(),
        CodeSource::Supplied(n) => format!("supplied-{n}"),
        other => other.to_string(),
    }
}

/// What `alb unlock` prints about an outcome: one line per attempt, each code's verdict and
/// the overall verdict, or one JSON object. Codes are named by source, never printed.
#[derive(Debug, Serialize)]
pub struct UnlockReport {
    unlocked: bool,
    /// The code that worked, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    verdict: String,
    /// Each code tried, in order, with its own verdict.
    codes: Vec<CodeLine>,
    attempts: Vec<AttemptLine>,
}

#[derive(Debug, Serialize)]
struct CodeLine {
    code: String,
    verdict: String,
}

#[derive(Debug, Serialize)]
struct AttemptLine {
    code: String,
    #[serde(rename = "try")]
    try_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    result: String,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    body_truncated: bool,
    #[serde(skip)]
    label: String,
}

impl UnlockReport {
    /// The report of an outcome.
    #[must_use]
    pub fn new(outcome: &UnlockOutcome) -> Self {
        let code = match outcome.verdict {
            Verdict::Unlocked { code } => Some(source_name(code)),
            _ => None,
        };
        let attempts = outcome
            .attempts
            .iter()
            .map(|attempt| {
                let (body, body_truncated) = match &attempt.result {
                    AttemptResult::Response { body, .. } if !body.is_empty() => {
                        (Some(body.to_text()), body.is_truncated())
                    }
                    _ => (None, false),
                };
                AttemptLine {
                    code: source_name(attempt.code),
                    try_number: attempt.try_number,
                    status: attempt.result.status(),
                    result: attempt.result.to_string(),
                    duration_ms: u64::try_from(attempt.duration.as_millis()).unwrap_or(u64::MAX),
                    body,
                    body_truncated,
                    label: attempt.code.to_string(),
                }
            })
            .collect();
        let codes = outcome
            .codes
            .iter()
            .map(|c| CodeLine {
                code: source_name(c.code),
                verdict: c.verdict.to_string(),
            })
            .collect();
        Self {
            unlocked: outcome.is_unlocked(),
            code,
            verdict: outcome.verdict.to_string(),
            codes,
            attempts,
        }
    }

    /// Whether Activation Lock was removed.
    #[must_use]
    pub const fn unlocked(&self) -> bool {
        self.unlocked
    }

    /// The verdict, as one line of text.
    #[must_use]
    pub fn verdict(&self) -> &str {
        &self.verdict
    }

    /// Writes the report: one JSON object on one line, or one line per attempt and the verdict.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&self, out: &mut impl Write, json: bool) -> io::Result<()> {
        if json {
            return write_json_line(out, self);
        }
        // Results and bodies quote the server: escaped for the terminal.
        for attempt in &self.attempts {
            write!(
                out,
                "{} (try {}): {} in {} ms",
                attempt.label,
                attempt.try_number,
                Escaped(&attempt.result),
                attempt.duration_ms
            )?;
            match &attempt.body {
                Some(body) => writeln!(out, ": {}", Escaped(body))?,
                None => writeln!(out)?,
            }
        }
        if self.codes.len() > 1 {
            for code in &self.codes {
                writeln!(out, "{}: {}", code.code, Escaped(&code.verdict))?;
            }
        }
        writeln!(out, "{}", Escaped(&self.verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_are_stable() {
        assert_eq!(source_name(CodeSource::Device), "device");
        assert_eq!(source_name(CodeSource::Server), "server");
        assert_eq!(source_name(CodeSource::Supplied(3)), "supplied-3");
    }
}
