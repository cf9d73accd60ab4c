//! The mutual-TLS HTTPS client that sends unlock requests, retries and falls back.

use alloc::sync::Arc;
use core::{error::Error as StdError, fmt, time::Duration};

use alb_proxy::ProxyConnector;
use bypass_code::BypassCode;
use http_body_util::BodyExt as _;
use hyper::{
    Method, Request,
    header::{CONTENT_TYPE, HeaderValue, USER_AGENT},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use rustls::{ConfigBuilder, client::WantsClientCert};
use tokio::time::Instant;

use alb_proxy::SecretBody;

use crate::{
    config::{ConfigError, EscrowConfig},
    excerpt::BodyExcerpt,
    identity::Identity,
    outcome::{
        AttemptReport, AttemptResult, CodeSource, CodeVerdict, StatusClass, TransportFailure,
        UnlockOutcome, Verdict,
    },
    relay::{NanoMdmRelay, RelayRoute},
    request::UnlockRequest,
};

/// The form content type Apple (and NanoMDM) requires.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
/// What the client calls itself.
const AGENT: &str = concat!("escrow-client/", env!("CARGO_PKG_VERSION"));
/// The latest instant the client computes: about thirty years ahead, which no deadline reaches.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `now + after`, saturated to [`FAR_FUTURE`]: a caller's huge `Duration` (`Duration::MAX`, or
/// `1e19` seconds from a command line) means "no limit", never an overflow panic.
fn instant_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after.min(FAR_FUTURE))
        .unwrap_or(now + Duration::from_secs(86_400))
}

/// Sends escrow-key unlock requests over mutual TLS, with the MDM server's APNs identity
/// ([`new`](Self::new)), or through a NanoMDM server that holds that identity
/// ([`through_nanomdm`](Self::through_nanomdm)): only the exchange differs, the retries,
/// fallback, deadline and outcome are the same.
///
/// Cheap to clone (connections are pooled and shared, so retries and the next code reuse the
/// connection when the server keeps it open).
#[derive(Clone)]
pub struct EscrowClient {
    http: Client<HttpsConnector<ProxyConnector>, SecretBody>,
    config: Arc<EscrowConfig>,
    relay: Option<Arc<RelayRoute>>,
}

impl fmt::Debug for EscrowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EscrowClient")
            .field("config", &self.config)
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl EscrowClient {
    /// Builds a client: TLS 1.2/1.3 with the `ring` provider (no process-wide default needed),
    /// the configured roots, this identity as client certificate, HTTPS only, HTTP/1.1.
    ///
    /// # Errors
    /// An invalid setting or a TLS configuration rustls refuses.
    pub fn new(config: EscrowConfig, identity: &Identity) -> Result<Self, ConfigError> {
        config.validate()?;
        let tls = tls_builder(&config)?.with_client_cert_resolver(identity.resolver());
        Ok(Self::assemble(config, tls, None))
    }

    /// Builds a client that asks NanoMDM to send the unlock request (INTEGRATION.md §3):
    /// `POST {url}/v1/escrowkeyunlock`, the form NanoMDM reads (`topic`, the device fields,
    /// `orgName`, `guid`, `escrowKey`), HTTP Basic authentication `nanomdm`:API key. NanoMDM
    /// holds the push certificate and passes Apple's status and body back, so they are
    /// classified as Apple's are; a `401` is NanoMDM refusing the key
    /// ([`StatusClass::RelayUnauthorized`](crate::StatusClass::RelayUnauthorized): not retried,
    /// no other code tried).
    ///
    /// No client certificate. For an `https://` URL the server is checked against
    /// `config.roots`; `config.proxy` applies as for Apple's endpoint; `config.endpoint` is not
    /// used.
    ///
    /// # Errors
    /// An invalid setting, URL (not `http://` or `https://`, no host, a query, credentials in
    /// it), an empty key or topic, or a TLS configuration rustls refuses.
    pub fn through_nanomdm(config: EscrowConfig, relay: NanoMdmRelay) -> Result<Self, ConfigError> {
        config.validate()?;
        let route = RelayRoute::new(relay)?;
        let tls = tls_builder(&config)?.with_no_client_auth();
        Ok(Self::assemble(config, tls, Some(route)))
    }

    fn assemble(
        config: EscrowConfig,
        tls: rustls::ClientConfig,
        relay: Option<RelayRoute>,
    ) -> Self {
        // No Nagle: the request is small and latency-bound (head and body may be separate
        // TLS records; with Nagle and delayed ACKs that costs ~40 ms per request).
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        // Plain HTTP only towards a NanoMDM given as `http://`; Apple is always HTTPS.
        let builder = if relay.as_ref().is_some_and(|relay| !relay.https) {
            builder.https_or_http()
        } else {
            builder.https_only()
        };
        let connector = builder
            .enable_http1()
            .wrap_connector(ProxyConnector::new(tcp, &config.proxy));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            http,
            config: Arc::new(config),
            relay: relay.map(Arc::new),
        }
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &EscrowConfig {
        &self.config
    }

    /// Tries one code, with retries of retryable failures.
    pub async fn unlock(&self, request: &UnlockRequest, code: &BypassCode) -> UnlockOutcome {
        self.unlock_with_fallback(request, &[(CodeSource::Supplied(1), code)])
            .await
    }

    /// Tries the codes in order (usually the device's code, then the server's), moving on to the
    /// next whenever one ends without unlocking — refused (`404`), malformed (`400`), an
    /// unexpected status, a TLS failure, or the service unavailable after the retries — and
    /// stopping at the first that unlocks (or at a NanoMDM relay's `401`: the key, not the
    /// code, was refused). Every exchange is reported, and every code tried
    /// keeps its own verdict ([`UnlockOutcome::codes`]).
    ///
    /// Time: the overall deadline is shared fairly, so a code that keeps failing cannot take
    /// the time of the codes after it: each code may use the time left divided by the number
    /// of codes left (a code that ends early leaves its time to the next).
    pub async fn unlock_with_fallback(
        &self,
        request: &UnlockRequest,
        codes: &[(CodeSource, &BypassCode)],
    ) -> UnlockOutcome {
        self.unlock_with_observer(request, codes, |_| {}).await
    }

    /// [`unlock_with_fallback`](Self::unlock_with_fallback), calling `on_attempt` as soon as
    /// each exchange ends — to write an audit trail that survives a crash mid-way.
    pub async fn unlock_with_observer(
        &self,
        request: &UnlockRequest,
        codes: &[(CodeSource, &BypassCode)],
        mut on_attempt: impl FnMut(&AttemptReport) + Send,
    ) -> UnlockOutcome {
        let deadline = instant_after(self.config.deadline);
        let mut attempts = Vec::new();
        let mut verdicts = Vec::with_capacity(codes.len());
        for (index, &(source, code)) in codes.iter().enumerate() {
            let left = u32::try_from(codes.len() - index).unwrap_or(u32::MAX);
            let share = deadline.saturating_duration_since(Instant::now()) / left;
            let code_deadline = instant_after(share).min(deadline);
            let verdict = self
                .try_code(
                    request,
                    source,
                    code,
                    code_deadline,
                    &mut attempts,
                    &mut on_attempt,
                )
                .await;
            verdicts.push(CodeVerdict {
                code: source,
                verdict,
            });
            if verdict.is_unlocked() || matches!(verdict, Verdict::RelayUnauthorized { .. }) {
                break;
            }
        }
        let outcome = UnlockOutcome::from_codes(verdicts, attempts);
        tracing::info!(verdict = %outcome.verdict, "escrow unlock finished");
        outcome
    }

    /// Tries one code, retrying retryable failures until `deadline`; returns its verdict.
    async fn try_code(
        &self,
        request: &UnlockRequest,
        source: CodeSource,
        code: &BypassCode,
        deadline: Instant,
        attempts: &mut Vec<AttemptReport>,
        on_attempt: &mut (impl FnMut(&AttemptReport) + Send),
    ) -> Verdict {
        let policy = self.config.retry;
        let mut try_number = 0;
        loop {
            try_number += 1;
            let now = Instant::now();
            if now >= deadline {
                return Verdict::DeadlineExceeded { code: source };
            }
            let limit = self.config.attempt_timeout.min(deadline - now);
            let started = Instant::now();
            let result = match tokio::time::timeout(limit, self.exchange(request, code)).await {
                Ok(result) => result,
                Err(_elapsed) => AttemptResult::TimedOut { limit },
            };
            let duration = started.elapsed();
            log_attempt(source, try_number, &result, duration);
            let retryable = result.is_retryable();
            let final_verdict = match &result {
                AttemptResult::Response { class, status, .. } => match class {
                    StatusClass::Unlocked => Verdict::Unlocked { code: source },
                    StatusClass::NotFound => Verdict::Rejected { code: source },
                    StatusClass::BadRequest => Verdict::BadRequest { code: source },
                    StatusClass::Unexpected => Verdict::UnexpectedStatus {
                        code: source,
                        status: *status,
                    },
                    StatusClass::Retryable => Verdict::Unavailable { code: source },
                    StatusClass::RelayUnauthorized => Verdict::RelayUnauthorized { code: source },
                },
                AttemptResult::Transport {
                    failure: TransportFailure::Tls,
                    ..
                } => Verdict::TlsFailure { code: source },
                AttemptResult::TimedOut { .. } | AttemptResult::Transport { .. } => {
                    Verdict::Unavailable { code: source }
                }
            };
            let report = AttemptReport {
                code: source,
                try_number,
                result,
                duration,
            };
            on_attempt(&report);
            attempts.push(report);
            if !retryable || try_number >= policy.max_tries {
                return final_verdict;
            }
            if Instant::now() >= deadline {
                return Verdict::DeadlineExceeded { code: source };
            }
            let wait = policy.backoff(try_number, getrandom::u64().unwrap_or(0));
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                return Verdict::DeadlineExceeded { code: source };
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP exchange, without time limit (the caller sets it).
    async fn exchange(&self, request: &UnlockRequest, code: &BypassCode) -> AttemptResult {
        let http_request = match &self.relay {
            Some(relay) => relay
                .request(request, code, AGENT)
                .map_err(|error| format!("cannot build the request: {error}")),
            None => self.apple_request(request, code),
        };
        let http_request = match http_request {
            Ok(http_request) => http_request,
            Err(message) => {
                return AttemptResult::Transport {
                    failure: TransportFailure::Connection,
                    message,
                };
            }
        };
        let response = match self.http.request(http_request).await {
            Ok(response) => response,
            Err(error) => return transport_failure(&error),
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut excerpt = BodyExcerpt::new(self.config.max_body_bytes);
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                // The status is what matters; a body cut short is kept as far as it came.
                break;
            };
            if let Some(data) = frame.data_ref()
                && !excerpt.push(data)
            {
                break;
            }
        }
        excerpt.redact_code(code);
        if self.relay.is_some() {
            AttemptResult::from_relay_response(status, excerpt)
        } else {
            AttemptResult::from_response(status, excerpt)
        }
    }

    /// Apple's request: the device fields in the query, the form in the body.
    fn apple_request(
        &self,
        request: &UnlockRequest,
        code: &BypassCode,
    ) -> Result<Request<SecretBody>, String> {
        let uri = self
            .config
            .endpoint
            .with_query(&request.query())
            .map_err(|error| format!("cannot build the request URL: {error}"))?;
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, HeaderValue::from_static(FORM))
            .header(USER_AGENT, HeaderValue::from_static(AGENT))
            .body(SecretBody::new(request.form_body(code)))
            .map_err(|error| format!("cannot build the request: {error}"))
    }
}

/// TLS 1.2/1.3 with the `ring` provider (no process-wide default needed) and the configured
/// roots, before the client certificate is chosen.
fn tls_builder(
    config: &EscrowConfig,
) -> Result<ConfigBuilder<rustls::ClientConfig, WantsClientCert>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(config.roots.store()?))
}

fn log_attempt(source: CodeSource, try_number: u32, result: &AttemptResult, duration: Duration) {
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    match result {
        AttemptResult::Response { status, .. } => tracing::info!(
            code = %source, try_number, status, duration_ms, "escrow unlock attempt answered"
        ),
        other => tracing::warn!(
            code = %source, try_number, result = %other, duration_ms, "escrow unlock attempt failed"
        ),
    }
}

/// Classifies a client error: any rustls error in its chain (sources, and errors wrapped in
/// `io::Error`s, as hyper-rustls and tokio-rustls wrap them) makes it a TLS failure.
fn transport_failure(error: &(dyn StdError + 'static)) -> AttemptResult {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    AttemptResult::Transport {
        failure: if involves_tls(error, 0) {
            TransportFailure::Tls
        } else {
            TransportFailure::Connection
        },
        message,
    }
}

fn involves_tls(error: &(dyn StdError + 'static), depth: u8) -> bool {
    if depth > 16 {
        return false;
    }
    if error.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(wrapped) = io.get_ref()
        && involves_tls(wrapped, depth + 1)
    {
        return true;
    }
    error
        .source()
        .is_some_and(|source| involves_tls(source, depth + 1))
}
