//! Server token files made at run time — BER (indefinite lengths) and DER, S/MIME, PEM,
//! base64 and raw, AES-128/192/256-CBC — decrypted, and every failure named.

use std::time::Duration;

use dep_client::{
    KeyError, ServerToken, TokenError, TokenKeyPair, TokenPrivateKey,
    testing::{
        CmsEncoding, ContentCipher, TokenFileBuilder, Wrapping, random_token, token_message,
    },
    token::{MAX_TOKEN_FILE_BYTES, MessageError},
};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use x509_cert::{
    Certificate,
    der::{Decode as _, Encode as _},
    ext::pkix::{KeyUsage, KeyUsages},
};

use crate::common::{key_pair, other_key_pair};

fn decrypt(file: &[u8]) -> Result<ServerToken, TokenError> {
    let pair = key_pair();
    ServerToken::decrypt(file, pair.certificate_der(), pair.private_key())
}

fn file(token: &ServerToken) -> TokenFileBuilder {
    TokenFileBuilder::new(token, key_pair().certificate_der())
}

fn content_file(content: &[u8]) -> Vec<u8> {
    TokenFileBuilder::with_content(content.to_vec(), key_pair().certificate_der()).build()
}

#[test]
fn every_encoding_wrapping_and_cipher_decrypts() {
    let token = random_token();
    for encoding in [CmsEncoding::BerIndefinite, CmsEncoding::Der] {
        for wrapping in [
            Wrapping::Smime,
            Wrapping::Pem("PKCS7"),
            Wrapping::Pem("CMS"),
            Wrapping::Base64,
            Wrapping::Raw,
        ] {
            for cipher in [
                ContentCipher::Aes128Cbc,
                ContentCipher::Aes192Cbc,
                ContentCipher::Aes256Cbc,
            ] {
                let bytes = file(&token)
                    .encoding(encoding)
                    .wrapping(wrapping)
                    .cipher(cipher)
                    .build();
                let decrypted = decrypt(&bytes)
                    .unwrap_or_else(|e| panic!("{encoding:?} {wrapping:?} {cipher:?}: {e}"));
                assert_eq!(decrypted, token);
                assert_eq!(decrypted.consumer_key(), token.consumer_key());
                assert_eq!(decrypted.access_secret(), token.access_secret());
                assert_eq!(decrypted.expires_at(), token.expires_at());
            }
        }
    }
}

#[test]
fn the_portal_form_is_ber_with_indefinite_lengths() {
    let raw = file(&random_token()).wrapping(Wrapping::Raw).build();
    assert_eq!(&raw[..2], &[0x30, 0x80], "starts 30 80");
    assert_eq!(&raw[raw.len() - 2..], &[0, 0]);
    let der = file(&random_token())
        .encoding(CmsEncoding::Der)
        .wrapping(Wrapping::Raw)
        .build();
    assert_eq!(der[0], 0x30);
    assert_ne!(der[1], 0x80);
    let smime = String::from_utf8(file(&random_token()).build()).unwrap();
    assert!(smime.starts_with("Content-Type: application/pkcs7-mime;"));
    assert!(smime.contains("\r\n\r\nMIAGCSqGSIb3DQEHA6CA"), "{smime}");
}

#[test]
fn secrets_are_redacted_and_the_json_form_round_trips() {
    let token = random_token();
    let debug = format!("{token:?}");
    for secret in [
        token.consumer_secret().expose(),
        token.access_token().expose(),
        token.access_secret().expose(),
    ] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains(token.consumer_key()));
    let json = token.to_json_secret();
    let back = ServerToken::from_json(&json).unwrap();
    assert_eq!(back, token);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["access_token"], token.access_token().expose());
    assert_eq!(
        value["access_token_expiry"],
        token.expires_at().format(&Rfc3339).unwrap()
    );
    // Escaping and unknown fields.
    let odd = br#"{"consumer_key":"CK_\u0041","consumer_secret":"CS_\"q\"","access_token":"AT","access_secret":"AS","access_token_expiry":"2030-01-01T00:00:00Z","extra":[1,2]}"#;
    let token = ServerToken::from_json(odd).unwrap();
    assert_eq!(token.consumer_key(), "CK_A");
    assert_eq!(token.consumer_secret().expose(), "CS_\"q\"");
    assert_eq!(
        ServerToken::from_json(&token.to_json_secret()).unwrap(),
        token
    );
}

#[test]
fn expiry_is_reported_and_judged() {
    let token = random_token();
    let bytes = file(&token).build();
    let pair = key_pair();
    let later = token.expires_at() + time::Duration::seconds(1);
    let error = ServerToken::decrypt_at(&bytes, pair.certificate_der(), pair.private_key(), later)
        .unwrap_err();
    assert!(
        matches!(error, TokenError::Expired { expired_at } if expired_at == token.expires_at())
    );
    let expiry = token.expires_at().format(&Rfc3339).unwrap();
    assert!(error.to_string().contains(&expiry), "{error}");

    let now = token.expires_at() - time::Duration::days(10);
    assert!(!token.is_expired_at(now));
    assert!(token.is_expired_at(token.expires_at()));
    assert!(token.expires_within_at(Duration::from_secs(11 * 86_400), now));
    assert!(!token.expires_within_at(Duration::from_secs(9 * 86_400), now));
    assert!(token.expires_within_at(Duration::MAX, now), "no overflow");
    assert_eq!(token.remaining_at(now), Duration::from_secs(10 * 86_400));
    assert_eq!(token.remaining_at(later), Duration::ZERO);
    assert!(token.expires_within(Duration::from_secs(400 * 86_400)));
    assert!(!token.expires_within(Duration::from_secs(86_400)));
    assert!(!token.is_expired());
}

#[test]
fn outer_layer_failures_are_named() {
    assert!(matches!(
        decrypt(&vec![b'A'; MAX_TOKEN_FILE_BYTES + 1]),
        Err(TokenError::TooLarge { .. })
    ));
    assert!(matches!(
        decrypt(b"not a token, just words"),
        Err(TokenError::NotSmime { .. })
    ));
    assert!(matches!(decrypt(b""), Err(TokenError::NotSmime { .. })));
    assert!(matches!(
        decrypt(b"Content-Type: text/html\r\n\r\nPGh0bWw+\r\n"),
        Err(TokenError::NotSmimeContentType { content_type }) if content_type == "text/html"
    ));
    assert!(matches!(
        decrypt(b"Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAG!!CSqG\r\n"),
        Err(TokenError::BadBase64 { .. })
    ));
    // Valid base64 of something that is not ASN.1.
    assert!(matches!(
        decrypt(b"Content-Type: application/pkcs7-mime\r\n\r\naGVsbG8gd29ybGQ=\r\n"),
        Err(TokenError::NotCms { .. })
    ));
    // Truncated BER.
    let raw = file(&random_token()).wrapping(Wrapping::Raw).build();
    assert!(matches!(
        decrypt(&raw[..raw.len() / 2]),
        Err(TokenError::NotCms { .. })
    ));
    assert!(matches!(
        decrypt(&file(&random_token()).as_signed_data().build()),
        Err(TokenError::NotEnvelopedData { content_type }) if content_type == "1.2.840.113549.1.7.2"
    ));
}

#[test]
fn recipient_and_key_failures_are_named() {
    let token = random_token();
    // Addressed to another MDM server's certificate.
    let bytes = file(&token)
        .addressed_to(other_key_pair().certificate_der())
        .build();
    let error = decrypt(&bytes).unwrap_err();
    let TokenError::NotAddressedToCertificate { recipients, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(recipients.len(), 1);
    assert!(error.to_string().contains("CN=another MDM"), "{error}");

    // Our certificate named, the content key encrypted to another key. RSA PKCS#1 v1.5
    // decryption uses implicit rejection (a synthetic key, no padding oracle): the wrong key
    // shows as a content key of the wrong length, or (rarely, when the synthetic length
    // happens to fit) as a padding failure of the content or garbage content.
    let other_public = rsa::PublicKey::from(&rsa_key(other_key_pair()));
    let bytes = file(&token).content_key_encrypted_to(other_public).build();
    let error = decrypt(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            TokenError::WrongKey { .. }
                | TokenError::ContentDecryption { .. }
                | TokenError::NotAToken(_)
        ),
        "{error:?}"
    );

    // Another MDM server's key with our certificate: named before any decryption.
    let bytes = file(&token).build();
    assert!(matches!(
        ServerToken::decrypt(
            &bytes,
            key_pair().certificate_der(),
            other_key_pair().private_key()
        ),
        Err(TokenError::KeyDoesNotMatchCertificate)
    ));
    assert!(matches!(
        ServerToken::decrypt(&bytes, b"not a certificate", key_pair().private_key()),
        Err(TokenError::BadCertificate { .. })
    ));
}

fn rsa_key(pair: &TokenKeyPair) -> rsa::PrivateKey {
    use pkcs8::DecodePrivateKey as _;
    rsa::PrivateKey::from_pkcs8_pem(&pair.private_key_pem().unwrap()).unwrap()
}

#[test]
fn content_failures_are_named() {
    let token = random_token();
    assert!(matches!(
        decrypt(&file(&token).cipher(ContentCipher::TripleDesOid).build()),
        Err(TokenError::UnsupportedContentEncryption { algorithm }) if algorithm == "1.2.840.113549.3.7"
    ));
    assert!(matches!(
        decrypt(&file(&token).bad_padding().build()),
        Err(TokenError::ContentDecryption { .. })
    ));
}

#[test]
fn inner_message_failures_are_named() {
    let json = br#"{"consumer_key":"CK_1","consumer_secret":"CS_2","access_token":"AT_3","access_secret":"AS_4","access_token_expiry":"2999-01-01T00:00:00Z"}"#;
    let sealed = decrypt(&content_file(&token_message(json))).unwrap();
    // Content decrypted elsewhere (`openssl smime -decrypt`) reads the same.
    assert_eq!(
        ServerToken::from_message(&token_message(json)).unwrap(),
        sealed
    );
    assert!(matches!(
        ServerToken::from_message(b"Content-Type: text/plain\r\n\r\nno markers"),
        Err(TokenError::NotAToken(MessageError::NoBeginMarker))
    ));
    let not_a_token = |content: &[u8]| match decrypt(&content_file(content)) {
        Err(TokenError::NotAToken(error)) => error,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        not_a_token(b"Content-Type: text/plain\r\n\r\n{}"),
        MessageError::NoBeginMarker
    );
    assert_eq!(
        not_a_token(b"-----BEGIN MESSAGE-----\n{}\n"),
        MessageError::NoEndMarker
    );
    assert!(matches!(
        not_a_token(
            b"Content-Type: image/png\r\n\r\n-----BEGIN MESSAGE-----{}-----END MESSAGE-----"
        ),
        MessageError::NotText { .. }
    ));
    assert_eq!(not_a_token(b"\xff\xfe\x00garbage"), MessageError::NotUtf8);
    assert!(matches!(
        not_a_token(&token_message(b"{\"consumer_key\": ")),
        MessageError::BadJson { line: 1, .. }
    ));
    for field in [
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_secret",
        "access_token_expiry",
    ] {
        let mut value: serde_json::Value = serde_json::from_slice(json).unwrap();
        value.as_object_mut().unwrap().remove(field);
        let missing = serde_json::to_vec(&value).unwrap();
        assert_eq!(
            not_a_token(&token_message(&missing)),
            MessageError::MissingField(field)
        );
        let error = decrypt(&content_file(&token_message(&missing))).unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
        value[field] = serde_json::Value::String(String::new());
        let empty = serde_json::to_vec(&value).unwrap();
        assert_eq!(
            not_a_token(&token_message(&empty)),
            MessageError::EmptyField(field)
        );
    }
    let mut value: serde_json::Value = serde_json::from_slice(json).unwrap();
    value["access_token_expiry"] = "next year".into();
    assert!(matches!(
        not_a_token(&token_message(&serde_json::to_vec(&value).unwrap())),
        MessageError::BadExpiry { value, .. } if value == "next year"
    ));
    // A secret of the wrong type: the error never quotes a value.
    value["access_token_expiry"] = "2999-01-01T00:00:00Z".into();
    value["access_secret"] = serde_json::json!(["AS_leak"]);
    let error = not_a_token(&token_message(&serde_json::to_vec(&value).unwrap()));
    assert!(!error.to_string().contains("AS_leak"), "{error}");
}

#[test]
fn the_token_key_pair_is_what_the_portal_takes() {
    let pair = key_pair();
    let certificate = Certificate::from_der(pair.certificate_der()).unwrap();
    let tbs = certificate.tbs_certificate();
    assert_eq!(tbs.issuer(), tbs.subject(), "self-signed");
    assert_eq!(tbs.subject().to_string(), "CN=dep-client test MDM");
    let (_, usage) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
    assert!(usage.0.contains(KeyUsages::DigitalSignature));
    assert!(usage.0.contains(KeyUsages::KeyEncipherment));
    assert!(!usage.0.contains(KeyUsages::KeyCertSign));
    let spki = tbs.subject_public_key_info();
    assert_eq!(spki.algorithm.oid.to_string(), "1.2.840.113549.1.1.1");
    assert_eq!(pair.private_key().bits(), 2048);
    let validity = tbs.validity();
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    assert!(not_after - not_before >= 86_400);
    assert!(OffsetDateTime::now_utc().unix_timestamp() > i64::try_from(not_before).unwrap());

    // The key as PKCS#8 PEM reads back, alone and with the certificate.
    let pem = pair.private_key_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let again = TokenKeyPair::from_pem(pair.certificate_pem().as_bytes(), pem.as_bytes()).unwrap();
    assert_eq!(again.certificate_der(), pair.certificate_der());
    let token = random_token();
    let bytes = file(&token).build();
    assert_eq!(
        ServerToken::decrypt(&bytes, again.certificate_der(), again.private_key()).unwrap(),
        token
    );
    // PKCS#1 PEM and DER are read too; debug output never shows the key.
    let pkcs1 = rsa_key(pair).to_pkcs1_pem(pkcs8::LineEnding::LF).unwrap();
    let from_pkcs1 = TokenPrivateKey::from_pem_or_der(pkcs1.as_bytes()).unwrap();
    assert_eq!(
        ServerToken::decrypt(&bytes, pair.certificate_der(), &from_pkcs1).unwrap(),
        token
    );
    let der = rsa_key(pair).to_pkcs1_der().unwrap();
    assert!(TokenPrivateKey::from_pem_or_der(der.as_bytes()).is_ok());
    assert_eq!(
        format!("{from_pkcs1:?}"),
        "TokenPrivateKey(RSA-2048, [redacted])"
    );
    let _ = certificate.to_der().unwrap();
}

#[test]
fn bad_keys_and_names_are_refused() {
    assert!(matches!(
        TokenPrivateKey::from_pem_or_der(
            b"-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"
        ),
        Err(KeyError::NotRsaPrivateKey { .. })
    ));
    assert!(matches!(
        TokenPrivateKey::from_pem_or_der(b"\x30\x03\x02\x01\x00"),
        Err(KeyError::NotRsaPrivateKey { .. })
    ));
    assert!(matches!(
        TokenPrivateKey::from_pem_or_der(&vec![0u8; 70_000]),
        Err(KeyError::TooLarge { .. })
    ));
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let small = rsa::PrivateKey::new(&mut rng, 1024).unwrap();
    let pem = small.to_pkcs1_pem(pkcs8::LineEnding::LF).unwrap();
    assert!(matches!(
        TokenPrivateKey::from_pem_or_der(pem.as_bytes()),
        Err(KeyError::KeyTooSmall { bits: 1024 })
    ));
    for name in ["", "line\nbreak"] {
        assert!(matches!(
            TokenKeyPair::generate(name, Duration::from_secs(60)),
            Err(KeyError::InvalidCommonName)
        ));
    }
}
