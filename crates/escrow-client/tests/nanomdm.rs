//! The NanoMDM route: the request NanoMDM's `/v1/escrowkeyunlock` reads, its relayed statuses
//! and its own `401`, against a real loopback server (plain HTTP as NanoMDM listens by
//! default, and HTTPS behind a TLS front end).

use std::time::Duration;

use alb_test_support::{RecordedRequest, RecordingServer, Reply, TestPki};
use escrow_client::{
    AttemptResult, CodeSource, ConfigError, EscrowClient, EscrowConfig, NanoMdmRelay, RetryPolicy,
    StatusClass, TrustRoots, UnlockRequest, Verdict,
};
use zeroize::Zeroizing;

use crate::common::{DEVICE_CODE, device_code, request, server_code};

/// As `common::fast_config`, Apple's endpoint left as it is (the relay does not use it).
fn relay_config(pki: &TestPki) -> EscrowConfig {
    EscrowConfig {
        roots: TrustRoots::from_pem(pki.server_ca.cert_pem.as_bytes()).unwrap(),
        attempt_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(5),
        retry: RetryPolicy {
            max_tries: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        },
        max_body_bytes: 256,
        ..EscrowConfig::default()
    }
}

const KEY: &str = "s3cret key:with colon";
const TOPIC: &str = "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9";

fn relay(url: &str) -> NanoMdmRelay {
    NanoMdmRelay::new(url, Zeroizing::new(KEY.to_owned()), TOPIC)
}

async fn plain(script: impl IntoIterator<Item = Reply>) -> (RecordingServer, EscrowClient) {
    let server = RecordingServer::start_plain(script).await.unwrap();
    let pki = TestPki::new();
    let config = relay_config(&pki);
    let client = EscrowClient::through_nanomdm(config, relay(&server.base_url())).unwrap();
    (server, client)
}

/// The form's fields, percent-decoded, in order.
fn form(sent: &RecordedRequest) -> Vec<(String, String)> {
    let body = String::from_utf8(sent.body.clone()).unwrap();
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .unwrap();
            (name.to_owned(), value.into_owned())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn the_request_is_what_nanomdm_reads() {
    let (server, client) = plain([Reply::with_body(200, "{}")]).await;
    let request = UnlockRequest::builder()
        .serial("DMPXK0ABCD12")
        .product_type("iPhone10,3")
        .imei("490154203237518")
        .imei2("356938035643809")
        .meid("A1000012345678")
        .org_name("Example & Sons, Ltd.")
        .guid("j.doe+mdm@example.com")
        .build()
        .unwrap();

    let outcome = client.unlock(&request, &device_code()).await;

    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Supplied(1)
        }
    );
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let sent = &recorded[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/escrowkeyunlock");
    assert_eq!(sent.query, None, "NanoMDM reads the post form only");
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("nanomdm:s3cret key:with colon")
    assert_eq!(
        sent.header("authorization"),
        Some("Basic bmFub21kbTpzM2NyZXQga2V5OndpdGggY29sb24=")
    );
    let fields = form(sent);
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "topic",
            "serial",
            "productType",
            "imei",
            "imei2",
            "meid",
            "orgName",
            "guid",
            "escrowKey"
        ]
    );
    assert_eq!(field(&fields, "topic"), Some(TOPIC));
    assert_eq!(field(&fields, "serial"), Some("DMPXK0ABCD12"));
    assert_eq!(field(&fields, "productType"), Some("iPhone10,3"));
    assert_eq!(field(&fields, "imei"), Some("490154203237518"));
    assert_eq!(field(&fields, "imei2"), Some("356938035643809"));
    assert_eq!(field(&fields, "meid"), Some("A1000012345678"));
    assert_eq!(field(&fields, "orgName"), Some("Example & Sons, Ltd."));
    assert_eq!(field(&fields, "guid"), Some("j.doe+mdm@example.com"));
    assert_eq!(field(&fields, "escrowKey"), Some(DEVICE_CODE));
}

#[tokio::test]
async fn absent_device_fields_are_left_out_and_a_path_prefix_kept() {
    let server = RecordingServer::start_plain([Reply::with_body(200, "{}")])
        .await
        .unwrap();
    let pki = TestPki::new();
    let url = format!("{}/nanomdm/", server.base_url());
    let client = EscrowClient::through_nanomdm(relay_config(&pki), relay(&url)).unwrap();

    assert!(
        client
            .unlock(&request(), &device_code())
            .await
            .is_unlocked()
    );

    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/nanomdm/v1/escrowkeyunlock");
    let fields = form(sent);
    for absent in ["imei", "imei2", "meid"] {
        assert_eq!(field(&fields, absent), None, "{absent}");
    }
}

#[tokio::test]
async fn a_refused_code_falls_back_to_the_second() {
    let (server, client) = plain([
        Reply::with_body(404, "escrow key mismatch"),
        Reply::with_body(200, "{}"),
    ])
    .await;
    let server_code = server_code();
    let codes = [
        (CodeSource::Device, &device_code()),
        (CodeSource::Server, &server_code),
    ];

    let outcome = client.unlock_with_fallback(&request(), &codes).await;

    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Server
        }
    );
    assert_eq!(
        outcome.codes[0].verdict,
        Verdict::Rejected {
            code: CodeSource::Device
        }
    );
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|sent| field(&form(sent), "escrowKey").unwrap().to_owned())
        .collect();
    assert_eq!(keys, [DEVICE_CODE.to_owned(), server_code.to_string()]);
}

#[tokio::test]
async fn a_relayed_500_is_retried_and_a_bad_request_is_not() {
    let (server, client) = plain([Reply::status(500), Reply::with_body(200, "{}")]).await;
    let outcome = client.unlock(&request(), &device_code()).await;
    assert!(outcome.is_unlocked());
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(server.request_count(), 2);

    let (server, client) = plain([Reply::json(400, "{\n\t\"error\": \"empty topic\"\n}\n")]).await;
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::BadRequest {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn nanomdms_401_is_told_apart_not_retried_and_ends_the_fallback() {
    let (server, client) = plain([Reply::with_body(401, "Unauthorized\n")]).await;
    let server_code = server_code();
    let codes = [
        (CodeSource::Device, &device_code()),
        (CodeSource::Server, &server_code),
    ];

    let outcome = client.unlock_with_fallback(&request(), &codes).await;

    assert_eq!(
        outcome.verdict,
        Verdict::RelayUnauthorized {
            code: CodeSource::Device
        }
    );
    assert!(outcome.verdict.to_string().contains("API key"));
    assert_eq!(outcome.codes.len(), 1, "the second code is not tried");
    assert_eq!(server.request_count(), 1, "not retried");
    assert!(matches!(
        outcome.attempts[0].result,
        AttemptResult::Response {
            status: 401,
            class: StatusClass::RelayUnauthorized,
            ..
        }
    ));
}

#[tokio::test]
async fn an_echoed_code_is_redacted_from_the_relayed_body() {
    let echo = format!("escrowKey {DEVICE_CODE} not valid");
    let (_server, client) = plain([Reply::with_body(404, echo)]).await;
    let outcome = client.unlock(&request(), &device_code()).await;
    let AttemptResult::Response { body, .. } = &outcome.attempts[0].result else {
        panic!("an answer was expected");
    };
    assert_eq!(body.to_text(), "escrowKey [redacted] not valid");
}

#[tokio::test]
async fn https_nanomdm_is_checked_against_the_trust_roots_without_client_certificate() {
    let pki = TestPki::new();
    let server = RecordingServer::start_with(
        pki.server_config_without_client_auth(),
        [Reply::with_body(200, "{}")],
    )
    .await
    .unwrap();
    let client =
        EscrowClient::through_nanomdm(relay_config(&pki), relay(&server.base_url())).unwrap();
    assert!(
        client
            .unlock(&request(), &device_code())
            .await
            .is_unlocked()
    );

    // Another CA: the handshake fails, not retried.
    let config = EscrowConfig {
        roots: TrustRoots::from_pem(TestPki::new().server_ca.cert_pem.as_bytes()).unwrap(),
        ..relay_config(&pki)
    };
    let client = EscrowClient::through_nanomdm(config, relay(&server.base_url())).unwrap();
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::TlsFailure {
            code: CodeSource::Supplied(1)
        }
    );
}

#[test]
fn relay_settings_are_checked_and_the_key_never_shown() {
    let config = EscrowConfig::default;
    let refused = |relay: NanoMdmRelay| EscrowClient::through_nanomdm(config(), relay).unwrap_err();
    assert!(matches!(
        refused(relay("ftp://mdm.example.com")),
        ConfigError::InsecureEndpoint { .. }
    ));
    assert!(matches!(
        refused(relay("mdm.example.com")),
        ConfigError::InvalidEndpoint { .. }
    ));
    assert!(matches!(
        refused(relay("https://mdm.example.com/?x=1")),
        ConfigError::EndpointWithQuery
    ));
    assert!(matches!(
        refused(relay("https://nanomdm:key@mdm.example.com")),
        ConfigError::InvalidEndpoint { .. }
    ));
    let mut no_topic = relay("https://mdm.example.com");
    no_topic.topic = " ".to_owned();
    assert!(matches!(refused(no_topic), ConfigError::InvalidSetting(_)));
    let mut no_key = relay("https://mdm.example.com");
    no_key.api_key = Zeroizing::new(String::new());
    assert!(matches!(refused(no_key), ConfigError::InvalidSetting(_)));

    let relay = relay("http://127.0.0.1:9000");
    assert!(!format!("{relay:?}").contains("s3cret"));
    let client = EscrowClient::through_nanomdm(config(), relay).unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("/v1/escrowkeyunlock"), "{shown}");
}
