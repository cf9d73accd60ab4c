#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod api;
mod asker;
mod auth;
mod clear_passcode;
mod committer;
mod error;
mod intake;
mod lock;
mod metrics;
mod nanomdm;
mod server;
mod service;

use alloc::sync::Arc;
use core::future::Future;

use code_store::CodeStore;
use tokio::net::TcpListener;

pub use asker::AskPolicy;
pub use auth::{Access, ApiKeys, KeyFileError, MIN_KEY_LEN};
pub use error::ApiError;
pub use metrics::Metrics;
pub use server::{TlsError, tls_config};
pub use service::{Limits, LockSetup, ServiceConfig, UnlockSetup};

/// The service: webhooks in, commands out, the JSON API, over one store.
pub struct Service<S> {
    store: Arc<S>,
    config: ServiceConfig,
    metrics: Arc<Metrics>,
}

impl<S> core::fmt::Debug for Service<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: CodeStore + 'static> Service<S> {
    /// A service over `store` (owned, or shared with the caller as an `Arc`).
    pub fn new(store: impl Into<Arc<S>>, config: ServiceConfig) -> Self {
        Self {
            store: store.into(),
            config,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Its counters (shared with the running service).
    #[must_use]
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves on `listener` (TLS when `tls` is given) until `shutdown` resolves; then stops
    /// accepting, finishes the requests in flight, commits what they gave, stops asking, and
    /// returns.
    ///
    /// # Errors
    /// I/O errors of the listener.
    pub async fn run(
        self,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let (committer, committing) = committer::Committer::start(
            self.store.clone(),
            self.metrics.clone(),
            self.config.limits.max_group,
        );
        let wake = Arc::new(tokio::sync::Notify::new());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let asking = self.config.nanomdm.clone().map(|client| {
            tokio::spawn(asker::run(
                self.store.clone(),
                client,
                self.config.ask,
                self.metrics.clone(),
                wake.clone(),
                stopped,
            ))
        });
        let state = Arc::new(service::State {
            store: self.store,
            config: self.config,
            metrics: self.metrics,
            committer,
            wake,
        });
        let served = server::run(state.clone(), listener, tls, shutdown).await;
        // Every request has ended: the last handle to the committer goes, it commits what is
        // waiting and stops.
        let _ = stop.send(true);
        let drain = state.config.limits.drain_timeout;
        drop(state);
        // A connection still stuck after the drain holds a handle: the wait is bounded too, so a
        // stopped service always exits (what such a request was waiting for was never answered).
        if tokio::time::timeout(drain, committing).await.is_err() {
            tracing::warn!("the last group commit did not end within the drain timeout");
        }
        if let Some(asking) = asking {
            let _ = asking.await;
        }
        tracing::info!("stopped");
        served
    }
}
