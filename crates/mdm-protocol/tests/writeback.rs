//! Whatever parses writes back: values a property list can hold but an MDM message cannot (a
//! UID, a date XML cannot write) are refused at input, naming their key path; everything else
//! writes as XML and binary and reads back the same.

use std::time::{Duration, UNIX_EPOCH};

use mdm_protocol::{
    CommandResponse, Limits, MdmMessage, ParseError,
    plist::{Date, Dictionary, Integer, Uid, Value},
};

/// An input a fuzz target found (`tests/findings/`, also in the target's seed corpus).
fn finding(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/findings")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A binary response `{Status: Acknowledged, UDID: U, X: value}`.
fn response_with(value: Value) -> Vec<u8> {
    let mut dict = Dictionary::new();
    dict.insert("Status".into(), Value::String("Acknowledged".into()));
    dict.insert("UDID".into(), Value::String("U".into()));
    dict.insert("X".into(), value);
    let mut out = Vec::new();
    Value::Dictionary(dict).to_writer_binary(&mut out).unwrap();
    out
}

fn unsupported(bytes: &[u8]) -> (String, &'static str) {
    match CommandResponse::parse(bytes, &Limits::DEFAULT) {
        Err(ParseError::Unsupported { path, what }) => (path, what),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

/// Parses, writes as XML and binary, parses both again: the same kept value comes back.
fn writes_back(bytes: &[u8]) -> Value {
    let response = CommandResponse::parse(bytes, &Limits::DEFAULT).unwrap();
    let kept = response.extra.get("X").cloned().unwrap();
    for written in [response.to_xml().unwrap(), response.to_binary().unwrap()] {
        let again = CommandResponse::parse(&written, &Limits::DEFAULT).unwrap();
        let back = again.extra.get("X").cloned().unwrap();
        match (&kept, &back) {
            (Value::Real(a), Value::Real(b)) if a.is_nan() => assert!(b.is_nan()),
            _ => assert_eq!(back, kept),
        }
    }
    kept
}

#[test]
fn the_fuzzer_s_uid_response_is_refused_with_its_key_path() {
    // `response_parse` found it after ~500,000 executions: it parsed, then could not be
    // written as XML (`UidNotSupportedInXmlPlist`).
    let bytes = finding("response_parse_uid.bplist");
    assert_eq!(bytes.len(), 675);
    let (path, what) = unsupported(&bytes);
    assert_eq!(
        (path.as_str(), what),
        ("QrRusyeeponses.ServiceSubscriptison", "a UID")
    );
    let error = MdmMessage::parse(&bytes, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        error.to_string(),
        "QrRusyeeponses.ServiceSubscriptison: a UID is not an MDM value (it cannot be written as XML)"
    );
}

#[test]
fn uids_are_refused_wherever_they_are() {
    let uid = || Value::Uid(Uid::new(7));
    assert_eq!(
        unsupported(&response_with(uid())),
        ("X".to_owned(), "a UID")
    );
    let in_array = Value::Array(vec![Value::Boolean(true), uid()]);
    assert_eq!(unsupported(&response_with(in_array)).0, "X[1]");
    let nested: Dictionary = [("Y".to_owned(), Value::Array(vec![uid()]))]
        .into_iter()
        .collect();
    assert_eq!(
        unsupported(&response_with(Value::Dictionary(nested))).0,
        "X.Y[0]"
    );
    let mut root = Vec::new();
    uid().to_writer_binary(&mut root).unwrap();
    assert_eq!(unsupported(&root), ("(root)".to_owned(), "a UID"));
}

fn date(unix_seconds: i64, nanos: u32) -> Date {
    let magnitude = Duration::new(unix_seconds.unsigned_abs(), 0);
    let at = if unix_seconds >= 0 {
        UNIX_EPOCH + magnitude + Duration::from_nanos(u64::from(nanos))
    } else {
        UNIX_EPOCH - magnitude + Duration::from_nanos(u64::from(nanos))
    };
    Date::from(at)
}

#[test]
fn dates_before_the_year_0000_are_refused_and_the_xml_range_writes_back() {
    // A binary date holds any f64 seconds; the year -1 parsed, then `to_xml` panicked in
    // `plist` (RFC 3339 has four-digit years only).
    let year_minus_one = date(-62_167_219_200 - 86_400 * 366, 0);
    assert_eq!(
        unsupported(&response_with(Value::Date(year_minus_one))),
        ("X".to_owned(), "a date outside the years 0000-9999")
    );
    let just_before = date(-62_167_219_201, 0);
    assert_eq!(unsupported(&response_with(Value::Date(just_before))).0, "X");
    for (seconds, nanos, xml) in [
        (-62_167_219_200, 0, "0000-01-01T00:00:00Z"),
        (0, 0, "1970-01-01T00:00:00Z"),
        (1_714_564_800, 0, "2024-05-01T12:00:00Z"),
        (253_402_300_799, 0, "9999-12-31T23:59:59Z"),
    ] {
        let kept = writes_back(&response_with(Value::Date(date(seconds, nanos))));
        let Value::Date(kept) = kept else {
            panic!("not a date");
        };
        assert_eq!(mdm_protocol::xml_date(kept).as_deref(), Some(xml));
    }
}

#[test]
fn reals_integers_and_strings_of_every_kind_write_back() {
    for real in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        5e-324,
        f64::MAX,
    ] {
        writes_back(&response_with(Value::Real(real)));
    }
    for integer in [
        Integer::from(u64::MAX),
        Integer::from(i64::MIN),
        Integer::from(i64::MAX),
        Integer::from(0),
    ] {
        writes_back(&response_with(Value::Integer(integer)));
    }
    for text in [
        "",
        "  spaces  ",
        "a\r\nb\rc",
        "\t\u{1}\u{1b}[2J\u{7f}\u{9b}",
        "]]> & < > \" '",
        "\u{fffe}\u{ffff}\u{10ffff}",
    ] {
        writes_back(&response_with(Value::String(text.to_owned())));
    }
    writes_back(&response_with(Value::Data(vec![0, 255, 10, 13])));
}
