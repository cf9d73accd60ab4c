//! The HTTP side: accepting connections (plain, or TLS), bounding each request (headers, body
//! size and time, concurrency), and draining in-flight requests on shutdown.

use alloc::sync::Arc;
use core::future::Future;
use std::{io, path::Path};

use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, body::Bytes, body::Incoming, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::net::TcpListener;

use crate::{ApiError, service::Answer, service::Call, service::State};

/// Why the TLS files were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file holds no PEM certificate, or cannot be read.
    #[error("{path}: no PEM certificate ({reason})")]
    Certificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file holds no PEM private key, or cannot be read.
    #[error("{path}: no PEM private key ({reason})")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The certificate and key do not make a TLS configuration.
    #[error("the certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS server configuration from a PEM certificate chain and private key.
///
/// # Errors
/// [`TlsError`] naming the file.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let name = |p: &Path| printable::Escaped(&p.display().to_string()).to_string();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect)
        .map_err(|e| TlsError::Certificate {
            path: name(cert),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: name(cert),
            reason: "the file holds none".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: name(key),
        reason: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

type Body = Full<Bytes>;

fn respond(answer: Answer) -> Response<Body> {
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = hyper::header::HeaderValue::from_str(answer.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// One request: its slot, its body within bounds, its route.
async fn handle<S: code_store::CodeStore + 'static>(
    state: Arc<State<S>>,
    slots: Arc<tokio::sync::Semaphore>,
    request: Request<Incoming>,
) -> Result<Response<Body>, core::convert::Infallible> {
    let Ok(_slot) = slots.acquire().await else {
        return Ok(respond(
            ApiError::new(503, "shutting_down", "the service is shutting down").into(),
        ));
    };
    let limits = state.config.limits;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        respond(
            ApiError::new(
                413,
                "too_large",
                format!("the body is over {} bytes", limits.max_body),
            )
            .into(),
        )
    };
    if declared.is_some_and(|n| n > u64::try_from(limits.max_body).unwrap_or(u64::MAX)) {
        return Ok(too_large());
    }
    let body = match tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body).collect(),
    )
    .await
    {
        Err(_) => {
            return Ok(respond(
                ApiError::new(
                    408,
                    "body_timeout",
                    format!("the body did not arrive within {:?}", limits.body_timeout),
                )
                .into(),
            ));
        }
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(too_large());
        }
        Ok(Err(error)) => {
            return Ok(respond(
                ApiError::new(400, "bad_body", format!("the body: {error}")).into(),
            ));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let call = Call {
        method: &parts.method,
        path: parts.uri.path(),
        authorization: parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .map(hyper::header::HeaderValue::as_bytes),
        body: &body,
    };
    Ok(respond(state.route(call).await))
}

/// Accepts connections on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish (within the drain timeout) and returns.
pub(crate) async fn run<S: code_store::CodeStore + 'static>(
    state: Arc<State<S>>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let limits = state.config.limits;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = core::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, a reset before accept: keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(core::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let slots = slots.clone();
        let service = service_fn(move |request| handle(state.clone(), slots.clone(), request));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(64 * 1024);
        match &acceptor {
            None => {
                let connection =
                    graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "connection ended");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let header_timeout = limits.header_timeout;
                // A watcher counts as a connection in flight from now: the drain waits for
                // the handshake and the request.
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls =
                        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let connection =
                        watcher.watch(builder.serve_connection(TokioIo::new(tls), service));
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "connection ended");
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing the requests in flight");
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the drain timeout");
    }
    Ok(())
}
