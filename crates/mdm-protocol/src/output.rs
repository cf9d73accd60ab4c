//! Writing property lists; the intermediate tree is scrubbed because it may hold secrets.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use plist::{Date, Dictionary, Value};

use crate::{EncodeError, PlistFormat, secret::scrub};

/// 0000-01-01T00:00:00Z, seconds before the Unix epoch: the earliest date XML can write.
const FIRST_XML_DATE: Duration = Duration::from_secs(62_167_219_200);
/// 10000-01-01T00:00:00Z, seconds after the Unix epoch: the first date XML cannot write.
const END_OF_XML_DATES: Duration = Duration::from_secs(253_402_300_800);

/// The XML property-list form of `date` (RFC 3339, `2024-05-01T12:00:00Z`), or `None` when its
/// year is outside 0000–9999: XML cannot write it (a binary plist can hold such a date, and the
/// `plist` crate panics formatting it).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use mdm_protocol::{plist::Date, xml_date};
///
/// let date = Date::from(UNIX_EPOCH + Duration::from_secs(1_714_564_800));
/// assert_eq!(xml_date(date).as_deref(), Some("2024-05-01T12:00:00Z"));
/// assert_eq!(xml_date(Date::from(UNIX_EPOCH - Duration::from_secs(62_167_219_201))), None);
/// ```
#[must_use]
pub fn xml_date(date: Date) -> Option<String> {
    let fits = match SystemTime::from(date).duration_since(UNIX_EPOCH) {
        Ok(after) => after < END_OF_XML_DATES,
        Err(before) => before.duration() <= FIRST_XML_DATE,
    };
    fits.then(|| date.to_xml_format())
}

/// Writes `dict` as a property list in `format`, then scrubs the tree.
pub(crate) fn encode(dict: Dictionary, format: PlistFormat) -> Result<Vec<u8>, EncodeError> {
    let value = Value::Dictionary(dict);
    let mut out = Vec::new();
    let written = match format {
        PlistFormat::Xml => value.to_writer_xml(&mut out),
        PlistFormat::Binary => value.to_writer_binary(&mut out),
    };
    scrub(value);
    written?;
    Ok(out)
}

/// The `to_value` / `to_xml` / `to_binary` family for a type with a `write(&self, redact)` (or
/// the named method) giving its dictionary.
macro_rules! plist_output {
    ($ty:ty) => {
        $crate::output::plist_output!($ty, write);
    };
    ($ty:ty, $write:ident) => {
        impl $ty {
            /// The message as a property-list tree (secrets included).
            #[must_use]
            pub fn to_value(&self) -> plist::Value {
                plist::Value::Dictionary(self.$write(false))
            }

            /// The message as a property-list tree with every secret replaced by
            /// `"<redacted>"` (typed secrets, and untyped values under secret-named keys):
            /// safe to log or print.
            #[must_use]
            pub fn to_redacted_value(&self) -> plist::Value {
                plist::Value::Dictionary(self.$write(true))
            }

            /// The message as a tree: secrets redacted unless `reveal`.
            #[must_use]
            pub fn render(&self, reveal: bool) -> plist::Value {
                plist::Value::Dictionary(self.$write(!reveal))
            }

            /// The message as an XML property list (what a server sends).
            ///
            /// # Errors
            /// [`EncodeError`](crate::EncodeError) if the property-list writer fails.
            pub fn to_xml(&self) -> Result<Vec<u8>, crate::EncodeError> {
                $crate::output::encode(self.$write(false), $crate::PlistFormat::Xml)
            }

            /// The message as a binary property list (`bplist00`).
            ///
            /// # Errors
            /// [`EncodeError`](crate::EncodeError) if the property-list writer fails.
            pub fn to_binary(&self) -> Result<Vec<u8>, crate::EncodeError> {
                $crate::output::encode(self.$write(false), $crate::PlistFormat::Binary)
            }
        }
    };
}

pub(crate) use plist_output;
