//! Writing property lists; the intermediate tree is scrubbed because it may hold secrets.

use plist::{Dictionary, Value};

use crate::{EncodeError, PlistFormat, secret::scrub};

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
