//! The store's untrusted inputs: a sealed value read back from a database row (any bytes), and
//! an `alb import` line (any text). Neither may panic; a value that opens must be one sealed
//! for that device and field, and an import line that parses must export back to itself.
#![no_main]

use code_store::{KeyRing, Protection, StoreKey, Udid, export::RecordJson};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let Ok(key) = StoreKey::new("fuzz", [7; 32]) else {
            return;
        };
        let protection = Protection::encrypted(KeyRing::new(key));
        let Ok(udid) = Udid::new("FUZZ-DEVICE") else {
            return;
        };
        if let Ok(plain) = protection.open(&udid, "device_code", rest) {
            // Only a cleartext value (tag 0) can open without the fuzzer forging a tag.
            assert_eq!(rest.first(), Some(&0));
            assert_eq!(&rest[1..], plain.as_slice());
        }
    } else if let Ok(line) = core::str::from_utf8(rest)
        && let Ok(json) = RecordJson::from_line(line)
        && let Ok(record) = json.into_record()
    {
        let again = RecordJson::from_record(&record, true).to_line();
        let back = RecordJson::from_line(&again)
            .and_then(RecordJson::into_record)
            .unwrap_or_else(|e| panic!("an exported record does not import: {e}"));
        assert_eq!(back, record);
    }
});
