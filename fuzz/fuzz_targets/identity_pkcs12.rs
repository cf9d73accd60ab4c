//! PKCS#12 identities (`alb unlock --identity FILE.p12` with its password) from arbitrary
//! bytes never panic; what loads has a certificate, and loads again the same.
//!
//! Input layout: password length (1 byte), the password (lossy UTF-8), then the PKCS#12 DER.
#![no_main]

use escrow_client::Identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (password, der) = rest.split_at(usize::from(len).min(rest.len()));
    let password = String::from_utf8_lossy(password);
    if let Ok(identity) = Identity::from_pkcs12(der, &password) {
        assert!(!identity.certificates().is_empty());
        let again = Identity::from_pkcs12(der, &password).expect("the same PKCS#12 loads again");
        assert_eq!(again.certificates(), identity.certificates());
    }
});
