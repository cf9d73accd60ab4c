//! The connector: a `CONNECT` tunnel for the destinations the settings send through the proxy,
//! a direct TCP connection for the others.

use alloc::sync::Arc;
use core::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use hyper::Uri;
use hyper_util::{
    client::legacy::connect::{HttpConnector, proxy::Tunnel},
    rt::TokioIo,
};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::ProxyConfig;

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The destination could not be reached directly.
    #[error("connecting to {destination}: {source}")]
    Direct {
        /// The destination's host and port.
        destination: String,
        /// Why.
        source: Box<dyn core::error::Error + Send + Sync>,
    },
    /// The proxy could not be reached, or refused the tunnel.
    #[error("through the proxy {proxy} to {destination}: {reason}")]
    Tunnel {
        /// The proxy's host and port (never its credentials).
        proxy: String,
        /// The destination's host and port.
        destination: String,
        /// Why, in words.
        reason: String,
    },
}

/// A hyper connector that honours [`ProxyConfig`]: wrap it in TLS and give it to hyper's client.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    config: Arc<ProxyConfig>,
}

impl core::fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProxyConnector {
    /// Connects with `tcp` (its settings — no Nagle, time-outs — apply to the proxy as well),
    /// through the proxy `config` names for each destination. `tcp` must accept `https`
    /// destinations (`enforce_http(false)`).
    #[must_use]
    pub fn new(tcp: HttpConnector, config: &ProxyConfig) -> Self {
        Self {
            direct: tcp,
            config: Arc::new(config.clone()),
        }
    }
}

fn host_port(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("(no host)");
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("http") => 80,
        _ => 443,
    });
    printable::escape(&format!("{host}:{port}")).into_owned()
}

/// The connection, once made.
type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, ConnectError>> + Send>>;

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // HttpConnector is always ready; its readiness error cannot happen.
        self.direct
            .poll_ready(cx)
            .map_err(|source| ConnectError::Direct {
                destination: String::new(),
                source: Box::new(source),
            })
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let shown = host_port(&destination);
        match self.config.proxy_for(&destination) {
            None => {
                let connecting = self.direct.call(destination);
                Box::pin(async move {
                    connecting.await.map_err(|source| ConnectError::Direct {
                        destination: shown,
                        source: Box::new(source),
                    })
                })
            }
            Some(intercept) => {
                let proxy = host_port(intercept.uri());
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let connecting = tunnel.call(destination);
                Box::pin(async move {
                    connecting.await.map_err(|error| ConnectError::Tunnel {
                        proxy,
                        destination: shown,
                        reason: tunnel_reason(&error),
                    })
                })
            }
        }
    }
}

/// The tunnel's failure in words, with its cause.
fn tunnel_reason(error: &(dyn core::error::Error + 'static)) -> String {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    printable::escape(&reason).into_owned()
}
