//! The client of NanoMDM's command API: enqueue a command for enrollment ids, or push them.

use alloc::sync::Arc;
use core::{error::Error as StdError, fmt, time::Duration};

use alb_proxy::{ProxyConnector, SecretBody};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use hyper::{
    Method, Request, StatusCode,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::{
    api_key::ApiKey,
    config::{NanoMdmConfig, NanoMdmConfigError},
    error::NanoMdmError,
    reply::{EnqueueReply, PushReply},
    text::{shown, shown_up_to},
};

/// The largest reply body read, in bytes.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// How many characters of an unexpected body an error shows.
const EXCERPT_CHARS: usize = 512;
/// What the client calls itself.
const AGENT: &str = concat!("alb-nanomdm/", env!("CARGO_PKG_VERSION"));
/// Every byte but the unreserved ones of RFC 3986 is percent-encoded in an id.
const ID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Calls NanoMDM's API (`/v1/enqueue`, `/v1/push`) with HTTP Basic authentication.
///
/// Cheap to clone; clones share one pool of connections. `http://` and `https://` are both
/// accepted (NanoMDM serves plain HTTP, usually behind a TLS proxy).
#[derive(Clone)]
pub struct NanoMdmClient {
    http: Client<HttpsConnector<ProxyConnector>, SecretBody>,
    base: Arc<str>,
    api_key: Arc<ApiKey>,
    timeout: Duration,
}

impl fmt::Debug for NanoMdmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NanoMdmClient")
            .field("url", &self.base)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NanoMdmClient {
    /// Builds a client: TLS 1.2/1.3 with the `ring` provider for `https://`, HTTP/1.1, pooled
    /// connections, the configured proxy.
    ///
    /// # Errors
    /// An invalid URL, an empty key, a zero time limit, a CA PEM without a certificate, or a
    /// TLS configuration rustls refuses.
    pub fn new(config: NanoMdmConfig) -> Result<Self, NanoMdmConfigError> {
        let base = config.base_url()?;
        if config.api_key.is_empty() {
            return Err(NanoMdmConfigError::EmptyApiKey);
        }
        if config.timeout.is_zero() {
            return Err(NanoMdmConfigError::ZeroTimeout);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(config.roots()?)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(ProxyConnector::new(tcp, &config.proxy));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            http,
            base: base.into(),
            api_key: Arc::new(config.api_key),
            timeout: config.timeout,
        })
    }

    /// Queues a command (the raw property list) for each id: `PUT /v1/enqueue/{id,...}`, with
    /// `?nopush=1` when `push` is false.
    ///
    /// `Ok` when NanoMDM answered with its result object and a 2xx status: 200 when all
    /// succeeded, 207 when some ids failed (see [`EnqueueReply::failed_ids`]).
    ///
    /// # Errors
    /// No ids or an id that cannot be sent, [`NanoMdmError::AllFailed`] when NanoMDM reports
    /// the whole call failed, a refused key, another status, an unreadable or oversized reply,
    /// the time limit, or the connection.
    pub async fn enqueue(
        &self,
        ids: &[&str],
        command_plist: &[u8],
        push: bool,
    ) -> Result<EnqueueReply, NanoMdmError> {
        let query = if push { "" } else { "?nopush=1" };
        let uri = self.uri("enqueue", ids, query)?;
        // The command may carry a secret (`ClearPasscode`'s unlock token): its copy is wiped.
        let body = SecretBody::new(Zeroizing::new(command_plist.to_vec()));
        self.call(Method::PUT, uri, body).await
    }

    /// Sends a push notification to each id without queueing: `GET /v1/push/{id,...}`.
    ///
    /// # Errors
    /// As [`enqueue`](Self::enqueue).
    pub async fn push(&self, ids: &[&str]) -> Result<PushReply, NanoMdmError> {
        let uri = self.uri("push", ids, "")?;
        self.call(Method::GET, uri, SecretBody::empty()).await
    }

    /// `{base}/v1/{endpoint}/{ids, percent-encoded, comma-separated}{query}`.
    fn uri(&self, endpoint: &str, ids: &[&str], query: &str) -> Result<String, NanoMdmError> {
        if ids.is_empty() {
            return Err(NanoMdmError::NoIds);
        }
        let mut uri = format!("{}/v1/{endpoint}/", self.base);
        for (index, id) in ids.iter().enumerate() {
            let reason = if id.is_empty() {
                Some("it is empty")
            } else if id.contains(',') {
                Some("it contains a comma (NanoMDM separates ids with commas)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(NanoMdmError::InvalidId {
                    id: shown(id),
                    reason,
                });
            }
            if index > 0 {
                uri.push(',');
            }
            uri.extend(utf8_percent_encode(id, ID_ENCODE));
        }
        uri.push_str(query);
        Ok(uri)
    }

    /// One exchange within the time limit, its reply read and classified.
    async fn call(
        &self,
        method: Method,
        uri: String,
        body: SecretBody,
    ) -> Result<EnqueueReply, NanoMdmError> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(USER_AGENT, HeaderValue::from_static(AGENT))
            .header(AUTHORIZATION, self.authorization()?);
        if !hyper::body::Body::is_end_stream(&body) {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        }
        let request = request.body(body).map_err(|error| NanoMdmError::Request {
            reason: error.to_string(),
        })?;
        let limit = self.timeout;
        let (status, body, truncated) = tokio::time::timeout(limit, self.exchange(request))
            .await
            .map_err(|_elapsed| NanoMdmError::Timeout { limit })??;
        tracing::debug!(status, bytes = body.len(), "NanoMDM answered");
        classify(status, &body, truncated)
    }

    /// Sends the request; reads at most [`MAX_REPLY_BYTES`] of the body (and whether more
    /// followed).
    async fn exchange(
        &self,
        request: Request<SecretBody>,
    ) -> Result<(u16, Vec<u8>, bool), NanoMdmError> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|error| transport(&error))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| transport(&error))?;
            if let Some(data) = frame.data_ref() {
                let room = MAX_REPLY_BYTES - bytes.len();
                if data.len() > room {
                    bytes.extend_from_slice(data.get(..room).unwrap_or_default());
                    return Ok((status, bytes, true));
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok((status, bytes, false))
    }

    /// `Basic base64("nanomdm:" + key)`, built in wiped buffers, marked sensitive.
    fn authorization(&self) -> Result<HeaderValue, NanoMdmError> {
        let mut credentials =
            Zeroizing::new(String::with_capacity(8 + self.api_key.expose().len()));
        credentials.push_str("nanomdm:");
        credentials.push_str(self.api_key.expose());
        let mut header = Zeroizing::new(String::from("Basic "));
        base64::engine::general_purpose::STANDARD
            .encode_string(credentials.as_bytes(), &mut header);
        let mut value = HeaderValue::from_str(&header).map_err(|_| NanoMdmError::Request {
            reason: "the API key cannot be sent in a header".to_owned(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Maps a status and body to the reply or the error.
fn classify(status: u16, body: &[u8], truncated: bool) -> Result<EnqueueReply, NanoMdmError> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == StatusCode::UNAUTHORIZED {
        return Err(NanoMdmError::Unauthorized);
    }
    if code.is_success() {
        if truncated {
            return Err(NanoMdmError::ReplyTooLarge {
                status,
                limit: MAX_REPLY_BYTES,
            });
        }
        return EnqueueReply::from_json(body, status).map_err(|error| NanoMdmError::BadReply {
            status,
            reason: shown(&error.to_string()),
        });
    }
    if code == StatusCode::INTERNAL_SERVER_ERROR
        && !truncated
        && let Ok(reply) = EnqueueReply::from_json(body, status)
        && reply.any_error()
    {
        return Err(NanoMdmError::AllFailed {
            status,
            reply: Box::new(reply),
        });
    }
    let mut excerpt = shown_up_to(&String::from_utf8_lossy(body), EXCERPT_CHARS);
    if truncated && !excerpt.ends_with('…') {
        excerpt.push('…');
    }
    Err(NanoMdmError::Status { status, excerpt })
}

/// A client error with its causes, for a message.
fn transport(error: &(dyn StdError + 'static)) -> NanoMdmError {
    let mut message = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(inner) = source
        && depth < 16
    {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
        depth += 1;
    }
    NanoMdmError::Transport {
        message: shown_up_to(&message, EXCERPT_CHARS),
    }
}
