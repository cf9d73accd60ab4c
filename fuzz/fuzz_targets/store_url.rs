//! Store URLs (any text) into `code-store`'s parser and password redaction. Neither may panic;
//! redacting is idempotent (a redacted URL shows nothing more when redacted again), and a
//! `Debug` of a parsed location shows the URL only redacted.
#![no_main]

use code_store::{StoreLocation, redact_url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|url: &str| {
    let redacted = redact_url(url);
    assert_eq!(redact_url(&redacted), redacted, "{url:?}");
    match StoreLocation::parse(url) {
        Ok(location) => drop(format!("{location:?}")),
        Err(e) => drop(e.to_string()),
    }
});
