//! Test support (feature `test-support`): a throw-away PKI, server token files made at run
//! time, and [`StandIn`], a loopback HTTPS stand-in for Apple's device enrollment service.
//!
//! For tests only — every key is made at run time, nothing here is hardened for production.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use dep_client::testing::{StandIn, TestPki};
//!
//! let pki = TestPki::new();
//! let stand_in = StandIn::start(&pki).await.unwrap();
//! assert!(stand_in.base_url().starts_with("https://127.0.0.1:"));
//! assert!(stand_in.requests().is_empty());
//! # }
//! ```

mod stand_in;
mod token_file;

use alloc::sync::Arc;
use core::{
    convert::Infallible,
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use hyper::body::{Body, Bytes, Frame};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub use stand_in::{
    ACTIVATION_LOCK_PATH, ErrorStyle, Lock, MAX_RECORDED, RecordedRequest, Scripted, StandIn,
    random_token,
};
pub use token_file::{
    CmsEncoding, ContentCipher, TokenFileBuilder, Wrapping, to_indefinite_ber, token_message, wrap,
};

use crate::config::TrustRoots;

/// A CA and a server certificate for `127.0.0.1`/`localhost` signed by it (ECDSA P-256), made
/// at run time.
pub struct TestPki {
    /// The CA certificate, PEM: what clients must trust.
    pub ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// Makes a fresh PKI.
    ///
    /// # Panics
    /// If rcgen fails (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut tag = [0u8; 8];
        let _ = getrandom::fill(&mut tag);
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("dep-client test CA {}", u64::from_be_bytes(tag)),
        );
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "dep stand-in");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server = params
            .signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("server certificate");
        Self {
            ca_pem: ca.pem(),
            server_chain: vec![server.der().clone(), ca.der().clone()],
            server_key: server_key.serialize_der(),
        }
    }

    /// Roots that trust only this PKI's CA.
    ///
    /// # Panics
    /// Never for a PKI made by [`new`](Self::new).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn trust_roots(&self) -> TrustRoots {
        TrustRoots::from_pem(self.ca_pem.as_bytes()).expect("CA PEM")
    }

    /// The rustls server configuration (HTTP/1.1).
    ///
    /// # Panics
    /// If rustls refuses the configuration (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A response body of `len` bytes in 16 KiB chunks with no size hint (sent chunked).
#[derive(Debug)]
pub struct RepeatBody {
    remaining: usize,
}

impl RepeatBody {
    /// `len` bytes of `x`.
    #[must_use]
    pub const fn new(len: usize) -> Self {
        Self { remaining: len }
    }
}

impl Body for RepeatBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = self.remaining.min(16 * 1024);
        self.remaining -= len;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; len])))))
    }
}
