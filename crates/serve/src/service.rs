//! The service's state and its routes: who may call what, and which journey answers.

use alloc::sync::Arc;
use core::time::Duration;

use alb_nanomdm::{NanoMdmClient, WebhookLimits};
use alb_workflow::unlock::Requester;
use code_store::{CodeStore, Timestamp};
use escrow_client::EscrowClient;
use hyper::body::Bytes;
use serde_json::json;

use crate::{
    ApiError, ApiKeys, AskPolicy, Metrics, api, committer::Committer, intake, intake::Intake,
};

/// How the service removes Activation Lock: the client (to Apple directly with the push
/// certificate, or through NanoMDM's `/v1/escrowkeyunlock`) and who asks.
#[derive(Debug)]
pub struct UnlockSetup {
    /// The escrow-key unlock client.
    pub client: EscrowClient,
    /// The organisation and person named in every request (a caller may name another person).
    pub requester: Requester,
}

/// How the service locks devices: the client of Apple's device enrollment service (with the
/// server token) and the default lost-mode message.
#[derive(Debug)]
pub struct LockSetup {
    /// The client.
    pub client: dep_client::DepClient,
    /// The message shown on a lost device, when the caller gives none.
    pub lost_message: Option<String>,
}

/// Bounds on what one request may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request body (a webhook's JSON included).
    pub max_body: usize,
    /// The most requests handled at once (more wait for a free slot).
    pub max_concurrent: usize,
    /// The longest a client may take to send its request headers.
    pub header_timeout: Duration,
    /// The longest a client may take to send its body.
    pub body_timeout: Duration,
    /// The most webhook deliveries that share one transaction.
    pub max_group: usize,
    /// How long in-flight requests may take to finish once shutdown begins.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: WebhookLimits::DEFAULT.max_body,
            max_concurrent: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_group: 256,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything the service is configured with.
#[derive(Debug)]
pub struct ServiceConfig {
    /// The keys that may call it.
    pub api_keys: ApiKeys,
    /// NanoMDM's API, to queue commands (none: devices are never asked, passcodes never cleared).
    pub nanomdm: Option<NanoMdmClient>,
    /// How unlocks are sent (none: `POST .../unlock` is refused).
    pub unlock: Option<UnlockSetup>,
    /// How devices are locked (none: `POST .../lock` is refused).
    pub lock: Option<LockSetup>,
    /// When devices are asked for their codes.
    pub ask: AskPolicy,
    /// Request bounds.
    pub limits: Limits,
}

impl ServiceConfig {
    /// A configuration with these keys and nothing else (no NanoMDM, no unlocks).
    #[must_use]
    pub fn new(api_keys: ApiKeys) -> Self {
        Self {
            api_keys,
            nanomdm: None,
            unlock: None,
            lock: None,
            ask: AskPolicy::default(),
            limits: Limits::default(),
        }
    }
}

/// What every request handler shares.
pub(crate) struct State<S> {
    pub(crate) store: Arc<S>,
    pub(crate) config: ServiceConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) committer: Committer,
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

/// A finished answer: status, content type, body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    pub(crate) fn error(error: &ApiError) -> Self {
        Self {
            status: error.status,
            content_type: "application/json",
            body: Bytes::from(error.body()),
        }
    }
}

impl From<ApiError> for Answer {
    fn from(error: ApiError) -> Self {
        Self::error(&error)
    }
}

/// One request, as the router sees it (the body already read, within its bounds).
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) method: &'a hyper::Method,
    pub(crate) path: &'a str,
    pub(crate) authorization: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
}

impl<S: CodeStore + 'static> State<S> {
    /// Routes one request.
    pub(crate) async fn route(&self, call: Call<'_>) -> Answer {
        use hyper::Method;
        let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
        if call.method == Method::GET && segments == ["healthz"] {
            return Answer::json(200, &json!({ "status": "ok" }));
        }
        let webhook = segments == ["webhook"];
        let Some(access) = self.config.api_keys.authorize(call.authorization, webhook) else {
            Metrics::add(&self.metrics.unauthorized);
            return ApiError::unauthorized().into();
        };
        let write = call.method == Method::POST;
        if write && !access.may_write() {
            return ApiError::forbidden("change anything (it is read-only)").into();
        }
        match (call.method, segments.as_slice()) {
            (&Method::POST, ["webhook"]) => self.webhook(call.body).await,
            (&Method::GET, ["metrics"]) => Answer {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                body: Bytes::from(self.metrics.render()),
            },
            (&Method::GET, ["v1", "devices", id]) => api::device(self, id, access).await,
            (&Method::GET, ["v1", "devices", id, "history"]) => api::history(self, id).await,
            (&Method::GET, ["v1", "missing"]) => api::missing(self).await,
            (&Method::GET, ["v1", "failed"]) => api::failed(self).await,
            (&Method::POST, ["v1", "devices", id, "server-code"]) => {
                api::server_code(self, id, call.body, access).await
            }
            (&Method::POST, ["v1", "devices", id, "unlock"]) => {
                api::unlock(self, id, call.body).await
            }
            (&Method::POST, ["v1", "devices", id, "lock"]) => {
                crate::lock::lock(self, id, call.body).await
            }
            (&Method::POST, ["v1", "devices", id, "clear-passcode"]) => {
                crate::clear_passcode::clear_passcode(self, id).await
            }
            _ => ApiError::not_found(format!(
                "no route {} {}",
                call.method,
                printable::Escaped(&truncate(call.path, 200))
            ))
            .into(),
        }
    }

    /// `POST /webhook`: one event; 200 once its changes are durable.
    async fn webhook(&self, body: &[u8]) -> Answer {
        let limits = WebhookLimits {
            max_body: self.config.limits.max_body,
            ..WebhookLimits::DEFAULT
        };
        let event = match alb_nanomdm::WebhookEvent::parse(body, &limits) {
            Ok(event) => event,
            Err(error) => {
                Metrics::add(&self.metrics.events_refused);
                return ApiError::new(400, error.kind(), error.to_string()).into();
            }
        };
        let now = Timestamp::now();
        let intake = match intake::read(&event, &*self.store, &self.config.ask, now).await {
            Ok(intake) => intake,
            Err(alb_workflow::device_report::IngestError::Store(error)) => {
                return ApiError::store(&error).into();
            }
            Err(error) => {
                Metrics::add(&self.metrics.events_refused);
                return ApiError::new(400, "bad_payload", error.to_string()).into();
            }
        };
        let (udid, message, changes) = match intake {
            Intake::Ignored(why) => {
                Metrics::add(&self.metrics.events_taken);
                return Answer::json(200, &json!({ "status": "ignored", "reason": why }));
            }
            Intake::Changes {
                udid,
                message,
                changes,
            } => (udid, message, changes),
        };
        let changes = changes.into_iter().map(|c| (udid.clone(), c)).collect();
        match self.committer.commit(changes).await {
            Ok(outcomes) => {
                Metrics::add(&self.metrics.events_taken);
                let scheduled = outcomes.iter().flat_map(|o| &o.events).any(|e| {
                    matches!(
                        e,
                        code_store::Event::Command(code_store::CommandEvent::AskScheduled)
                    )
                });
                if scheduled {
                    self.wake.notify_one();
                }
                let ingested = alb_workflow::device_report::Ingested {
                    message: message.clone(),
                    udid: Some(udid.clone()),
                    outcomes,
                };
                tracing::info!(%udid, message = %message, "webhook event stored");
                Answer::json(
                    200,
                    &json!({
                        "status": "stored",
                        "device": udid.as_str(),
                        "message": message,
                        "changes": ingested.describe(),
                    }),
                )
            }
            Err(crate::committer::CommitError::Store(code_store::StoreError::InvalidField {
                field,
                reason,
            })) => ApiError::new(400, "bad_value", format!("{field}: {reason}")).into(),
            Err(error) => ApiError::new(503, "store", error.to_string()).into(),
        }
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
