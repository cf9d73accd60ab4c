//! The stand-in's webhook: NanoMDM's event JSON (`service/webhook/event.go`, filled in by
//! `service/webhook/service.go`) posted for the simulated devices' check-ins and command
//! results.
//!
//! The JSON is Go's `json.Marshal` of NanoMDM's `EventJson`: compact, fields in alphabetical
//! order (`acknowledge_event`, `checkin_event`, `created_at`, `event_id`, `topic`); `event_id`
//! is the request's trace id (16 hexadecimal digits); `created_at` RFC 3339 with the
//! nanoseconds Go prints (trailing zeros trimmed). Inside an event, `command_uuid`,
//! `enrollment_id`, `udid`, `url_params` and `token_update_tally` are left out when empty, as
//! their `omitempty` says; `ids` (`{"id": UDID, "type": "Device"}`), `raw_payload` (standard
//! base64, padded) and `status` are always there.

use alloc::collections::VecDeque;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use http_body_util::{BodyExt as _, Full};
use hyper::{
    Request, Uri,
    body::Bytes,
    header::{AUTHORIZATION, CONTENT_TYPE},
};
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use percent_encoding::percent_decode_str;
use plist::{Dictionary, Value};
use serde_json::{Map, Value as Json, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::NanoMdm;
use crate::DeviceError;

/// Why the stand-in could not post an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NanoMdmError {
    /// No simulated device has this UDID.
    #[error("no device with UDID {0} in the fleet")]
    UnknownDevice(String),
    /// The device has not enrolled ([`NanoMdm::enroll`]).
    #[error("the device {0} is not enrolled")]
    NotEnrolled(String),
    /// No webhook URL was set ([`NanoMdm::set_webhook`]).
    #[error("no webhook URL is set")]
    NoWebhook,
    /// The webhook URL is not `http://` with a host.
    #[error("invalid webhook URL: {0}")]
    WebhookUrl(String),
    /// The webhook request failed below HTTP.
    #[error("webhook request failed: {0}")]
    Webhook(String),
    /// The simulated device could not answer a command.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// One command result posted to the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The device's UDID (its enrollment id).
    pub udid: String,
    /// The command's `CommandUUID`.
    pub command_uuid: String,
    /// The command's `Command.RequestType`.
    pub request_type: String,
    /// The device's `Status` (`Acknowledged`, `Error`, `NotNow`...).
    pub status: String,
    /// The webhook's HTTP status.
    pub webhook_status: u16,
}

/// What [`NanoMdm::deliver`] did, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Every command result posted, `NotNow`s included (those commands stay queued).
    pub delivered: Vec<Delivered>,
}

pub(super) type Client = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

pub(super) fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// A webhook URL without its credentials, and the Basic header they make.
#[derive(Debug, Clone)]
pub(super) struct Target {
    uri: Uri,
    authorization: Option<String>,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self, NanoMdmError> {
        let invalid = || NanoMdmError::WebhookUrl(url.to_owned());
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .and_then(|_| url.get(7..))
            .ok_or_else(invalid)?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (authorization, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |part: &str| percent_decode_str(part).decode_utf8_lossy().into_owned();
                let credentials = format!("{}:{}", decode(user), decode(password));
                (
                    Some(format!("Basic {}", STANDARD.encode(credentials))),
                    host,
                )
            }
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(invalid());
        }
        let path = if path.is_empty() { "/" } else { path };
        let uri = format!("http://{host}{path}")
            .parse()
            .map_err(|_| invalid())?;
        Ok(Self { uri, authorization })
    }
}

/// The percent-decoded value of `name` in a form or query string (`+` is a space, as Go's
/// `ParseQuery`); `None` when absent.
pub(super) fn form_value(pairs: &str, name: &str) -> Option<String> {
    pairs
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| {
            percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// A random APNs id (a UUID, upper case, as APNs returns them).
pub(super) fn apns_id() -> String {
    let (a, b) = (random(), random());
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn random() -> u64 {
    getrandom::u64().unwrap_or(0x5EED)
}

/// NanoMDM's `ids`, for a device channel enrolment.
fn ids(udid: &str) -> Json {
    json!({ "id": udid, "type": "Device" })
}

/// The envelope: `created_at`, `event_id` (a trace id) and `topic` around the event.
fn event(topic: &str, key: &str, body: Map<String, Json>) -> Vec<u8> {
    let created_at = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut envelope = Map::new();
    envelope.insert(key.to_owned(), Json::Object(body));
    envelope.insert("created_at".to_owned(), created_at.into());
    envelope.insert("event_id".to_owned(), format!("{:016x}", random()).into());
    envelope.insert("topic".to_owned(), topic.into());
    serde_json::to_vec(&envelope).unwrap_or_default()
}

fn checkin_event(topic: &str, udid: &str, raw: &[u8], tally: Option<i64>) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("ids".to_owned(), ids(udid));
    body.insert("raw_payload".to_owned(), STANDARD.encode(raw).into());
    if let Some(tally) = tally {
        body.insert("token_update_tally".to_owned(), tally.into());
    }
    body.insert("udid".to_owned(), udid.into());
    event(topic, "checkin_event", body)
}

fn acknowledge_event(response: &[u8]) -> (Vec<u8>, String) {
    let dict: Dictionary = plist::from_bytes(response).unwrap_or_default();
    let text = |key: &str| dict.get(key).and_then(Value::as_string).unwrap_or_default();
    let mut body = Map::new();
    if !text("CommandUUID").is_empty() {
        body.insert("command_uuid".to_owned(), text("CommandUUID").into());
    }
    if !text("EnrollmentID").is_empty() {
        body.insert("enrollment_id".to_owned(), text("EnrollmentID").into());
    }
    body.insert("ids".to_owned(), ids(text("UDID")));
    body.insert("raw_payload".to_owned(), STANDARD.encode(response).into());
    body.insert("status".to_owned(), text("Status").into());
    if !text("UDID").is_empty() {
        body.insert("udid".to_owned(), text("UDID").into());
    }
    let status = text("Status").to_owned();
    (event("mdm.Connect", "acknowledge_event", body), status)
}

/// The device's own messages in its format (`Idle`, `NotNow`), as its responses are.
fn device_message(format: crate::Format, dict: Dictionary) -> Vec<u8> {
    let mut out = Vec::new();
    let value = Value::Dictionary(dict);
    let written = match format {
        crate::Format::Xml => value.to_writer_xml(&mut out),
        crate::Format::Binary => value.to_writer_binary(&mut out),
    };
    if written.is_err() {
        out.clear();
    }
    out
}

impl NanoMdm {
    /// Posts a hand-made body to the webhook as NanoMDM posts its events; returns the status.
    ///
    /// # Errors
    /// No webhook set, or the request failed below HTTP.
    pub async fn post_raw(&self, body: &[u8]) -> Result<u16, NanoMdmError> {
        let target = self.state.lock().webhook.clone();
        let target = target.ok_or(NanoMdmError::NoWebhook)?;
        let mut request = Request::post(target.uri.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8");
        if let Some(authorization) = &target.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|error| NanoMdmError::Webhook(error.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| NanoMdmError::Webhook(error.to_string()))?;
        let status = response.status().as_u16();
        // NanoMDM closes the body unread; reading it keeps the connection reusable.
        let _ = response.into_body().collect().await;
        Ok(status)
    }

    /// A (new) enrolment of the device with this UDID: posts `mdm.Authenticate` and then
    /// `mdm.TokenUpdate` (tally 1) with the device's own check-in messages; returns the two
    /// webhook statuses. Commands can be delivered to it from then on.
    ///
    /// # Errors
    /// No such device, no webhook, or a failed request.
    pub async fn enroll(&self, udid: &str) -> Result<Vec<u16>, NanoMdmError> {
        let (authenticate, token_update) = self
            .state
            .fleet
            .with_udid(udid, |device| {
                (device.authenticate(), device.token_update())
            })
            .ok_or_else(|| NanoMdmError::UnknownDevice(udid.to_owned()))?;
        self.state.lock().tallies.insert(udid.to_owned(), 0);
        let first = checkin_event("mdm.Authenticate", udid, &authenticate, None);
        let first = self.post_raw(&first).await?;
        self.state.lock().tallies.insert(udid.to_owned(), 1);
        let second = checkin_event("mdm.TokenUpdate", udid, &token_update, Some(1));
        Ok(vec![first, self.post_raw(&second).await?])
    }

    /// A further `TokenUpdate` of an enrolled device (tally one more); returns the status.
    ///
    /// # Errors
    /// No such device, not enrolled, no webhook, or a failed request.
    pub async fn token_update(&self, udid: &str) -> Result<u16, NanoMdmError> {
        let message = self
            .state
            .fleet
            .with_udid(udid, |device| device.token_update())
            .ok_or_else(|| NanoMdmError::UnknownDevice(udid.to_owned()))?;
        let tally = {
            let mut inner = self.state.lock();
            let tally = inner
                .tallies
                .get_mut(udid)
                .ok_or_else(|| NanoMdmError::NotEnrolled(udid.to_owned()))?;
            *tally += 1;
            *tally
        };
        let body = checkin_event("mdm.TokenUpdate", udid, &message, Some(tally));
        self.post_raw(&body).await
    }

    /// The device polls with `Status` `Idle`: posts that `mdm.Connect` event (no
    /// `command_uuid`); returns the status.
    ///
    /// # Errors
    /// No such device, no webhook, or a failed request.
    pub async fn idle(&self, udid: &str) -> Result<u16, NanoMdmError> {
        let format = self
            .state
            .fleet
            .with_udid(udid, |device| device.format)
            .ok_or_else(|| NanoMdmError::UnknownDevice(udid.to_owned()))?;
        let mut dict = Dictionary::new();
        dict.insert("Status".into(), "Idle".into());
        dict.insert("UDID".into(), udid.into());
        let (body, _) = acknowledge_event(&device_message(format, dict));
        self.post_raw(&body).await
    }

    /// Delivers every queued command of every enrolled device (in UDID order, each queue in
    /// order): the device answers it ([`SimulatedDevice::respond`](crate::SimulatedDevice::respond)),
    /// the answer is posted as an `mdm.Connect` event and the command dequeued; a busy device
    /// ([`set_busy`](Self::set_busy)) answers `NotNow` and the command stays queued.
    ///
    /// # Errors
    /// No webhook, a failed request, or a device that could not parse a command.
    pub async fn deliver(&self) -> Result<Delivery, NanoMdmError> {
        let mut work: Vec<(String, VecDeque<super::Queued>)> = {
            let inner = self.state.lock();
            inner
                .queues
                .iter()
                .filter(|(id, queue)| inner.tallies.contains_key(*id) && !queue.is_empty())
                .map(|(id, queue)| (id.clone(), queue.clone()))
                .collect()
        };
        work.sort_by(|a, b| a.0.cmp(&b.0));
        let mut delivery = Delivery::default();
        for (udid, queue) in work {
            for command in queue {
                let busy = {
                    let mut inner = self.state.lock();
                    match inner.busy.get_mut(&udid) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    }
                };
                let response = self
                    .state
                    .fleet
                    .with_udid(&udid, |device| {
                        if busy {
                            let mut dict = Dictionary::new();
                            dict.insert("CommandUUID".into(), command.command_uuid.clone().into());
                            dict.insert("Status".into(), "NotNow".into());
                            dict.insert("UDID".into(), device.udid.clone().into());
                            Ok(device_message(device.format, dict))
                        } else {
                            device.respond(&command.body)
                        }
                    })
                    .ok_or_else(|| NanoMdmError::UnknownDevice(udid.clone()))??;
                let (body, status) = acknowledge_event(&response);
                if status != "NotNow"
                    && let Some(queue) = self.state.lock().queues.get_mut(&udid)
                {
                    queue.retain(|queued| queued.command_uuid != command.command_uuid);
                }
                let webhook_status = self.post_raw(&body).await?;
                delivery.delivered.push(Delivered {
                    udid: udid.clone(),
                    command_uuid: command.command_uuid,
                    request_type: command.request_type,
                    status,
                    webhook_status,
                });
            }
        }
        Ok(delivery)
    }
}
