//! A stand-in for Apple's device enrollment service on loopback HTTPS, behaving as the real
//! one is described to: it verifies the OAuth 1.0a signature, the timestamp window and nonce
//! reuse on `GET /session`, requires a User-Agent, issues and rotates sessions, and answers
//! `POST /device/activationlock` per serial — first lock wins — recording what it received.
//! It can be told to expire sessions (`401`), demand new terms (`403 T_C_NOT_SIGNED`), deny
//! access, refuse agents, and play scripted answers (`429` + `Retry-After`, hangs, huge bodies).

use alloc::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
};
use core::{convert::Infallible, net::SocketAddr, time::Duration};
use std::{
    collections::{HashMap, HashSet},
    io,
    sync::{Mutex, MutexGuard, PoisonError},
};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_rustls::TlsAcceptor;

mod handlers;

use super::TestPki;
use crate::{secret::Secret, token::ServerToken};

/// The activation-lock path.
pub const ACTIVATION_LOCK_PATH: &str = "/device/activationlock";
/// The largest request body the stand-in reads.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// How many requests it keeps (it counts them all).
pub const MAX_RECORDED: usize = 100_000;

/// How error codes are written in bodies (Apple's vary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStyle {
    /// `T_C_NOT_SIGNED`
    #[default]
    Bare,
    /// `"T_C_NOT_SIGNED"`
    JsonString,
    /// `{"code":"T_C_NOT_SIGNED","message":"…"}`
    JsonObject,
}

/// A canned answer, played before the service's own logic for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    /// The status.
    pub status: u16,
    /// The body (`Content-Length` set).
    pub body: Vec<u8>,
    /// A body of this many bytes sent chunked (no `Content-Length`), instead of `body`.
    pub chunked_len: Option<usize>,
    /// A `Retry-After` header.
    pub retry_after: Option<String>,
    /// An `X-ADM-Auth-Session` header.
    pub session: Option<String>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Never answer.
    pub hang: bool,
}

impl Scripted {
    /// This status with this body.
    #[must_use]
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
            chunked_len: None,
            retry_after: None,
            session: None,
            delay: None,
            hang: false,
        }
    }

    /// `429` with `Retry-After: value`.
    #[must_use]
    pub fn throttled(retry_after: &str) -> Self {
        Self::status(429, "TOO_MANY_REQUESTS").with_retry_after(retry_after)
    }

    /// Never answers.
    #[must_use]
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::status(200, "")
        }
    }

    /// Adds a `Retry-After` header.
    #[must_use]
    pub fn with_retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Sends a body of `len` bytes in chunks, without `Content-Length`.
    #[must_use]
    pub const fn chunked(mut self, len: usize) -> Self {
        self.chunked_len = Some(len);
        self
    }
}

/// One request as the stand-in read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Every header, name lower case, value as text (lossy).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub received_at: tokio::time::Instant,
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

/// The lock a device got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// Locked with this escrow key (as sent).
    EscrowKey(String),
    /// Locked without an escrow key: to the person who made the MDM server (what a client
    /// must never cause).
    WithoutEscrowKey,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, u32>,
    next_session: u64,
    nonces: HashSet<String>,
    authentications: u64,
    rotate_every: Option<u32>,
    window: Duration,
    terms_not_signed: bool,
    access_denied: bool,
    reject_tokens: bool,
    error_style: ErrorStyle,
    rejected_agents: Vec<String>,
    scripts: HashMap<String, VecDeque<Scripted>>,
    statuses: HashMap<String, String>,
    locks: BTreeMap<String, Lock>,
    escrow_keys: BTreeMap<String, Vec<String>>,
    requests: Vec<RecordedRequest>,
    request_count: u64,
    oauth_rejections: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    token: ServerToken,
    session_prefix: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stand-in. Stops when dropped.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl core::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts on `127.0.0.1` (a free port) with this PKI's server certificate, accepting a
    /// fresh random server token (see [`token`](Self::token)).
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(pki: &TestPki) -> io::Result<Self> {
        Self::start_with_token(pki, random_token()).await
    }

    /// Starts accepting this token's credentials.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start_with_token(pki: &TestPki, token: ServerToken) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                window: Duration::from_secs(300),
                ..State::default()
            }),
            token,
            session_prefix: format!("SESSION-{}", random_hex(4)),
        });
        let acceptor = TlsAcceptor::from(pki.server_config());
        let task = tokio::spawn(serve(listener, acceptor, Arc::clone(&shared)));
        Ok(Self { addr, shared, task })
    }

    /// `https://127.0.0.1:PORT`: the base URL to configure.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The socket address.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The credentials it accepts.
    #[must_use]
    pub fn token(&self) -> ServerToken {
        self.shared.token.clone()
    }

    /// Forgets every session: the next call with one answers `401`.
    pub fn expire_sessions(&self) {
        self.shared.lock().sessions.clear();
    }

    /// Rotates a session on every `n`th request made with it (the answer carries the new one
    /// in `X-ADM-Auth-Session`; the old one stops working). `None` never rotates.
    pub fn set_rotate_every(&self, n: Option<u32>) {
        self.shared.lock().rotate_every = n.filter(|&n| n > 0);
    }

    /// The accepted clock skew of `oauth_timestamp` (default five minutes).
    pub fn set_timestamp_window(&self, window: Duration) {
        self.shared.lock().window = window;
    }

    /// Every call answers `403 T_C_NOT_SIGNED` while set.
    pub fn set_terms_not_signed(&self, on: bool) {
        self.shared.lock().terms_not_signed = on;
    }

    /// `GET /session` answers `403 ACCESS_DENIED` while set.
    pub fn set_access_denied(&self, on: bool) {
        self.shared.lock().access_denied = on;
    }

    /// `GET /session` answers `401` and sessions stop working while set (a revoked token).
    pub fn set_reject_tokens(&self, on: bool) {
        self.shared.lock().reject_tokens = on;
    }

    /// How error codes are written.
    pub fn set_error_style(&self, style: ErrorStyle) {
        self.shared.lock().error_style = style;
    }

    /// User-Agents starting with this (case-insensitive) get `400 USER_AGENT_INVALID`.
    pub fn reject_user_agent(&self, prefix: &str) {
        self.shared
            .lock()
            .rejected_agents
            .push(prefix.to_ascii_lowercase());
    }

    /// Queues canned answers for a path (`/session`, `/device/activationlock`), played in
    /// order before the service's own logic.
    pub fn script(&self, path: &str, answers: impl IntoIterator<Item = Scripted>) {
        self.shared
            .lock()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .extend(answers);
    }

    /// Answers `status` for this serial from now on (instead of first-lock-wins).
    pub fn set_status(&self, serial: &str, status: &str) {
        self.shared
            .lock()
            .statuses
            .insert(serial.to_owned(), status.to_owned());
    }

    /// Every request received (the first [`MAX_RECORDED`]).
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests received, counted past [`MAX_RECORDED`].
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.shared.lock().request_count
    }

    /// Successful `GET /session` calls.
    #[must_use]
    pub fn authentications(&self) -> u64 {
        self.shared.lock().authentications
    }

    /// Why `GET /session` calls were refused (`bad signature`, `nonce reused`…).
    #[must_use]
    pub fn oauth_rejections(&self) -> Vec<String> {
        self.shared.lock().oauth_rejections.clone()
    }

    /// Every escrow key received, per serial, in order.
    #[must_use]
    pub fn escrow_keys(&self) -> BTreeMap<String, Vec<String>> {
        self.shared.lock().escrow_keys.clone()
    }

    /// The locks in place, per serial.
    #[must_use]
    pub fn locks(&self) -> BTreeMap<String, Lock> {
        self.shared.lock().locks.clone()
    }
}

/// A random token of the portal's shape, valid for a year.
#[must_use]
pub fn random_token() -> ServerToken {
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let expiry = expiry.replace_nanosecond(0).unwrap_or(expiry);
    ServerToken::new(
        format!("CK_{}", random_hex(16)),
        Secret::new(format!("CS_{}", random_hex(20))),
        Secret::new(format!("AT_{}", random_hex(24))),
        Secret::new(format!("AS_{}", random_hex(20))),
        expiry,
    )
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    let _ = getrandom::fill(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handlers::handle(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
