//! [`TestPki`]: a throw-away PKI made at run time — a server CA and a server certificate for
//! `127.0.0.1`/`localhost`, a client CA and client certificates (stand-ins for an MDM server's
//! APNs identity) — with the rustls server configuration that requires them.

use alloc::sync::Arc;
use core::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and its key, PEM-encoded.
#[derive(Clone)]
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    pub(crate) key_der: Vec<u8>,
}

impl fmt::Debug for TestCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCert").finish_non_exhaustive()
    }
}

impl TestCert {
    /// Certificate then key, in one PEM text (what `Identity::from_pem` reads).
    #[must_use]
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }

    /// The certificate, DER.
    #[must_use]
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A PKCS#12 file with this certificate and key, protected by `password`.
    ///
    /// # Panics
    /// If the PKCS#12 writer fails (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn pkcs12(&self, password: &str) -> Vec<u8> {
        let key = p12_keystore::PrivateKey::from_der(&self.key_der).expect("PKCS#8 key");
        let cert = p12_keystore::Certificate::from_der(self.cert_der.as_ref()).expect("cert");
        let chain = p12_keystore::PrivateKeyChain::new(vec![1, 2, 3, 4], key, [cert]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("apns", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().expect("PKCS#12 written")
    }
}

/// A CA, a server certificate for `127.0.0.1`/`localhost` signed by it, a client CA and a
/// client certificate (the stand-in for an APNs identity) signed by that, all made at run time.
pub struct TestPki {
    /// The CA that signed the server certificate: what clients must trust.
    pub server_ca: TestCert,
    /// The server's certificate (`127.0.0.1`, `localhost`).
    pub server: TestCert,
    /// The CA the server requires client certificates from.
    pub client_ca: TestCert,
    /// A client certificate signed by `client_ca`.
    pub client: TestCert,
    client_ca_key: KeyPair,
    client_ca_params: CertificateParams,
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
    /// Makes a fresh PKI (ECDSA P-256 keys).
    ///
    /// # Panics
    /// If rcgen fails (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn new() -> Self {
        let (server_ca, server_ca_key, server_ca_params) = make_ca(&format!(
            "alb test server CA {:016x}",
            getrandom::u64().unwrap_or(0)
        ))
        .expect("server CA");
        let (client_ca, client_ca_key, client_ca_params) = make_ca(&format!(
            "alb test client CA {:016x}",
            getrandom::u64().unwrap_or(0)
        ))
        .expect("client CA");
        let server = make_leaf(
            &["127.0.0.1", "localhost"],
            "escrow test server",
            ExtendedKeyUsagePurpose::ServerAuth,
            &Issuer::from_params(&server_ca_params, &server_ca_key),
        )
        .expect("server cert");
        let client = make_leaf(
            &[],
            "APSP:escrow-client-test",
            ExtendedKeyUsagePurpose::ClientAuth,
            &Issuer::from_params(&client_ca_params, &client_ca_key),
        )
        .expect("client cert");
        Self {
            server_ca,
            server,
            client_ca,
            client,
            client_ca_key,
            client_ca_params,
        }
    }

    /// Another client certificate signed by this PKI's client CA.
    ///
    /// # Panics
    /// If rcgen fails.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn new_client(&self, common_name: &str) -> TestCert {
        let issuer = Issuer::from_params(&self.client_ca_params, &self.client_ca_key);
        make_leaf(
            &[],
            common_name,
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        )
        .expect("client")
    }

    /// The rustls server configuration: this server certificate, client certificates required
    /// and verified against the client CA.
    ///
    /// # Panics
    /// If rustls refuses the configuration (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(self.client_ca.cert_der.clone())
            .expect("client CA");
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("client verifier");
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain(), self.server_key())
            .expect("server certificate");
        Arc::new(config)
    }

    /// The rustls configuration of an HTTPS server with this PKI's server certificate that asks
    /// for no client certificate (a server whose callers authenticate otherwise, such as
    /// NanoMDM's API behind a TLS front end).
    ///
    /// # Panics
    /// If rustls refuses the configuration (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn server_config_without_client_auth(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain(), self.server_key())
            .expect("server certificate");
        Arc::new(config)
    }

    fn server_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![
            self.server.cert_der.clone(),
            self.server_ca.cert_der.clone(),
        ]
    }

    fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone()))
    }
}

fn make_ca(common_name: &str) -> Result<(TestCert, KeyPair, CertificateParams), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key)?;
    let test_cert = TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        key_der: key.serialize_der(),
    };
    Ok((test_cert, key, params))
}

fn make_leaf(
    names: &[&str],
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, impl rcgen::SigningKey>,
) -> Result<TestCert, rcgen::Error> {
    let key = KeyPair::generate()?;
    let names: Vec<String> = names.iter().map(|&name| name.to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer)?;
    Ok(TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        key_der: key.serialize_der(),
    })
}
