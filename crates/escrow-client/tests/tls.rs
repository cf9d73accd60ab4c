//! Mutual TLS: each side refuses the other's bad certificate; `http://` is refused up front.

use alb_test_support::{RecordingServer, Reply, TestPki};
use std::time::Duration;

use escrow_client::{
    AttemptResult, CodeSource, ConfigError, Endpoint, EscrowClient, Identity, TransportFailure,
    Verdict,
};

use crate::common::{client, device_code, fast_config, request};

#[tokio::test]
async fn the_server_refuses_a_client_certificate_from_another_ca() {
    let pki = TestPki::new();
    let stranger = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let identity = Identity::from_pem(stranger.client.identity_pem().as_bytes()).unwrap();
    let client = EscrowClient::new(fast_config(&pki, &server), &identity).unwrap();

    let outcome = client.unlock(&request(), &device_code()).await;

    assert_eq!(
        outcome.verdict,
        Verdict::TlsFailure {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 1, "a TLS refusal is not retried");
    assert!(matches!(
        &outcome.attempts[0].result,
        AttemptResult::Transport {
            failure: TransportFailure::Tls,
            ..
        }
    ));
    assert!(server.requests().is_empty());
    assert!(server.handshake_failures() >= 1);
}

#[tokio::test]
async fn the_client_refuses_a_server_it_does_not_trust() {
    let pki = TestPki::new();
    let impostor = TestPki::new();
    // The impostor server requires our client CA, but its own certificate is from another CA.
    let server = RecordingServer::start(&impostor, [Reply::status(200)])
        .await
        .unwrap();
    let config = fast_config(&pki, &server);
    let client = client(&pki, config);

    let outcome = client.unlock(&request(), &device_code()).await;

    assert_eq!(
        outcome.verdict,
        Verdict::TlsFailure {
            code: CodeSource::Supplied(1)
        },
        "{outcome:?}"
    );
    match &outcome.attempts[0].result {
        AttemptResult::Transport {
            failure: TransportFailure::Tls,
            message,
        } => {
            assert!(message.contains("certificate"), "{message}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn http_is_refused_before_connecting() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!(
        "http://{}/deviceservicesworkers/escrowKeyUnlock",
        listener.local_addr().unwrap()
    );
    let error = Endpoint::parse(&url).unwrap_err();
    assert!(matches!(&error, ConfigError::InsecureEndpoint { scheme } if scheme == "http"));
    assert!(error.to_string().contains("https://"));
    let error = url.parse::<Endpoint>().unwrap_err();
    assert!(matches!(error, ConfigError::InsecureEndpoint { .. }));
    // Nothing ever connected.
    let accepted = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
    assert!(accepted.is_err());
}
