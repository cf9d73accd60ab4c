//! One HTTPS exchange: verified TLS (rustls, `ring`), HTTP/1.1 with pooled connections, a
//! request body wiped when dropped, a bounded response body, one time limit.

use alloc::sync::Arc;
use core::{error::Error as StdError, fmt};

use alb_proxy::{ProxyConnector, SecretBody};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::{
    HeaderMap, Request, Uri,
    body::{Body, Bytes},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::{
    config::{ConfigError, DepConfig},
    error::DepError,
};

/// A response as read: status, headers, the whole (bounded) body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The HTTP client, shared by every request of a [`DepClient`](crate::DepClient).
#[derive(Clone)]
pub(crate) struct Transport {
    http: Client<HttpsConnector<ProxyConnector>, SecretBody>,
    config: Arc<DepConfig>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// TLS 1.2/1.3 with the `ring` provider (no process-wide default), the configured roots,
    /// HTTPS only, HTTP/1.1, no Nagle, the connect time-out.
    pub(crate) fn new(config: Arc<DepConfig>) -> Result<Self, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(config.roots.store()?)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(config.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(ProxyConnector::new(tcp, &config.proxy));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(config.max_idle_connections)
            .build(connector);
        Ok(Self { http, config })
    }

    /// Sends `request` and reads the whole answer within the request time-out.
    pub(crate) async fn exchange(
        &self,
        endpoint: &'static str,
        request: Request<SecretBody>,
    ) -> Result<Answer, DepError> {
        let limit = self.config.request_timeout;
        match tokio::time::timeout(limit, self.exchange_unbounded(endpoint, request)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(DepError::Timeout { endpoint, limit }),
        }
    }

    async fn exchange_unbounded(
        &self,
        endpoint: &'static str,
        request: Request<SecretBody>,
    ) -> Result<Answer, DepError> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|error| transport_failure(endpoint, &error))?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let limit = self.config.max_body_bytes;
        if body
            .size_hint()
            .exact()
            .is_some_and(|len| len > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(DepError::BodyTooLarge { endpoint, limit });
        }
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|error| {
                if error.downcast_ref::<LengthLimitError>().is_some() {
                    DepError::BodyTooLarge { endpoint, limit }
                } else {
                    transport_failure(endpoint, &*error)
                }
            })?
            .to_bytes();
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
        })
    }
}

/// A request for `uri` with these headers and body (builder errors are connection-level).
pub(crate) fn build_request(
    endpoint: &'static str,
    builder: hyper::http::request::Builder,
    uri: Uri,
    body: SecretBody,
) -> Result<Request<SecretBody>, DepError> {
    builder
        .uri(uri)
        .body(body)
        .map_err(|error| DepError::Connection {
            endpoint,
            message: format!("cannot build the request: {error}"),
        })
}

/// Classifies a client error: any rustls error in its chain (sources, and errors wrapped in
/// `io::Error`s, as hyper-rustls wraps them) makes it a TLS failure.
fn transport_failure(endpoint: &'static str, error: &(dyn StdError + 'static)) -> DepError {
    let mut message = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(inner) = source {
        depth += 1;
        if depth > 16 {
            break;
        }
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    if involves_tls(error, 0) {
        DepError::Tls { endpoint, message }
    } else {
        DepError::Connection { endpoint, message }
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
