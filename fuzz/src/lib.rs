//! What the MDM fuzz targets share: the round-trip check every parsed message must pass.
#![forbid(unsafe_code)]

use std::time::SystemTime;

use mdm_protocol::{ParseError, plist::Value};

/// Whether XML can carry `value` exactly: no characters XML 1.0 forbids or normalises (`\r`),
/// dates in whole seconds, finite reals. Binary property lists carry everything.
pub fn xml_representable(value: &Value) -> bool {
    let text = |s: &str| {
        s.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
    };
    match value {
        Value::String(s) => text(s),
        Value::Real(r) => r.is_finite(),
        Value::Date(d) => SystemTime::from(*d)
            .duration_since(SystemTime::UNIX_EPOCH)
            .is_ok_and(|d| d.subsec_nanos() == 0),
        Value::Array(items) => items.iter().all(xml_representable),
        Value::Dictionary(dict) => dict
            .iter()
            .all(|(k, v)| text(k) && xml_representable(v)),
        _ => true,
    }
}

/// Only the limits may refuse what we wrote (a binary input sharing one object many times
/// writes back larger).
pub fn limit_error(error: &ParseError) -> bool {
    matches!(
        error,
        ParseError::TooLarge { .. }
            | ParseError::TooManyValues { .. }
            | ParseError::TooManyDecodedBytes { .. }
            | ParseError::TooDeep { .. }
    )
}

/// A parsed message, as the checks need it.
pub trait Message: Sized {
    fn value(&self) -> Value;
    fn xml(&self) -> Vec<u8>;
    fn binary(&self) -> Vec<u8>;
}

macro_rules! message {
    ($($ty:ty),*) => {$(
        impl Message for $ty {
            fn value(&self) -> Value {
                self.to_value()
            }
            fn xml(&self) -> Vec<u8> {
                self.to_xml().expect("a parsed message writes as XML")
            }
            fn binary(&self) -> Vec<u8> {
                self.to_binary().expect("a parsed message writes as binary")
            }
        }
    )*};
}

message!(
    mdm_protocol::Command,
    mdm_protocol::CommandResponse,
    mdm_protocol::CheckinMessage,
    mdm_protocol::SchemaCheckin
);

/// `first` (parsed from untrusted bytes) written as binary parses back (with `parse`) to a
/// message that writes the same bytes; written as XML (when XML can carry it) it parses back to
/// the same too.
pub fn round_trip<M: Message>(first: &M, parse: impl Fn(&[u8]) -> Result<M, ParseError>) {
    let binary = first.binary();
    match parse(&binary) {
        Ok(second) => assert!(second.binary() == binary, "binary round trip changed the message"),
        Err(error) => assert!(limit_error(&error), "our binary does not parse: {error}"),
    }
    if xml_representable(&first.value()) {
        match parse(&first.xml()) {
            Ok(third) => assert!(third.binary() == binary, "XML round trip changed the message"),
            Err(error) => assert!(limit_error(&error), "our XML does not parse: {error}"),
        }
    }
}
