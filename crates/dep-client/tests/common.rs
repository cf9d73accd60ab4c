//! Shared set-up: token key pairs made once per run, a stand-in and a client tuned for fast
//! tests, and a raw HTTPS client for requests the library would never send.

use std::{sync::OnceLock, time::Duration};

use bypass_code::BypassCode;
use dep_client::{
    DepClient, DepConfig, EscrowKey, ThrottlePolicy, TokenKeyPair,
    testing::{StandIn, TestPki},
};
use http_body_util::{BodyExt as _, Empty};
use hyper::{Request, body::Bytes};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

/// The token key pair of "our" MDM server (RSA-2048 generation is slow: once per run).
pub fn key_pair() -> &'static TokenKeyPair {
    static PAIR: OnceLock<TokenKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        TokenKeyPair::generate("dep-client test MDM", Duration::from_secs(86_400)).unwrap()
    })
}

/// Another MDM server's key pair.
pub fn other_key_pair() -> &'static TokenKeyPair {
    static PAIR: OnceLock<TokenKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| TokenKeyPair::generate("another MDM", Duration::from_secs(86_400)).unwrap())
}

/// An escrow key for a device (a cheap, distinct one per serial: the hash of a code made
/// from the serial's bytes would cost 50,000 iterations; the wire only needs 32 bytes).
pub fn escrow_key_for(serial: &str) -> EscrowKey {
    let mut bytes = [0u8; 32];
    for (i, b) in serial.bytes().enumerate() {
        bytes[i % 32] ^= b.wrapping_add(u8::try_from(i % 251).unwrap());
    }
    bytes[31] ^= 0x5a;
    EscrowKey::from_bytes(bytes)
}

/// The escrow key of the DEP.md §4 vector code.
pub fn vector_escrow_key() -> EscrowKey {
    let raw: [u8; 16] = hex::decode("1ea841db5edfafe6075b5ae0d845d254")
        .unwrap()
        .try_into()
        .unwrap();
    BypassCode::from_bytes(raw).escrow_key()
}

/// Short limits and waits: every test finishes in well under a few seconds.
pub fn fast_config(pki: &TestPki, stand_in: &StandIn) -> DepConfig {
    DepConfig {
        base_url: stand_in.base_url().parse().unwrap(),
        roots: pki.trust_roots(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 64 * 1024,
        throttle: ThrottlePolicy {
            max_attempts: 3,
            max_wait: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        },
        ..DepConfig::default()
    }
}

/// A PKI, a stand-in and a client of it.
pub struct Env {
    #[allow(dead_code, reason = "kept alive beside the stand-in it certifies")]
    pub pki: TestPki,
    pub stand_in: StandIn,
    pub client: DepClient,
}

pub async fn env() -> Env {
    env_with(|config| config).await
}

pub async fn env_with(adjust: impl FnOnce(DepConfig) -> DepConfig) -> Env {
    let pki = TestPki::new();
    let stand_in = StandIn::start(&pki).await.unwrap();
    let config = adjust(fast_config(&pki, &stand_in));
    let client = DepClient::new(config, stand_in.token()).unwrap();
    Env {
        pki,
        stand_in,
        client,
    }
}

/// A `GET` with exactly these headers, over TLS trusting `pki`: (status, body).
pub async fn raw_get(pki: &TestPki, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = {
        let mut store = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            store.add(cert.unwrap()).unwrap();
        }
        store
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

use rustls_pki_types::pem::PemObject as _;
