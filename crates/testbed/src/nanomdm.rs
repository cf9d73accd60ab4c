//! [`NanoMdm`]: a stand-in for a NanoMDM server (the `micromdm/nanomdm` MDM server) on loopback
//! plain HTTP: its command-enqueue and escrow-key-unlock APIs, and its webhook, deciding from a
//! [`Fleet`] of simulated devices.
//!
//! What it mirrors of NanoMDM's code (`http/api/api.go`, `http/api/escrowkeyunlock.go`,
//! `api/types.go`, `service/webhook/service.go`, `cmd/nanomdm/main.go`):
//!
//! * API authentication: HTTP Basic, user `nanomdm`, the API key as password; otherwise `401`
//!   with `Www-Authenticate: Basic realm="nanomdm"` and the body `Unauthorized`.
//! * `PUT /v1/enqueue/{id,...}[?nopush=1]` (any method, as NanoMDM): the body is a command
//!   property list with `CommandUUID` and `Command.RequestType`, else `500` with
//!   `{"command_error": "decoding command: ..."}`; the reply is NanoMDM's `APIResult` JSON,
//!   tab-indented: `status` (per id `push_result`, an APNs id, or `push_error`), `no_push`,
//!   `command_uuid`, `request_type`, empty fields left out; `200`, `207` when some ids failed,
//!   `500` when all did. An id that never enrolled gets a `push_error` (no push token).
//! * `POST /v1/escrowkeyunlock`: the post form (`topic`, `serial`, `productType`, `imei`,
//!   `imei2`, `meid`, `orgName`, `guid`, `escrowKey`); `400 {"error": "invalid or missing
//!   parameters"}` without serial, product type, organisation, guid or key; `400 {"error":
//!   "empty topic"}`; `500` for a topic it holds no push certificate for; then Apple's answer,
//!   status and body passed through: `200` (unlocked) or `404`, from the fleet as the
//!   [escrow stand-in](crate::EscrowService) decides.
//! * Any other path: `404 page not found` (Go's mux, before authentication).

mod enqueue;
mod webhook;

use alloc::{collections::VecDeque, sync::Arc};
use core::fmt;
use std::{
    collections::HashMap,
    io,
    sync::{Mutex, MutexGuard, PoisonError},
};

use alb_test_support::{RecordedRequest, RecordingServer, Reply};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use bypass_code::BypassCode;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::Fleet;

pub use webhook::{Delivered, Delivery, NanoMdmError};

/// The path prefix of NanoMDM's enqueue API.
pub const ENQUEUE_PREFIX: &str = "/v1/enqueue/";
/// The path of NanoMDM's escrow-key unlock API.
pub const ESCROW_KEY_UNLOCK_PATH: &str = "/v1/escrowkeyunlock";
/// The push topic the stand-in holds a certificate for (the simulated devices' topic).
pub const PUSH_TOPIC: &str = "com.apple.mgmt.External.00000000-0000-0000-0000-000000000000";

/// One command queued through the enqueue API, for one enrollment id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The enrollment id (a device's UDID).
    pub id: String,
    /// The command's `CommandUUID`.
    pub command_uuid: String,
    /// The command's `Command.RequestType`.
    pub request_type: String,
    /// The command property list as sent.
    pub body: Vec<u8>,
    /// Whether `?nopush` was given.
    pub no_push: bool,
}

#[derive(Debug, Clone)]
struct Queued {
    command_uuid: String,
    request_type: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    queues: HashMap<String, VecDeque<Queued>>,
    enqueued: Vec<Enqueued>,
    /// Enrolled devices (by UDID) and their `TokenUpdate` tally.
    tallies: HashMap<String, i64>,
    busy: HashMap<String, u32>,
    faults: VecDeque<Reply>,
    webhook: Option<webhook::Target>,
}

struct State {
    fleet: Fleet,
    api_key: String,
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The NanoMDM stand-in (see the [module](self) for what it mirrors). Stops when dropped.
pub struct NanoMdm {
    server: RecordingServer,
    state: Arc<State>,
    client: webhook::Client,
}

impl fmt::Debug for NanoMdm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NanoMdm")
            .field("url", &self.url())
            .field("api_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl NanoMdm {
    /// Starts on `127.0.0.1` (a free port, plain HTTP) answering for `fleet`, with this API key.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(fleet: Fleet, api_key: &str) -> io::Result<Self> {
        let server = RecordingServer::start_plain([]).await?;
        let state = Arc::new(State {
            fleet,
            api_key: api_key.to_owned(),
            inner: Mutex::new(Inner::default()),
        });
        let answering = Arc::clone(&state);
        server.set_responder(move |request| answer(&answering, request));
        Ok(Self {
            server,
            state,
            client: webhook::client(),
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`), as given to `alb` and to NanoMDM's API users.
    #[must_use]
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// The devices it answers for.
    #[must_use]
    pub fn fleet(&self) -> &Fleet {
        &self.state.fleet
    }

    /// Where to post webhook events (NanoMDM's `-webhook-url`): `http://[user:password@]host…`;
    /// credentials are sent as HTTP Basic authentication, as Go's HTTP client does.
    ///
    /// # Errors
    /// [`NanoMdmError::WebhookUrl`] when the URL is not `http://` with a host.
    pub fn set_webhook(&self, url: &str) -> Result<(), NanoMdmError> {
        let target = webhook::Target::parse(url)?;
        self.state.lock().webhook = Some(target);
        Ok(())
    }

    /// Every command enqueued so far, one entry per enrollment id, in order.
    #[must_use]
    pub fn enqueued(&self) -> Vec<Enqueued> {
        self.state.lock().enqueued.clone()
    }

    /// The `CommandUUID`s still queued for this enrollment id, in order.
    #[must_use]
    pub fn queued(&self, id: &str) -> Vec<String> {
        self.state
            .lock()
            .queues
            .get(id)
            .map_or_else(Vec::new, |queue| {
                queue.iter().map(|q| q.command_uuid.clone()).collect()
            })
    }

    /// The device with this UDID answers `NotNow` to its next `n` commands.
    pub fn set_busy(&self, udid: &str, n: u32) {
        self.state.lock().busy.insert(udid.to_owned(), n);
    }

    /// Queues faults (`Fault::status(500)`, `Fault::Hang`, `Fault::Reset`, `Fault::delayed`)
    /// answering the next authenticated `/v1/escrowkeyunlock` requests, in order, in front of
    /// Apple's answers.
    pub fn inject(&self, faults: impl IntoIterator<Item = Reply>) {
        self.state.lock().faults.extend(faults);
    }

    /// Every HTTP request to the stand-in's API so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The `/v1/escrowkeyunlock` requests so far, in order.
    #[must_use]
    pub fn unlock_requests(&self) -> Vec<RecordedRequest> {
        let mut requests = self.server.requests();
        requests.retain(|request| request.path == ESCROW_KEY_UNLOCK_PATH);
        requests
    }
}

/// NanoMDM's answer to one API request.
fn answer(state: &State, request: &RecordedRequest) -> Reply {
    let path = percent_decode_str(&request.path).decode_utf8_lossy();
    let enqueue = path.strip_prefix(ENQUEUE_PREFIX);
    if enqueue.is_none() && path != ESCROW_KEY_UNLOCK_PATH {
        return Reply::with_body(404, "404 page not found\n");
    }
    if !authorized(request, &state.api_key) {
        return Reply::WithHeaders {
            status: 401,
            headers: vec![
                (
                    "Www-Authenticate".to_owned(),
                    "Basic realm=\"nanomdm\"".to_owned(),
                ),
                (
                    "Content-Type".to_owned(),
                    "text/plain; charset=utf-8".to_owned(),
                ),
                ("X-Content-Type-Options".to_owned(), "nosniff".to_owned()),
            ],
            body: b"Unauthorized\n".to_vec(),
        };
    }
    match enqueue {
        Some(ids) => enqueue::enqueue(state, request, ids),
        None => unlock(state, request),
    }
}

/// Whether the request carries `Basic base64(nanomdm:KEY)`.
fn authorized(request: &RecordedRequest, api_key: &str) -> bool {
    let Some(header) = request.header("authorization") else {
        return false;
    };
    let Some((scheme, encoded)) = header.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    decoded.split_once(':') == Some(("nanomdm", api_key))
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
}

fn unlock(state: &State, request: &RecordedRequest) -> Reply {
    let form_type = request
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    // Go's `ParseForm` fills the post form only for POST, PUT and PATCH with a form body.
    let body = if form_type && matches!(request.method.as_str(), "POST" | "PUT" | "PATCH") {
        String::from_utf8_lossy(&request.body).into_owned()
    } else {
        String::new()
    };
    let get = |name| webhook::form_value(&body, name).unwrap_or_default();
    let (serial, escrow_key) = (get("serial"), get("escrowKey"));
    if [
        &serial,
        &get("productType"),
        &get("orgName"),
        &get("guid"),
        &escrow_key,
    ]
    .iter()
    .any(|value| value.is_empty())
    {
        let error = ErrorJson {
            error: "invalid or missing parameters",
        };
        return enqueue::json_reply(400, &error);
    }
    let topic = get("topic");
    if topic.is_empty() {
        return enqueue::json_reply(
            400,
            &ErrorJson {
                error: "empty topic",
            },
        );
    }
    if topic != PUSH_TOPIC {
        let error = format!("retrieve push cert for topic: {topic}: no push certificate");
        return enqueue::json_reply(500, &ErrorJson { error: &error });
    }
    if let Some(fault) = state.lock().faults.pop_front() {
        return fault;
    }
    // Apple matches the code as given; a code that does not parse matches no device.
    match escrow_key.parse::<BypassCode>() {
        Ok(code) if state.fleet.try_unlock(&serial, &code) => Reply::with_body(200, "{}"),
        _ => Reply::with_body(404, "device not found or escrow key not valid"),
    }
}
