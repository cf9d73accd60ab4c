//! Test support (feature `test-support`): a throw-away PKI and a loopback HTTPS server that
//! requires client certificates and records every request.
//!
//! For tests only — the keys are made at run time, nothing here is hardened for production.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use escrow_client::testing::{Reply, RecordingServer, TestPki};
//!
//! let pki = TestPki::new();
//! let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)]).await.unwrap();
//! assert!(server.url().starts_with("https://127.0.0.1:"));
//! assert!(server.requests().is_empty());
//! # }
//! ```

use alloc::{collections::VecDeque, sync::Arc};
use core::net::SocketAddr;
use core::{
    fmt,
    sync::atomic::{AtomicUsize, Ordering},
};
use std::{
    io,
    sync::{Mutex, PoisonError},
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
    task::{JoinHandle, JoinSet},
};
use tokio_rustls::TlsAcceptor;

/// The path of Apple's endpoint, which the recording server's [`url`](RecordingServer::url) uses.
pub const UNLOCK_PATH: &str = "/deviceservicesworkers/escrowKeyUnlock";
/// The largest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the server reads.
const MAX_BODY: usize = 1024 * 1024;
/// How many requests the server keeps (it counts them all).
pub const MAX_RECORDED: usize = 10_000;

/// A certificate and its key, PEM-encoded.
#[derive(Clone)]
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
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
            "escrow-client test server CA {:016x}",
            getrandom::u64().unwrap_or(0)
        ))
        .expect("server CA");
        let (client_ca, client_ca_key, client_ca_params) = make_ca(&format!(
            "escrow-client test client CA {:016x}",
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
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![
                    self.server.cert_der.clone(),
                    self.server_ca.cert_der.clone(),
                ],
                key,
            )
            .expect("server certificate");
        Arc::new(config)
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

/// What the server does with one request, in script order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and body (`Content-Length` set, connection kept open).
    Status {
        /// The HTTP status code.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
    /// Read the request and never answer (the connection stays open until the server stops).
    Hang,
    /// Read the request and reset the connection (TCP RST, no response).
    Reset,
    /// Wait `delay`, then do what `then` says (a slow service; past the client's time limit,
    /// a stall).
    Delayed {
        /// How long to wait before answering.
        delay: core::time::Duration,
        /// What to do then.
        then: Box<Reply>,
    },
}

impl Reply {
    /// A status with a short text body (`status NNN`).
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            body: format!("status {status}").into_bytes(),
        }
    }

    /// Waits `delay`, then does what `then` says.
    #[must_use]
    pub fn delayed(delay: core::time::Duration, then: Self) -> Self {
        Self::Delayed {
            delay,
            then: Box::new(then),
        }
    }

    /// A status with this body.
    #[must_use]
    pub fn with_body(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::Status {
            status,
            body: body.into(),
        }
    }
}

/// One request as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method (`POST`).
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// The path.
    pub path: String,
    /// The raw query (after `?`), if any.
    pub query: Option<String>,
    /// Every header, name as sent, value as text (lossy).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The value of the first header with this name (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Decides the reply to a request once the script is exhausted (see
/// [`RecordingServer::set_responder`]).
pub type Responder = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    request_count: AtomicUsize,
    script: Mutex<VecDeque<Reply>>,
    after_script: Mutex<Reply>,
    responder: Mutex<Option<Arc<Responder>>>,
    connections: AtomicUsize,
    handshake_failures: AtomicUsize,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("request_count", &self.request_count)
            .field("connections", &self.connections)
            .field("handshake_failures", &self.handshake_failures)
            .finish_non_exhaustive()
    }
}

/// A loopback HTTPS server requiring client certificates, answering from a script and
/// recording every request (the first [`MAX_RECORDED`]). Once the script is exhausted it asks
/// the [responder](Self::set_responder) if there is one, else answers `503` (see
/// [`set_after_script`](Self::set_after_script)). Stops when dropped.
#[derive(Debug)]
pub struct RecordingServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingServer {
    /// Starts on `127.0.0.1` (a free port) with this PKI's server certificate and client CA.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(pki: &TestPki, script: impl IntoIterator<Item = Reply>) -> io::Result<Self> {
        Self::start_with(pki.server_config(), script).await
    }

    /// Starts with any rustls server configuration.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start_with(
        config: Arc<ServerConfig>,
        script: impl IntoIterator<Item = Reply>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            request_count: AtomicUsize::new(0),
            script: Mutex::new(script.into_iter().collect()),
            after_script: Mutex::new(Reply::with_body(503, "script exhausted")),
            responder: Mutex::new(None),
            connections: AtomicUsize::new(0),
            handshake_failures: AtomicUsize::new(0),
        });
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&shared)));
        Ok(Self { addr, shared, task })
    }

    /// The socket address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/deviceservicesworkers/escrowKeyUnlock`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://{}{UNLOCK_PATH}", self.addr)
    }

    /// What to answer once the script is exhausted (default: `503`, body `script exhausted`).
    pub fn set_after_script(&self, reply: Reply) {
        *self
            .shared
            .after_script
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = reply;
    }

    /// Answers every request the script does not by calling `responder` (a service with its own
    /// logic behind the scripted faults). Replaces [`set_after_script`](Self::set_after_script).
    pub fn set_responder(
        &self,
        responder: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) {
        *self
            .shared
            .responder
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(responder));
    }

    /// Appends replies to the script (faults queued in front of the responder).
    pub fn push_replies(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(replies);
    }

    /// How many requests were read so far (recorded or not).
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.shared.request_count.load(Ordering::SeqCst)
    }

    /// Every request read so far, in order (the first [`MAX_RECORDED`]).
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// TLS sessions established so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed (for instance, no or an untrusted client certificate).
    #[must_use]
    pub fn handshake_failures(&self) -> usize {
        self.shared.handshake_failures.load(Ordering::SeqCst)
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            // Out of descriptors or similar: do not spin.
            tokio::time::sleep(core::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            match acceptor.accept(tcp).await {
                Ok(tls) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    serve_connection(tls, &shared).await;
                }
                Err(_) => {
                    shared.handshake_failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_connection(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    shared: &Shared,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut tls, &mut buffer).await else {
            return;
        };
        let close = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        shared.request_count.fetch_add(1, Ordering::SeqCst);
        let scripted = shared
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        let mut reply = scripted.unwrap_or_else(|| {
            let responder = shared
                .responder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            responder.map_or_else(
                || {
                    shared
                        .after_script
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone()
                },
                |responder| responder(&request),
            )
        });
        {
            let mut requests = shared
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if requests.len() < MAX_RECORDED {
                requests.push(request);
            }
        }
        while let Reply::Delayed { delay, then } = reply {
            tokio::time::sleep(delay).await;
            reply = *then;
        }
        match reply {
            Reply::Status { status, body } => {
                let mut response = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    reason(status),
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(&body);
                if tls.write_all(&response).await.is_err() || tls.flush().await.is_err() || close {
                    return;
                }
            }
            Reply::Hang => core::future::pending::<()>().await,
            // (`Delayed` was unwrapped above.)
            Reply::Reset | Reply::Delayed { .. } => {
                let _ = tls.get_ref().0.set_zero_linger();
                return;
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` at end of stream or on garbage.
async fn read_request(
    tls: &mut tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    buffer: &mut Vec<u8>,
) -> Option<RecordedRequest> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD || !read_more(tls, buffer).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(Some(0), |(_, value)| value.parse().ok())?;
    if length > MAX_BODY {
        return None;
    }
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if !read_more(tls, buffer).await {
            return None;
        }
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.clone(), None),
    };
    Some(RecordedRequest {
        method,
        target,
        path,
        query,
        headers,
        body,
    })
}

async fn read_more(
    tls: &mut tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    buffer: &mut Vec<u8>,
) -> bool {
    let mut chunk = [0u8; 4096];
    match tls.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

const fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
