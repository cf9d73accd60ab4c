//! Server token files into `dep-client`'s decryption: an error or a token, never a panic.
//!
//! Input layout: one mode byte (modulo 4), then the payload.
//! - `0`: the payload is a token file (S/MIME, PEM, base64 or BER/DER), decrypted with this
//!   process's token key pair (made at start-up; never a checked-in key).
//! - `1`: the payload is the token JSON (`ServerToken::from_json`); what parses round-trips.
//! - `2`: the payload is a private key file (PEM or DER), and is also tried as the
//!   certificate of a valid token file.
//! - `3`: the payload is the *decrypted content* (`ServerToken::from_message`).
//!
//! The whole pipeline on content sealed for the process key (one RSA private-key operation per
//! input, some 10 ms under the sanitizer) is left to the integration tests: it held this
//! target to ~100 executions a second.
#![no_main]

use std::{sync::OnceLock, time::Duration};

use dep_client::{
    ServerToken, TokenError, TokenKeyPair, TokenPrivateKey,
    testing::{TokenFileBuilder, random_token},
};
use libfuzzer_sys::fuzz_target;

fn pair() -> &'static TokenKeyPair {
    static PAIR: OnceLock<TokenKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        TokenKeyPair::generate("fuzz MDM", Duration::from_secs(86_400)).expect("key pair")
    })
}

/// A valid token file for the process key: mode 2 reaches the certificate with it.
fn sealed() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| TokenFileBuilder::new(&random_token(), pair().certificate_der()).build())
}

fn decrypt(file: &[u8]) -> Result<ServerToken, TokenError> {
    let pair = pair();
    ServerToken::decrypt(file, pair.certificate_der(), pair.private_key())
}

fn check_token(token: &ServerToken) {
    let json = token.to_json_secret();
    let back = ServerToken::from_json(&json).expect("what parses writes back");
    assert_eq!(&back, token);
    let debug = format!("{token:?}");
    if token.access_secret().len() > 8 {
        assert!(!debug.contains(token.access_secret().expose()));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(token) = decrypt(payload) {
                check_token(&token);
            }
        }
        1 => {
            if let Ok(token) = ServerToken::from_json(payload) {
                check_token(&token);
            }
        }
        2 => {
            let _ = TokenPrivateKey::from_pem_or_der(payload);
            let _ = ServerToken::decrypt(sealed(), payload, pair().private_key());
        }
        _ => {
            if let Ok(token) = ServerToken::from_message(payload) {
                check_token(&token);
            }
        }
    }
});
