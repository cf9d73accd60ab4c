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
    time::SystemTime,
};

use http_body_util::{BodyExt as _, Full, Limited, combinators::BoxBody};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER},
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_rustls::TlsAcceptor;

use super::{RepeatBody, TestPki};
use crate::{
    client::{SESSION_HEADER, SESSION_PATH},
    oauth,
    secret::Secret,
    token::ServerToken,
};

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
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

type Reply = Response<BoxBody<Bytes, Infallible>>;

async fn handle(shared: &Shared, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return text(413, "REQUEST_TOO_LARGE");
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_bytes().to_vec(),
        received_at: tokio::time::Instant::now(),
    };
    {
        let mut state = shared.lock();
        state.request_count += 1;
        if state.requests.len() < MAX_RECORDED {
            state.requests.push(recorded.clone());
        }
    }
    let agent = recorded
        .header("user-agent")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if agent.is_empty() {
        return error(shared, 400, "USER_AGENT_MISSING");
    }
    let refused = shared
        .lock()
        .rejected_agents
        .iter()
        .any(|prefix| agent.starts_with(prefix.as_str()));
    if refused {
        return error(shared, 400, "USER_AGENT_INVALID");
    }
    let scripted = shared
        .lock()
        .scripts
        .get_mut(&recorded.path)
        .and_then(VecDeque::pop_front);
    if let Some(scripted) = scripted {
        return play(scripted).await;
    }
    let host = recorded.header("host").unwrap_or_default().to_owned();
    match (recorded.method.as_str(), recorded.path.as_str()) {
        ("GET", SESSION_PATH) => session(shared, &recorded, &host),
        (_, SESSION_PATH) => error(shared, 405, "METHOD_NOT_ALLOWED"),
        (method, ACTIVATION_LOCK_PATH) => {
            let (session_reply, rotated) = match check_session(shared, &recorded) {
                Ok(rotated) => (None, rotated),
                Err(reply) => (Some(reply), None),
            };
            if let Some(reply) = session_reply {
                return reply;
            }
            let mut reply = if method == "POST" {
                activation_lock(shared, &recorded)
            } else {
                error(shared, 405, "METHOD_NOT_ALLOWED")
            };
            if let Some(rotated) = rotated
                && let Ok(value) = HeaderValue::from_str(&rotated)
            {
                reply.headers_mut().insert(SESSION_HEADER, value);
            }
            reply
        }
        _ => error(shared, 404, "NOT_FOUND"),
    }
}

async fn play(scripted: Scripted) -> Reply {
    if scripted.hang {
        core::future::pending::<()>().await;
    }
    if let Some(delay) = scripted.delay {
        tokio::time::sleep(delay).await;
    }
    let body = match scripted.chunked_len {
        Some(len) => RepeatBody::new(len).boxed(),
        None => Full::new(Bytes::from(scripted.body)).boxed(),
    };
    let mut reply = Response::new(body);
    *reply.status_mut() = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::OK);
    if let Some(value) = scripted
        .retry_after
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        reply.headers_mut().insert(RETRY_AFTER, value);
    }
    if let Some(value) = scripted
        .session
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        reply.headers_mut().insert(SESSION_HEADER, value);
    }
    reply
}

fn text(status: u16, body: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply
}

fn json(value: &serde_json::Value) -> Reply {
    let mut reply = text(200, &value.to_string());
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF8"),
    );
    reply
}

/// An error code in the configured style.
fn error(shared: &Shared, status: u16, code: &str) -> Reply {
    let style = shared.lock().error_style;
    let body = match style {
        ErrorStyle::Bare => code.to_owned(),
        ErrorStyle::JsonString => format!("\"{code}\""),
        ErrorStyle::JsonObject => {
            serde_json::json!({"code": code, "message": "stand-in error"}).to_string()
        }
    };
    text(status, &body)
}

/// `GET /session`: verify OAuth, then issue a session.
fn session(shared: &Shared, request: &RecordedRequest, host: &str) -> Reply {
    if let Err(reason) = verify_oauth(shared, request, host) {
        shared.lock().oauth_rejections.push(reason.clone());
        return text(401, &format!("oauth: {reason}"));
    }
    let (reject, terms, denied) = {
        let state = shared.lock();
        (
            state.reject_tokens,
            state.terms_not_signed,
            state.access_denied,
        )
    };
    if reject {
        return text(401, "UNAUTHORIZED");
    }
    if terms {
        return error(shared, 403, "T_C_NOT_SIGNED");
    }
    if denied {
        return error(shared, 403, "ACCESS_DENIED");
    }
    let mut state = shared.lock();
    state.authentications += 1;
    let token = new_session(&mut state, &shared.session_prefix);
    drop(state);
    json(&serde_json::json!({ "auth_session_token": token }))
}

fn new_session(state: &mut State, prefix: &str) -> String {
    state.next_session += 1;
    let token = format!("{prefix}-{:06}-{}", state.next_session, random_hex(8));
    state.sessions.insert(token.clone(), 0);
    token
}

fn verify_oauth(shared: &Shared, request: &RecordedRequest, host: &str) -> Result<(), String> {
    let header = request
        .header("authorization")
        .ok_or("no Authorization header")?;
    let params = oauth::parse_authorization(header).map_err(|error| error.to_string())?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if get("realm") != Some(oauth::REALM) {
        return Err(format!("realm {:?}", get("realm")));
    }
    if get("oauth_signature_method") != Some(oauth::SIGNATURE_METHOD) {
        return Err("signature method is not HMAC-SHA1".to_owned());
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err("version is not 1.0".to_owned());
    }
    let token = &shared.token;
    let key_ok = get("oauth_consumer_key").is_some_and(|k| k == token.consumer_key());
    let token_ok = get("oauth_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(token.access_token().expose().as_bytes())));
    if !(key_ok && token_ok) {
        return Err("unknown consumer key or token".to_owned());
    }
    let timestamp: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("no timestamp")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let window = i64::try_from(shared.lock().window.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > window.unsigned_abs() {
        return Err("timestamp outside the window".to_owned());
    }
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or("empty nonce")?;
    let nonce_key = format!("{timestamp}:{nonce}");
    if shared.lock().nonces.contains(&nonce_key) {
        return Err("nonce reused".to_owned());
    }
    let uri: hyper::Uri = format!("https://{host}{}", request.path)
        .parse()
        .map_err(|_| "bad Host header")?;
    let signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(name, _)| name != "realm" && name != "oauth_signature")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let base = oauth::signature_base_string(&request.method, &uri, &signed);
    let expected = oauth::hmac_sha1_signature(
        &base,
        token.consumer_secret().expose(),
        token.access_secret().expose(),
    );
    let given = get("oauth_signature").unwrap_or_default();
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err("bad signature".to_owned());
    }
    shared.lock().nonces.insert(nonce_key);
    Ok(())
}

/// Checks the session of a call; `Ok(Some(new))` when it rotated.
fn check_session(shared: &Shared, request: &RecordedRequest) -> Result<Option<String>, Reply> {
    let mut state = shared.lock();
    if state.terms_not_signed {
        drop(state);
        return Err(error(shared, 403, "T_C_NOT_SIGNED"));
    }
    let token = request
        .header(SESSION_HEADER)
        .unwrap_or_default()
        .to_owned();
    let rotate_every = state.rotate_every;
    let known = !state.reject_tokens && state.sessions.contains_key(&token);
    if token.is_empty() || !known {
        drop(state);
        return Err(text(401, "UNAUTHORIZED"));
    }
    let count = state.sessions.get_mut(&token).map_or(0, |count| {
        *count += 1;
        *count
    });
    if let Some(every) = rotate_every
        && count % every == 0
    {
        state.sessions.remove(&token);
        return Ok(Some(new_session(&mut state, &shared.session_prefix)));
    }
    Ok(None)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockBody {
    device: String,
    escrow_key: Option<String>,
    lost_message: Option<String>,
}

/// `POST /device/activationlock`: first lock wins; a per-serial status overrides.
fn activation_lock(shared: &Shared, request: &RecordedRequest) -> Reply {
    let json_type = request
        .header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    let Ok(body) = serde_json::from_slice::<LockBody>(&request.body) else {
        return error(shared, 400, "MALFORMED_REQUEST_BODY");
    };
    let hex_key = body
        .escrow_key
        .as_deref()
        .is_none_or(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()));
    if !json_type || body.device.is_empty() || !hex_key || body.lost_message.as_deref() == Some("")
    {
        return error(shared, 400, "MALFORMED_REQUEST_BODY");
    }
    let mut state = shared.lock();
    if let Some(key) = &body.escrow_key {
        state
            .escrow_keys
            .entry(body.device.clone())
            .or_default()
            .push(key.clone());
    }
    let status = match state.statuses.get(&body.device) {
        Some(status) => status.clone(),
        None => {
            let wanted = body
                .escrow_key
                .clone()
                .map_or(Lock::WithoutEscrowKey, Lock::EscrowKey);
            match state.locks.get(&body.device) {
                Some(existing) if *existing == wanted => "SUCCESS".to_owned(),
                Some(_) => "DEVICE_ALREADY_LOCKED".to_owned(),
                None => {
                    state.locks.insert(body.device.clone(), wanted);
                    "SUCCESS".to_owned()
                }
            }
        }
    };
    drop(state);
    json(&serde_json::json!({ "serial_number": body.device, "response_status": status }))
}
