//! Reading one webhook body: JSON into a `serde_json` tree, then each field the event needs,
//! by path, so that every refusal names the field and the type it found.

use alloc::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::text::shown;

use super::{
    AckStatus, AcknowledgeEvent, CheckinEvent, EventBody, Topic, WebhookError, WebhookEvent,
    WebhookLimits,
};

/// Go's zero `time.Time`, which a server sends for "no time".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(super) fn event(body: &[u8], limits: &WebhookLimits) -> Result<WebhookEvent, WebhookError> {
    if body.len() > limits.max_body {
        return Err(WebhookError::TooLarge {
            size: body.len(),
            limit: limits.max_body,
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| not_json(&error))?;
    let Value::Object(object) = value else {
        return Err(WebhookError::WrongType {
            field: "(the event)".to_owned(),
            expected: "a JSON object",
            found: type_name(&value),
        });
    };
    let topic = match object.get("topic") {
        None | Some(Value::Null) => {
            return Err(WebhookError::MissingField {
                field: "topic",
                topic: "?".to_owned(),
            });
        }
        Some(Value::String(name)) => Topic::from_wire(name),
        Some(other) => return Err(wrong_type("topic".to_owned(), "a string", other)),
    };
    if let Topic::Other(_) = topic {
        // Never an error: what a newer server adds is not ours to judge.
        let event_id = optional_string(&object, "event_id", "event_id").unwrap_or_default();
        return Ok(WebhookEvent {
            topic,
            event_id: event_id.filter(|id| !id.is_empty()),
            created_at: created_at(&object).unwrap_or_default(),
            body: EventBody::Ignored,
        });
    }
    let event_id = optional_string(&object, "event_id", "event_id")?.filter(|id| !id.is_empty());
    let created_at = created_at(&object)?;
    let body = if topic == Topic::Connect {
        let ack = required_object(&object, "acknowledge_event", &topic)?;
        EventBody::Acknowledge(acknowledge(ack, &topic, limits)?)
    } else {
        let checkin_event = required_object(&object, "checkin_event", &topic)?;
        EventBody::Checkin(checkin(checkin_event, &topic, limits)?)
    };
    Ok(WebhookEvent {
        topic,
        event_id,
        created_at,
        body,
    })
}

fn checkin(
    object: &Map<String, Value>,
    topic: &Topic,
    limits: &WebhookLimits,
) -> Result<CheckinEvent, WebhookError> {
    let token_update_tally = match object.get("token_update_tally") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| {
            wrong_type(
                "checkin_event.token_update_tally".to_owned(),
                "a non-negative integer",
                value,
            )
        })?),
    };
    let raw_payload = match optional_string(object, "raw_payload", "checkin_event.raw_payload")? {
        None => return Err(missing("checkin_event.raw_payload", topic)),
        Some(text) => decode(&text, "checkin_event.raw_payload", topic, false, limits)?,
    };
    Ok(CheckinEvent {
        udid: optional_string(object, "udid", "checkin_event.udid")?,
        enrollment_id: optional_string(object, "enrollment_id", "checkin_event.enrollment_id")?,
        url_params: url_params(object, "checkin_event.url_params")?,
        raw_payload,
        token_update_tally,
    })
}

fn acknowledge(
    object: &Map<String, Value>,
    topic: &Topic,
    limits: &WebhookLimits,
) -> Result<AcknowledgeEvent, WebhookError> {
    let status = match optional_string(object, "status", "acknowledge_event.status")? {
        None => return Err(missing("acknowledge_event.status", topic)),
        Some(status) => AckStatus::from_wire(&status),
    };
    let idle = status == AckStatus::Idle;
    let field = "acknowledge_event.raw_payload";
    let raw_payload = match optional_string(object, "raw_payload", field)? {
        None if idle => Zeroizing::new(Vec::new()),
        None => return Err(missing(field, topic)),
        Some(text) => decode(&text, field, topic, idle, limits)?,
    };
    Ok(AcknowledgeEvent {
        udid: optional_string(object, "udid", "acknowledge_event.udid")?,
        enrollment_id: optional_string(object, "enrollment_id", "acknowledge_event.enrollment_id")?,
        status,
        command_uuid: optional_string(object, "command_uuid", "acknowledge_event.command_uuid")?
            .filter(|uuid| !uuid.is_empty()),
        url_params: url_params(object, "acknowledge_event.url_params")?,
        raw_payload,
    })
}

/// A required object member: absent or `null` is missing, anything else the wrong type.
fn required_object<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
    topic: &Topic,
) -> Result<&'a Map<String, Value>, WebhookError> {
    match object.get(name) {
        None | Some(Value::Null) => Err(missing(name, topic)),
        Some(Value::Object(inner)) => Ok(inner),
        Some(other) => Err(wrong_type(name.to_owned(), "a JSON object", other)),
    }
}

/// A string member; absent or `null` is `None`.
fn optional_string(
    object: &Map<String, Value>,
    name: &str,
    path: &'static str,
) -> Result<Option<String>, WebhookError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(wrong_type(path.to_owned(), "a string", other)),
    }
}

/// `url_params`: absent or `null` is empty; otherwise an object of strings.
fn url_params(
    object: &Map<String, Value>,
    path: &'static str,
) -> Result<BTreeMap<String, String>, WebhookError> {
    match object.get("url_params") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(params)) => params
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key.clone(), text.clone())),
                other => Err(wrong_type(
                    format!("{path}[\"{}\"]", shown(key)),
                    "a string",
                    other,
                )),
            })
            .collect(),
        Some(other) => Err(wrong_type(path.to_owned(), "a JSON object or null", other)),
    }
}

/// Decodes a padded standard base64 `raw_payload`, bounded before decoding.
fn decode(
    text: &str,
    field: &'static str,
    topic: &Topic,
    empty_allowed: bool,
    limits: &WebhookLimits,
) -> Result<Zeroizing<Vec<u8>>, WebhookError> {
    if text.is_empty() {
        return if empty_allowed {
            Ok(Zeroizing::new(Vec::new()))
        } else {
            Err(WebhookError::EmptyPayload {
                field,
                topic: topic.to_string(),
            })
        };
    }
    let padding = text.bytes().rev().take(2).filter(|&b| b == b'=').count();
    let size = (text.len().div_ceil(4) * 3).saturating_sub(padding);
    if size > limits.max_payload {
        return Err(WebhookError::PayloadTooLarge {
            field,
            size,
            limit: limits.max_payload,
        });
    }
    // Decoded into one wiped buffer of the final size (no reallocation leaves a copy behind).
    let mut decoded = Zeroizing::new(vec![0; size.saturating_add(3)]);
    let written = base64::engine::general_purpose::STANDARD
        .decode_slice(text, &mut decoded[..])
        .map_err(|error| WebhookError::BadBase64 {
            field,
            reason: error.to_string(),
        })?;
    decoded.truncate(written);
    Ok(decoded)
}

/// `created_at`: absent, `null` or Go's zero time is `None`; otherwise RFC 3339.
fn created_at(object: &Map<String, Value>) -> Result<Option<time::OffsetDateTime>, WebhookError> {
    let Some(text) = optional_string(object, "created_at", "created_at")? else {
        return Ok(None);
    };
    if text == GO_ZERO_TIME {
        return Ok(None);
    }
    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .map(Some)
        .map_err(|error| WebhookError::BadTime {
            value: shown(&text),
            reason: error.to_string(),
        })
}

fn missing(field: &'static str, topic: &Topic) -> WebhookError {
    WebhookError::MissingField {
        field,
        topic: topic.to_string(),
    }
}

fn wrong_type(field: String, expected: &'static str, found: &Value) -> WebhookError {
    WebhookError::WrongType {
        field,
        expected,
        found: type_name(found),
    }
}

fn not_json(error: &serde_json::Error) -> WebhookError {
    let (line, column) = (error.line(), error.column());
    let text = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let reason = text.strip_suffix(&suffix).unwrap_or(&text);
    WebhookError::NotJson {
        line,
        column,
        reason: shown(reason),
    }
}

/// The JSON type of a value, for messages.
const fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
