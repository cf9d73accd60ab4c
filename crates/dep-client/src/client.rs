//! The client: one session layer under every endpoint. It authenticates (`GET /session`,
//! OAuth 1.0a), sends each request with the session and the required headers, adopts rotated
//! sessions, re-authenticates once on `401` / `403 FORBIDDEN`, and waits on `429`/`5xx` as
//! `Retry-After` asks, within bounds.

use alloc::sync::Arc;
use core::{fmt, time::Duration};
use std::time::SystemTime;

use hyper::{
    Method, Request,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT},
};
use serde::Deserialize;
use zeroize::Zeroizing;

use alb_proxy::SecretBody;

use crate::{
    config::{ConfigError, DepConfig},
    error::DepError,
    excerpt::{BodyExcerpt, body_has, service_code},
    oauth::{self, OAuthRequest, REALM},
    retry_after::parse_retry_after,
    secret::Secret,
    session::{Current, Session, SessionStats},
    token::ServerToken,
    transport::{Answer, Transport, build_request},
};

/// The session header, in requests and (rotated) in responses.
pub const SESSION_HEADER: &str = "x-adm-auth-session";
/// The protocol version header.
pub const PROTOCOL_VERSION_HEADER: &str = "x-server-protocol-version";
/// The session endpoint.
pub const SESSION_PATH: &str = "/session";
/// The content type of JSON request bodies, as Apple spells it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF8";

const SESSION_ENDPOINT: &str = "GET /session";
/// Re-sends of one request with a session that others replaced while it was in flight.
const MAX_STALE_RESENDS: u32 = 3;

/// One endpoint of the service: its method and path, its JSON body, how its `200` body reads.
/// Every endpoint goes through the same session layer ([`DepClient::send`]).
pub trait DepRequest {
    /// What a `200` answer reads as.
    type Response;
    /// `METHOD /path`, for errors and logs.
    const ENDPOINT: &'static str;
    /// The method.
    const METHOD: Method;
    /// The path under the base URL.
    const PATH: &'static str;

    /// The JSON body (`None` for none), in wiped memory.
    fn body(&self) -> Option<Zeroizing<Vec<u8>>>;

    /// Reads a `200` body.
    ///
    /// # Errors
    /// What is wrong with it (reported as [`DepError::InvalidResponse`]).
    fn parse(&self, body: &[u8]) -> Result<Self::Response, String>;
}

/// A client of the device enrollment service for one MDM server (one server token).
///
/// Cheap to clone and shareable across tasks: clones share the connection pool and the
/// session, so concurrent requests for a list of devices use one session and one
/// authentication.
#[derive(Clone)]
pub struct DepClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    config: Arc<DepConfig>,
    token: ServerToken,
    session: Session,
    user_agent: HeaderValue,
    protocol_version: HeaderValue,
}

impl fmt::Debug for DepClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DepClient")
            .field("consumer_key", &self.inner.token.consumer_key())
            .field("config", &self.inner.config)
            .field("session", &self.inner.session.stats())
            .finish_non_exhaustive()
    }
}

/// What to do after a non-`2xx` answer.
enum Next {
    /// Get a new session and re-send (once).
    Reauthenticate,
    /// Wait this long and re-send.
    Wait(Duration),
    /// Stop with this error.
    Fail(DepError),
}

impl DepClient {
    /// Builds a client for this token. Nothing is sent until the first request.
    ///
    /// # Errors
    /// An invalid setting or a TLS configuration rustls refuses.
    pub fn new(config: DepConfig, token: ServerToken) -> Result<Self, ConfigError> {
        config.validate()?;
        let user_agent = config.user_agent_header()?;
        let protocol_version = HeaderValue::from(config.protocol_version);
        let config = Arc::new(config);
        let transport = Transport::new(Arc::clone(&config))?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                config,
                token,
                session: Session::default(),
                user_agent,
                protocol_version,
            }),
        })
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &DepConfig {
        &self.inner.config
    }

    /// The server token in use.
    #[must_use]
    pub fn token(&self) -> &ServerToken {
        &self.inner.token
    }

    /// What the session layer has done so far.
    #[must_use]
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    /// Authenticates now (`GET /session`) unless a session is already held; later requests
    /// use it. Requests authenticate by themselves: this only moves the cost up front.
    ///
    /// # Errors
    /// As [`send`](Self::send), for `GET /session`.
    pub async fn authenticate(&self) -> Result<(), DepError> {
        self.inner
            .session
            .get(None, || self.new_session())
            .await
            .map(|_| ())
    }

    /// Forgets the session: the next request authenticates again.
    pub fn forget_session(&self) {
        self.inner.session.clear();
    }

    /// Sends one request through the session layer and reads its `200` answer.
    ///
    /// # Errors
    /// The [`DepError`] naming the cause: [`DepError::TokenExpired`] before anything is sent;
    /// typed `401`/`403`/`400` answers; [`DepError::Unavailable`] when `429`/`5xx` did not
    /// clear; time-outs, TLS and connection failures; oversized or malformed bodies.
    pub async fn send<R: DepRequest + Sync>(&self, request: &R) -> Result<R::Response, DepError> {
        let uri =
            self.inner
                .config
                .base_url
                .join(R::PATH)
                .map_err(|error| DepError::Connection {
                    endpoint: R::ENDPOINT,
                    message: format!("cannot build the URL: {error}"),
                })?;
        let body = request.body();
        let mut stale = None;
        let mut reauthenticated = false;
        let mut stale_resends = 0;
        let mut attempt = 0;
        loop {
            let session = self.inner.session.get(stale, || self.new_session()).await?;
            attempt += 1;
            let mut builder = Request::builder().method(R::METHOD);
            builder = self.common_headers(builder);
            builder = builder.header(
                HeaderName::from_static(SESSION_HEADER),
                sensitive(R::ENDPOINT, session.token.expose())?,
            );
            let payload = match &body {
                Some(bytes) => {
                    builder =
                        builder.header(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
                    SecretBody::new(bytes.clone())
                }
                None => SecretBody::empty(),
            };
            let http_request = build_request(R::ENDPOINT, builder, uri.clone(), payload)?;
            let answer = self
                .inner
                .transport
                .exchange(R::ENDPOINT, http_request)
                .await?;
            self.adopt_rotated(&session, &answer);
            tracing::debug!(
                endpoint = R::ENDPOINT,
                status = answer.status,
                attempt,
                "DEP answer"
            );
            if (200..300).contains(&answer.status) {
                return request
                    .parse(&answer.body)
                    .map_err(|reason| DepError::InvalidResponse {
                        endpoint: R::ENDPOINT,
                        reason,
                    });
            }
            // A request sent with a session that another request has since replaced (rotated
            // or renewed) is re-sent with the current one: that is not this request's one
            // re-authentication.
            let replaced = self.inner.session.generation() != session.generation
                && stale_resends < MAX_STALE_RESENDS;
            match self.next_step(R::ENDPOINT, &answer, reauthenticated && !replaced, attempt) {
                Next::Reauthenticate if replaced => {
                    stale_resends += 1;
                    stale = None;
                }
                Next::Reauthenticate => {
                    reauthenticated = true;
                    stale = Some(session.generation);
                    self.inner.session.count_resend();
                }
                Next::Wait(wait) => tokio::time::sleep(wait).await,
                Next::Fail(error) => return Err(error),
            }
        }
    }

    fn common_headers(
        &self,
        builder: hyper::http::request::Builder,
    ) -> hyper::http::request::Builder {
        builder
            .header(USER_AGENT, self.inner.user_agent.clone())
            .header(
                HeaderName::from_static(PROTOCOL_VERSION_HEADER),
                self.inner.protocol_version.clone(),
            )
    }

    fn adopt_rotated(&self, session: &Current, answer: &Answer) {
        if let Some(rotated) = answer
            .headers
            .get(SESSION_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
        {
            self.inner
                .session
                .adopt(session.generation, Secret::from(rotated));
        }
    }

    /// `GET /session` with a freshly signed OAuth header (its own `429`/`5xx` waits apply).
    async fn new_session(&self) -> Result<Secret, DepError> {
        let token = &self.inner.token;
        if token.is_expired() {
            return Err(DepError::TokenExpired {
                expired_at: token.expires_at(),
            });
        }
        let uri = self
            .inner
            .config
            .base_url
            .join(SESSION_PATH)
            .map_err(|error| DepError::Connection {
                endpoint: SESSION_ENDPOINT,
                message: format!("cannot build the URL: {error}"),
            })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = oauth::nonce().map_err(|error| DepError::Random(error.to_string()))?;
            let timestamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            let header = oauth::authorization_header(
                token,
                &OAuthRequest {
                    method: "GET",
                    uri: &uri,
                    timestamp,
                    nonce: &nonce,
                    realm: Some(REALM),
                },
            );
            let builder = self
                .common_headers(Request::builder().method(Method::GET))
                .header(AUTHORIZATION, sensitive(SESSION_ENDPOINT, header.expose())?);
            let http_request =
                build_request(SESSION_ENDPOINT, builder, uri.clone(), SecretBody::empty())?;
            let answer = self
                .inner
                .transport
                .exchange(SESSION_ENDPOINT, http_request)
                .await?;
            if (200..300).contains(&answer.status) {
                return parse_session(&answer.body);
            }
            // A refused authentication is final: re-authenticating is what just failed.
            match self.next_step(SESSION_ENDPOINT, &answer, true, attempt) {
                Next::Wait(wait) => tokio::time::sleep(wait).await,
                Next::Fail(error) => return Err(error),
                Next::Reauthenticate => {
                    return Err(DepError::Unauthorized {
                        endpoint: SESSION_ENDPOINT,
                        body: BodyExcerpt::new(&answer.body),
                    });
                }
            }
        }
    }

    /// What a non-`2xx` answer means for the request.
    fn next_step(
        &self,
        endpoint: &'static str,
        answer: &Answer,
        reauthenticated: bool,
        attempt: u32,
    ) -> Next {
        let body = || BodyExcerpt::new(&answer.body);
        match answer.status {
            401 if !reauthenticated => Next::Reauthenticate,
            401 => Next::Fail(DepError::Unauthorized {
                endpoint,
                body: body(),
            }),
            403 if body_has(&answer.body, "T_C_NOT_SIGNED") => {
                Next::Fail(DepError::TermsNotSigned {
                    endpoint,
                    body: body(),
                })
            }
            403 if body_has(&answer.body, "ACCESS_DENIED") => Next::Fail(DepError::AccessDenied {
                endpoint,
                body: body(),
            }),
            403 if body_has(&answer.body, "FORBIDDEN") && !reauthenticated => Next::Reauthenticate,
            403 => Next::Fail(DepError::Forbidden {
                endpoint,
                body: body(),
            }),
            400 => Next::Fail(DepError::BadRequest {
                endpoint,
                code: service_code(&answer.body),
                body: body(),
            }),
            429 | 500..=599 => self.wait_or_give_up(endpoint, answer, attempt),
            status => Next::Fail(DepError::UnexpectedStatus {
                endpoint,
                status,
                body: body(),
            }),
        }
    }

    /// `Retry-After` is honoured (never re-sent sooner); a wait longer than the policy allows,
    /// or the last attempt, ends the request.
    fn wait_or_give_up(&self, endpoint: &'static str, answer: &Answer, attempt: u32) -> Next {
        let policy = self.inner.config.throttle;
        let retry_after = answer
            .headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let give_up = DepError::Unavailable {
            endpoint,
            status: answer.status,
            retry_after,
            attempts: attempt,
        };
        if attempt >= policy.max_attempts {
            return Next::Fail(give_up);
        }
        let wait = retry_after.unwrap_or_else(|| policy.backoff(attempt));
        if wait > policy.max_wait {
            return Next::Fail(give_up);
        }
        tracing::info!(
            endpoint,
            status = answer.status,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "DEP asks to wait"
        );
        Next::Wait(wait)
    }
}

/// A header value that hyper marks sensitive (never in its debug output).
fn sensitive(endpoint: &'static str, value: &str) -> Result<HeaderValue, DepError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| DepError::InvalidResponse {
        endpoint,
        reason: "a credential is not a valid header value".to_owned(),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// `{"auth_session_token": "..."}`.
fn parse_session(body: &[u8]) -> Result<Secret, DepError> {
    #[derive(Deserialize)]
    struct SessionAnswer {
        auth_session_token: Option<Secret>,
    }
    let answer: SessionAnswer =
        serde_json::from_slice(body).map_err(|error| DepError::InvalidResponse {
            endpoint: SESSION_ENDPOINT,
            reason: format!("not the session JSON: {error}"),
        })?;
    let token = answer
        .auth_session_token
        .ok_or_else(|| DepError::InvalidResponse {
            endpoint: SESSION_ENDPOINT,
            reason: "no auth_session_token".to_owned(),
        })?;
    if token.is_empty() || !token.expose().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DepError::InvalidResponse {
            endpoint: SESSION_ENDPOINT,
            reason: "the auth_session_token is empty or not printable ASCII".to_owned(),
        });
    }
    Ok(token)
}

/// Reads a `GET /session` answer body (exposed for fuzzing): the session token or why not.
///
/// # Errors
/// [`DepError::InvalidResponse`].
pub fn parse_session_answer(body: &[u8]) -> Result<Secret, DepError> {
    parse_session(body)
}
