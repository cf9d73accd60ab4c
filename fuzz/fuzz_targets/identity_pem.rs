//! PEM identities (`alb unlock --identity`: the APNs certificate chain and its private key)
//! from arbitrary bytes never panic; what loads has a certificate, and loads the same when the
//! same text is given as separate certificate and key PEM.
#![no_main]

use escrow_client::Identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(identity) = Identity::from_pem(bytes) {
        assert!(!identity.certificates().is_empty());
        let parts = Identity::from_pem_parts(bytes, bytes).expect("the same PEM loads as parts");
        assert_eq!(parts.certificates(), identity.certificates());
    }
});
