//! Store key files (`--key-file`) from arbitrary bytes, through `alb`'s reader and
//! `code-store`'s key-ring parser: never a panic, the two agree, a key's text parses back to
//! itself, and a ring that parses seals a value and opens it again.
#![no_main]

use code_store::{KeyRing, Protection, StoreKey, Udid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let read = alb_workflow::store_setup::key_ring("key file fuzz", bytes);
    let direct = core::str::from_utf8(bytes).ok().map(KeyRing::parse);
    assert_eq!(
        read.is_ok(),
        matches!(direct, Some(Ok(_))),
        "alb's reader and KeyRing::parse disagree"
    );
    if let Ok(ring) = read {
        let current = ring.current();
        let text = current.to_text();
        let again: StoreKey = text.parse().expect("a key's text parses");
        assert_eq!(again.id(), current.id());
        assert_eq!(again.to_text(), text);
        let protection = Protection::encrypted(ring);
        let udid = Udid::new("FUZZ-DEVICE").expect("a valid UDID");
        let sealed = protection
            .seal(&udid, "device_code", b"probe")
            .expect("a parsed ring seals");
        let opened = protection
            .open(&udid, "device_code", &sealed)
            .expect("and opens what it sealed");
        assert_eq!(opened.as_slice(), b"probe");
    }
});
