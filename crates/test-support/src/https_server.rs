//! [`RecordingServer`]: a loopback HTTPS server that requires client certificates (from a
//! [`TestPki`]), answers from a script of [`Reply`]s or a responder, and records every request;
//! or the same over plain HTTP ([`RecordingServer::start_plain`]).

use alloc::{collections::VecDeque, sync::Arc};
use core::{
    fmt::{self, Write as _},
    net::SocketAddr,
    sync::atomic::{AtomicUsize, Ordering},
};
use std::{
    io,
    sync::{Mutex, PoisonError},
};

use rustls::ServerConfig;
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};
use tokio_rustls::TlsAcceptor;

use crate::TestPki;

/// The path of Apple's endpoint, which the recording server's [`url`](RecordingServer::url) uses.
pub const UNLOCK_PATH: &str = "/deviceservicesworkers/escrowKeyUnlock";
/// The largest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the server reads.
const MAX_BODY: usize = 1024 * 1024;
/// How many requests the server keeps (it counts them all).
pub const MAX_RECORDED: usize = 10_000;

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
    /// Answer with this status, these headers and this body (`Content-Length` set; a
    /// `Content-Type` among the headers replaces the default `text/plain`).
    WithHeaders {
        /// The HTTP status code.
        status: u16,
        /// Extra headers, name and value.
        headers: Vec<(String, String)>,
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

    /// A status with a JSON body (`Content-Type: application/json`).
    #[must_use]
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::WithHeaders {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.into(),
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
    scheme: &'static str,
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
        let (listener, addr, shared) = bind(script).await?;
        let acceptor = TlsAcceptor::from(config);
        let task = tokio::spawn(serve(listener, Some(acceptor), Arc::clone(&shared)));
        Ok(Self {
            addr,
            scheme: "https",
            shared,
            task,
        })
    }

    /// Starts on `127.0.0.1` (a free port) speaking plain HTTP/1.1, without TLS (a stand-in for
    /// a server such as NanoMDM, which listens on plain HTTP by default).
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start_plain(script: impl IntoIterator<Item = Reply>) -> io::Result<Self> {
        let (listener, addr, shared) = bind(script).await?;
        let task = tokio::spawn(serve(listener, None, Arc::clone(&shared)));
        Ok(Self {
            addr,
            scheme: "http",
            shared,
            task,
        })
    }

    /// The socket address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/deviceservicesworkers/escrowKeyUnlock` (`http://` for a
    /// [plain](Self::start_plain) server).
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}{UNLOCK_PATH}", self.base_url())
    }

    /// `https://127.0.0.1:PORT` (`http://` for a [plain](Self::start_plain) server), no path.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
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

    /// TLS sessions (plain connections, for a [plain](Self::start_plain) server) established so
    /// far.
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

async fn bind(
    script: impl IntoIterator<Item = Reply>,
) -> io::Result<(TcpListener, SocketAddr, Arc<Shared>)> {
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
    Ok((listener, addr, shared))
}

async fn serve(listener: TcpListener, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
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
            let Some(acceptor) = acceptor else {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                serve_connection(tcp, &shared, |tcp| tcp).await;
                return;
            };
            match acceptor.accept(tcp).await {
                Ok(tls) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    serve_connection(tls, &shared, |tls| tls.get_ref().0).await;
                }
                Err(_) => {
                    shared.handshake_failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut tls: S,
    shared: &Shared,
    tcp_of: fn(&S) -> &TcpStream,
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
                let response = response_bytes(status, &[], &body);
                if tls.write_all(&response).await.is_err() || tls.flush().await.is_err() || close {
                    return;
                }
            }
            Reply::WithHeaders {
                status,
                headers,
                body,
            } => {
                let response = response_bytes(status, &headers, &body);
                if tls.write_all(&response).await.is_err() || tls.flush().await.is_err() || close {
                    return;
                }
            }
            Reply::Hang => core::future::pending::<()>().await,
            // (`Delayed` was unwrapped above.)
            Reply::Reset | Reply::Delayed { .. } => {
                let _ = tcp_of(&tls).set_zero_linger();
                return;
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` at end of stream or on garbage.
/// The response head (status line, `Content-Type`, `Content-Length`, `headers`) and body.
fn response_bytes(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: text/plain\r\n");
    }
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    response
}

async fn read_request(
    tls: &mut (impl AsyncRead + Unpin),
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

async fn read_more(tls: &mut (impl AsyncRead + Unpin), buffer: &mut Vec<u8>) -> bool {
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
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
