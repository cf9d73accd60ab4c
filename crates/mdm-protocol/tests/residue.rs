//! Secrets read from a message never go back to the allocator unscrubbed, on a parse error
//! either: every heap block freed while parsing is checked for the secret's bytes.
//!
//! The watch sees every thread: each test watches its own secret, so what another test frees
//! while building its input is never counted here.

use heap_residue::watch;
use mdm_protocol::{
    CheckinMessage, CommandResponse, Limits, MdmMessage,
    plist::{Dictionary, Value},
};
use zeroize::Zeroizing;

/// A secret for one test only (48 bytes).
fn token(test: &str) -> Vec<u8> {
    format!("unlock-token-residue-{test:<27}").into_bytes()
}

/// A `TokenUpdate` with the unlock token and the given `Topic` (none when `None`), as binary
/// and as XML.
fn token_update(token: &[u8], topic: Option<Value>) -> [Zeroizing<Vec<u8>>; 2] {
    let mut dict = Dictionary::new();
    dict.insert("MessageType".into(), Value::String("TokenUpdate".into()));
    dict.insert(
        "UDID".into(),
        Value::String("00008101-001A2B3C4D5E6F70".into()),
    );
    dict.insert("PushMagic".into(), Value::String("magic".into()));
    dict.insert("Token".into(), Value::Data(vec![1, 2, 3]));
    if let Some(topic) = topic {
        dict.insert("Topic".into(), topic);
    }
    dict.insert("UnlockToken".into(), Value::Data(token.to_vec()));
    let value = Value::Dictionary(dict);
    let mut binary = Zeroizing::new(Vec::new());
    value.to_writer_binary(&mut *binary).unwrap();
    let mut xml = Zeroizing::new(Vec::new());
    value.to_writer_xml(&mut *xml).unwrap();
    mdm_protocol::scrub(value);
    [binary, xml]
}

#[test]
fn a_token_update_that_fails_before_its_token_leaves_no_copy() {
    // `Topic` is read first: the unlock token is still in the dictionary when parsing fails.
    let token = token("fails-before-token");
    for topic in [None, Some(Value::Integer(7.into()))] {
        for bytes in token_update(&token, topic.clone()) {
            let watch = watch(&token);
            let error = CheckinMessage::parse(&bytes, &Limits::DEFAULT).unwrap_err();
            assert_eq!(error.path(), Some("Topic"));
            drop(error);
            assert_eq!(watch.residues(), 0, "topic {topic:?}");
        }
    }
}

#[test]
fn no_mdm_message_and_bad_responses_leave_no_copy() {
    let token = token("no-mdm-message");
    let mut dict = Dictionary::new();
    dict.insert("Hello".into(), Value::String("world".into()));
    dict.insert("Secret".into(), Value::Data(token.clone()));
    let mut bytes = Zeroizing::new(Vec::new());
    Value::Dictionary(dict.clone())
        .to_writer_binary(&mut *bytes)
        .unwrap();
    dict.insert("Status".into(), Value::String("Unknown".into()));
    let mut response = Zeroizing::new(Vec::new());
    Value::Dictionary(dict.clone())
        .to_writer_binary(&mut *response)
        .unwrap();
    mdm_protocol::scrub(Value::Dictionary(dict));

    let watch = watch(&token);
    assert!(MdmMessage::parse(&bytes, &Limits::DEFAULT).is_err());
    assert!(CommandResponse::parse(&response, &Limits::DEFAULT).is_err());
    assert_eq!(watch.residues(), 0);
}

#[test]
fn a_parsed_unlock_token_is_zeroized_when_the_message_drops() {
    let token = token("parsed-then-dropped");
    for bytes in token_update(&token, Some(Value::String("com.apple.mgmt.test".into()))) {
        let watch = watch(&token);
        let message = CheckinMessage::parse(&bytes, &Limits::DEFAULT).unwrap();
        let CheckinMessage::TokenUpdate(update) = &message else {
            panic!("a TokenUpdate");
        };
        assert_eq!(update.unlock_token.as_ref().unwrap().as_bytes(), &token[..]);
        drop(message);
        assert_eq!(watch.residues(), 0);
    }
}

#[test]
fn the_watch_sees_an_unscrubbed_tree() {
    // The check can fail: a tree dropped as it is leaves the token behind.
    let token = token("unscrubbed-tree");
    let [bytes, _] = token_update(&token, None);
    let watch = watch(&token);
    let value = Value::from_reader(std::io::Cursor::new(&bytes[..])).unwrap();
    drop(value);
    assert!(watch.residues() >= 1);
}
