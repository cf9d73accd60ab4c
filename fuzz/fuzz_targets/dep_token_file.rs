//! Server token files into `dep-client`'s decryption: an error or a token, never a panic.
//!
//! Input layout: one mode byte, then the payload (mode 255 is the sealed round trip, the
//! others modulo 4).
//! - `0`: the payload is a token file (S/MIME, PEM, base64 or BER/DER), decrypted with this
//!   process's token key pair (made at start-up; never a checked-in key).
//! - `1`: the payload is the token JSON (`ServerToken::from_json`); what parses round-trips.
//! - `2`: the payload is a private key file (PEM or DER), and is also tried as the certificate.
//! - `3`: the payload is the *decrypted content* (`ServerToken::from_message`).
//! - `255`: the payload is the decrypted content, sealed into a BER S/MIME token file for the
//!   process key and decrypted (one RSA private-key operation: slow): it must come back as
//!   `from_message` reads it, as a token or a "not a token" error.
#![no_main]

use std::{sync::OnceLock, time::Duration};

use dep_client::{
    ServerToken, TokenError, TokenKeyPair, TokenPrivateKey, testing::TokenFileBuilder,
};
use libfuzzer_sys::fuzz_target;

fn pair() -> &'static TokenKeyPair {
    static PAIR: OnceLock<TokenKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        TokenKeyPair::generate("fuzz MDM", Duration::from_secs(86_400)).expect("key pair")
    })
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
    match if mode == 255 { 4 } else { mode % 4 } {
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
            let _ = ServerToken::decrypt(b"MAMCAQA=", payload, pair().private_key());
        }
        3 => {
            if let Ok(token) = ServerToken::from_message(payload) {
                check_token(&token);
            }
        }
        _ => {
            let direct = ServerToken::from_message(payload);
            let file =
                TokenFileBuilder::with_content(payload.to_vec(), pair().certificate_der()).build();
            match decrypt(&file) {
                Ok(token) => {
                    check_token(&token);
                    assert_eq!(direct.ok(), Some(token));
                }
                Err(TokenError::Expired { .. }) => assert!(direct.is_ok()),
                Err(TokenError::NotAToken(error)) => {
                    assert!(matches!(direct, Err(TokenError::NotAToken(e)) if e == error));
                }
                Err(other) => panic!("a sealed content failed outside the message layer: {other}"),
            }
        }
    }
});
