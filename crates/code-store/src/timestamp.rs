//! [`Timestamp`]: a UTC instant with one-second resolution.

use core::fmt;

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::StoreError;

/// A UTC instant, stored as whole seconds since the Unix epoch, shown in RFC 3339.
/// Serialized as its seconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    #[must_use]
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    /// The instant `seconds` after the Unix epoch.
    #[must_use]
    pub const fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This instant plus `days` days (saturating).
    #[must_use]
    pub const fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(86_400)))
    }

    /// Parses RFC 3339 (`2026-11-23T11:00:00Z`).
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] when `text` is not RFC 3339.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, StoreError> {
        let parsed =
            OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::InvalidField {
                field,
                reason: format!("not an RFC 3339 time: {e}"),
            })?;
        // In UTC the year must stay within RFC 3339's four digits, or it could not be written
        // back (e.g. 9999-12-31T23:59:59-23:00).
        let year = parsed
            .checked_to_offset(time::UtcOffset::UTC)
            .map(OffsetDateTime::year);
        if !year.is_some_and(|y| (0..=9999).contains(&y)) {
            return Err(StoreError::InvalidField {
                field,
                reason: "the time is outside years 0000 to 9999 in UTC".to_owned(),
            });
        }
        Ok(Self(parsed.unix_timestamp()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "@{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Timestamp::from_unix(1_795_000_000);
        let text = t.to_string();
        assert_eq!(Timestamp::parse("t", &text).unwrap(), t);
        assert!(Timestamp::parse("t", "yesterday").is_err());
        assert!(Timestamp::parse("t", "9999-12-31T23:59:59-23:00").is_err());
        assert_eq!(t.plus_days(15).unix() - t.unix(), 15 * 86_400);
    }
}
