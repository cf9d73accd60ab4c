//! The stand-in's `/v1/enqueue/` handler and NanoMDM's JSON result (`api/types.go`).

use alloc::collections::BTreeMap;

use alb_test_support::{RecordedRequest, Reply};
use plist::{Dictionary, Value};
use serde::Serialize;

use super::{Enqueued, Queued, State, webhook};

/// NanoMDM's `api.APIResult`, fields in its order, empty ones left out.
#[derive(Serialize, Default)]
struct ApiResult {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    status: BTreeMap<String, EnrollmentResult>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    no_push: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_error: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    command_uuid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    request_type: String,
}

/// NanoMDM's `api.EnrollmentResult`.
#[derive(Serialize, Default)]
struct EnrollmentResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    push_error: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    push_result: String,
}

/// Go's `json.Encoder` with `SetIndent("", "\t")`: tab-indented, a final newline.
pub(super) fn json_reply(status: u16, value: &impl Serialize) -> Reply {
    let mut body = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut body, formatter);
    if value.serialize(&mut serializer).is_err() {
        return Reply::with_body(500, "cannot encode JSON");
    }
    body.push(b'\n');
    Reply::json(status, body)
}

pub(super) fn enqueue(state: &State, request: &RecordedRequest, ids: &str) -> Reply {
    let mut result = ApiResult::default();
    if ids.is_empty() {
        result.command_error = Some("getting enrollment ids: empty path".to_owned());
        return json_reply(500, &result);
    }
    let ids: Vec<&str> = ids.split(',').collect();
    let no_push = request
        .query
        .as_deref()
        .and_then(|query| webhook::form_value(query, "nopush"))
        .is_some_and(|value| !value.is_empty());
    result.no_push = no_push;
    let command = if request.body.is_empty() {
        None
    } else {
        match decode_command(&request.body) {
            Some(command) => Some(command),
            None => {
                result.no_push = false;
                result.command_error = Some("decoding command: invalid command".to_owned());
                return json_reply(500, &result);
            }
        }
    };
    let mut inner = state.lock();
    match command {
        Some(command) => {
            result.command_uuid.clone_from(&command.command_uuid);
            result.request_type.clone_from(&command.request_type);
            for id in &ids {
                inner.enqueued.push(Enqueued {
                    id: (*id).to_owned(),
                    command_uuid: command.command_uuid.clone(),
                    request_type: command.request_type.clone(),
                    body: command.body.clone(),
                    no_push,
                });
                let queue = inner.queues.entry((*id).to_owned()).or_default();
                queue.push_back(command.clone());
            }
        }
        None if no_push => {
            result.command_error = Some("must enqueue or push".to_owned());
            return json_reply(500, &result);
        }
        None => {}
    }
    if no_push {
        return json_reply(200, &result);
    }
    let mut failed = 0;
    for id in &ids {
        let entry = if inner.tallies.contains_key(*id) {
            EnrollmentResult {
                push_result: webhook::apns_id(),
                ..EnrollmentResult::default()
            }
        } else {
            failed += 1;
            EnrollmentResult {
                push_error: Some(format!("no push info for id: {id}")),
                ..EnrollmentResult::default()
            }
        };
        result.status.insert((*id).to_owned(), entry);
    }
    let status = match failed {
        0 => 200,
        n if n < ids.len() => 207,
        _ => 500,
    };
    json_reply(status, &result)
}

/// `CommandUUID` and `Command.RequestType`, both non-empty, as NanoMDM's `DecodeCommand`.
fn decode_command(body: &[u8]) -> Option<Queued> {
    let envelope: Dictionary = plist::from_bytes(body).ok()?;
    let command_uuid = envelope.get("CommandUUID").and_then(Value::as_string)?;
    let request_type = envelope
        .get("Command")
        .and_then(Value::as_dictionary)
        .and_then(|command| command.get("RequestType"))
        .and_then(Value::as_string)?;
    if command_uuid.is_empty() || request_type.is_empty() {
        return None;
    }
    Some(Queued {
        command_uuid: command_uuid.to_owned(),
        request_type: request_type.to_owned(),
        body: body.to_vec(),
    })
}
