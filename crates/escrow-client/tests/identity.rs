//! Loading the client identity from PEM and PKCS#12, and the errors for bad input.

use alb_test_support::{RecordingServer, Reply, TestPki};
use escrow_client::{CodeSource, EscrowClient, Identity, IdentityError, Verdict};

use crate::common::{device_code, fast_config, request};

#[tokio::test]
async fn a_pkcs12_identity_completes_a_real_handshake() {
    let pki = TestPki::new();
    let p12 = pki.client.pkcs12("s3cret pass");
    let identity = Identity::from_pkcs12(&p12, "s3cret pass").unwrap();
    assert_eq!(identity.certificates()[0], *pki.client.cert_der());
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let client = EscrowClient::new(fast_config(&pki, &server), &identity).unwrap();
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Supplied(1)
        }
    );
}

#[test]
fn pem_identity_from_file_and_parts() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apns.pem");
    std::fs::write(&path, pki.client.identity_pem()).unwrap();
    let identity = Identity::from_file(&path, None).unwrap();
    assert_eq!(identity.certificates().len(), 1);
    // Key first, certificate after: order does not matter.
    let reversed = format!("{}{}", pki.client.key_pem, pki.client.cert_pem);
    assert!(Identity::from_pem(reversed.as_bytes()).is_ok());
    assert!(
        Identity::from_pem_parts(
            pki.client.cert_pem.as_bytes(),
            pki.client.key_pem.as_bytes()
        )
        .is_ok()
    );
    let p12_path = dir.path().join("apns.p12");
    std::fs::write(&p12_path, pki.client.pkcs12("pw")).unwrap();
    assert!(Identity::from_file(&p12_path, Some("pw")).is_ok());
    assert!(matches!(
        Identity::from_file(&p12_path, None),
        Err(IdentityError::PasswordRequired)
    ));
    let huge = dir.path().join("huge.p12");
    std::fs::write(
        &huge,
        vec![0x30; escrow_client::MAX_IDENTITY_FILE_BYTES + 1],
    )
    .unwrap();
    assert!(matches!(
        Identity::from_file(&huge, Some("pw")),
        Err(IdentityError::TooLarge)
    ));
}

#[test]
fn wrong_pkcs12_password_is_named() {
    let pki = TestPki::new();
    let p12 = pki.client.pkcs12("right");
    let error = Identity::from_pkcs12(&p12, "wrong").unwrap_err();
    assert!(matches!(error, IdentityError::WrongPassword), "{error:?}");
    assert_eq!(
        error.to_string(),
        "wrong PKCS#12 password (integrity check failed)"
    );
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let mixed = format!("{}{}", pki.client.cert_pem, other.client.key_pem);
    let error = Identity::from_pem(mixed.as_bytes()).unwrap_err();
    assert!(matches!(error, IdentityError::KeyMismatch), "{error:?}");
}

#[test]
fn empty_and_incomplete_inputs_have_clear_errors() {
    let pki = TestPki::new();
    assert!(matches!(Identity::from_pem(b""), Err(IdentityError::Empty)));
    assert!(matches!(
        Identity::from_pem(b" \n\t"),
        Err(IdentityError::Empty)
    ));
    assert!(matches!(
        Identity::from_pkcs12(b"", "pw"),
        Err(IdentityError::Empty)
    ));
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Identity::from_file(&empty, None),
        Err(IdentityError::Empty)
    ));
    assert!(matches!(
        Identity::from_file(&empty, Some("pw")),
        Err(IdentityError::Empty)
    ));
    let missing = dir.path().join("missing.pem");
    let error = Identity::from_file(&missing, None).unwrap_err();
    assert!(matches!(error, IdentityError::Io { .. }));
    assert!(error.to_string().contains("missing.pem"));

    assert!(matches!(
        Identity::from_pem(pki.client.cert_pem.as_bytes()),
        Err(IdentityError::NoPrivateKey)
    ));
    assert!(matches!(
        Identity::from_pem(pki.client.key_pem.as_bytes()),
        Err(IdentityError::NoCertificate)
    ));
    let two_keys = format!("{}{}", pki.client.identity_pem(), pki.server.key_pem);
    assert!(matches!(
        Identity::from_pem(two_keys.as_bytes()),
        Err(IdentityError::SeveralKeys { count: 2 })
    ));
    assert!(matches!(
        Identity::from_pem(
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
        ),
        Err(IdentityError::Pem { .. })
    ));
    assert!(matches!(
        Identity::from_pkcs12(b"definitely not DER", "pw"),
        Err(IdentityError::Pkcs12 { .. })
    ));
}

#[test]
fn debug_never_shows_the_key() {
    let pki = TestPki::new();
    let identity = Identity::from_pem(pki.client.identity_pem().as_bytes()).unwrap();
    let debug = format!("{identity:?}");
    assert_eq!(
        debug,
        "Identity { certificates: 1, private_key: \"[redacted]\" }"
    );
    let key_body: String = pki.client.key_pem.lines().nth(1).unwrap().to_owned();
    assert!(!debug.contains(&key_body));
}
