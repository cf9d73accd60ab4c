//! The JSON API over the store and the workflow's journeys: the same outcomes as the CLI.

use alb_workflow::{server_code, unlock};
use code_store::{
    Change, CodeStore, DeviceIdentity, DeviceRecord, ServerCodeTarget, StoreError, Timestamp,
    export::RecordJson,
};
use escrow_client::{CodeSource, Verdict};
use serde_json::{Value, json};

use crate::{Access, ApiError, Metrics, service::Answer, service::State};

/// A record as JSON: the export form (secrets only when `reveal`) and its commands.
pub(crate) fn record_json(record: &DeviceRecord, reveal: bool) -> Value {
    let mut value =
        serde_json::to_value(RecordJson::from_record(record, reveal)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "commands".to_owned(),
            serde_json::to_value(&record.commands).unwrap_or(Value::Null),
        );
    }
    value
}

fn find_error(error: unlock::UnlockError) -> ApiError {
    match error {
        unlock::UnlockError::AmbiguousDevice { .. } => {
            ApiError::new(409, "ambiguous_device", error.to_string())
        }
        unlock::UnlockError::Store(error) => ApiError::store(&error),
        other => ApiError::new(400, "bad_request", other.to_string()),
    }
}

/// The one record of a UDID or serial number.
pub(crate) async fn one_record<S: CodeStore>(
    state: &State<S>,
    id: &str,
) -> Result<DeviceRecord, ApiError> {
    let id = percent_decoded(id)?;
    unlock::find_record(&*state.store, &id)
        .await
        .map_err(find_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no device with UDID or serial number {:?}",
                printable::Escaped(&crate::service::truncate(&id, 100)).to_string()
            ))
        })
}

fn percent_decoded(id: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::new(400, "bad_request", "the device id is not UTF-8"))
}

/// `GET /v1/devices/{id}`.
pub(crate) async fn device<S: CodeStore>(state: &State<S>, id: &str, access: Access) -> Answer {
    match one_record(state, id).await {
        Ok(record) => Answer::json(200, &record_json(&record, access.may_reveal())),
        Err(error) => error.into(),
    }
}

/// `GET /v1/devices/{id}/history`.
pub(crate) async fn history<S: CodeStore>(state: &State<S>, id: &str) -> Answer {
    let record = match one_record(state, id).await {
        Ok(record) => record,
        Err(error) => return error.into(),
    };
    match state.store.history(&record.udid).await {
        Ok(entries) => Answer::json(
            200,
            &json!({
                "udid": record.udid.as_str(),
                "history": entries.iter().map(|e| json!({
                    "seq": e.seq,
                    "at": e.at.to_string(),
                    "event": e.event.name(),
                    "text": e.event.to_string(),
                })).collect::<Vec<_>>(),
            }),
        ),
        Err(error) => ApiError::store(&error).into(),
    }
}

/// `GET /v1/missing`: devices without a device code, their deadline, and who was asked when and
/// what they answered.
pub(crate) async fn missing<S: CodeStore>(state: &State<S>) -> Answer {
    match state.store.missing(Timestamp::now()).await {
        Ok(missing) => Answer::json(
            200,
            &json!({
                "missing": missing.iter().map(|m| {
                    let ask = m.record.commands.ask.as_ref();
                    json!({
                        "udid": m.record.udid.as_str(),
                        "serial_number": m.record.identity.serial_number,
                        "deadline": m.deadline.map(|d| d.to_string()),
                        "days_left": m.days_left,
                        "asked": ask.map(|a| json!({
                            "tries": a.tries,
                            "last_asked_at": a.commands.first().map(|c| c.recorded_at.to_string()),
                            "queued": a.commands.first().is_some_and(|c| c.queued),
                            "answer": a.code_answer().map(|(s, _)| s.as_str()),
                            "answered_at": a.code_answer().map(|(_, t)| t.to_string()),
                            "next_try_at": a.due_at.map(|t| t.to_string()),
                        })),
                    })
                }).collect::<Vec<_>>(),
            }),
        ),
        Err(error) => ApiError::store(&error).into(),
    }
}

/// `GET /v1/failed`: devices whose last unlock attempt did not unlock them.
pub(crate) async fn failed<S: CodeStore>(state: &State<S>) -> Answer {
    match state.store.failed_unlocks().await {
        Ok(records) => Answer::json(
            200,
            &json!({ "failed": records.iter().map(|r| record_json(r, false)).collect::<Vec<_>>() }),
        ),
        Err(error) => ApiError::store(&error).into(),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerCodeBody {
    #[serde(default)]
    force: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UnlockBody {
    #[serde(default)]
    guid: Option<String>,
}

pub(crate) fn body_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "bad_request", format!("the JSON body: {e}")))
}

/// Which device a server code is for: the record's serial number and UDID, or (no record) the
/// serial number given, for a device not enrolled yet; `force` allows a code beside one Apple
/// accepted.
pub(crate) async fn target_of<S: CodeStore>(
    state: &State<S>,
    id: &str,
    force: bool,
) -> Result<ServerCodeTarget, ApiError> {
    let target = match one_record(state, id).await {
        Ok(record) => {
            let Some(serial) = record.identity.serial_number.as_deref() else {
                return Err(ApiError::new(
                    409,
                    "no_serial_number",
                    "the device has not reported its serial number yet",
                ));
            };
            // A placeholder (a device not enrolled yet) is found by its serial number.
            let udid = (!record.udid.is_placeholder()).then(|| record.udid.as_str());
            ServerCodeTarget::new(serial, udid)
        }
        // A device not enrolled yet: by serial number (kept in a placeholder until it enrols).
        Err(ApiError { status: 404, .. }) => ServerCodeTarget::new(&percent_decoded(id)?, None),
        Err(error) => return Err(error),
    };
    match target {
        Ok(t) if force => Ok(t.beside_accepted()),
        Ok(t) => Ok(t),
        Err(error) => Err(ApiError::new(400, "bad_request", error.to_string())),
    }
}

/// `POST /v1/devices/{id}/server-code`: a new server code, durable before it is returned (its
/// code and escrow key only to a key that may reveal).
pub(crate) async fn server_code<S: CodeStore>(
    state: &State<S>,
    id: &str,
    body: &[u8],
    access: Access,
) -> Answer {
    let options: ServerCodeBody = match body_json(body) {
        Ok(options) => options,
        Err(error) => return error.into(),
    };
    let target = match target_of(state, id, options.force).await {
        Ok(target) => target,
        Err(error) => return error.into(),
    };
    let mut issued = None;
    let result = server_code::issue_server_codes(&*state.store, &[target], |code| {
        issued = Some(code);
        Ok::<(), server_code::IssueError>(())
    })
    .await;
    match (result, issued) {
        (Ok(_), Some(code)) => {
            let mut answer = json!({
                "udid": code.udid.as_str(),
                "serial_number": code.serial,
                "committed": true,
            });
            if access.may_reveal() {
                answer["code"] = json!(code.code.to_string());
                answer["escrow_key"] = json!(hex::encode(code.escrow_key.as_bytes()));
            }
            Answer::json(201, &answer)
        }
        (Err(server_code::IssueError::Store(StoreError::ServerCodeAccepted { .. })), _) => {
            ApiError::new(
                409,
                "server_code_accepted",
                "Apple accepted a server code for this device; send {\"force\": true} to make another beside it",
            )
            .into()
        }
        (Err(server_code::IssueError::Store(error)), _) => {
            ApiError::new(409, "refused", error.to_string()).into()
        }
        (Err(error), _) => ApiError::new(500, "internal", error.to_string()).into(),
        (Ok(_), None) => ApiError::new(500, "internal", "no code was issued").into(),
    }
}

/// `POST /v1/devices/{id}/unlock`: the whole journey (the device code, then the server code
/// Apple accepted, every attempt in the history).
pub(crate) async fn unlock<S: CodeStore>(state: &State<S>, id: &str, body: &[u8]) -> Answer {
    let Some(setup) = state.config.unlock.as_ref() else {
        return ApiError::new(
            501,
            "unlock_not_configured",
            "the service was started without a way to unlock (--identity, or --unlock-via nanomdm)",
        )
        .into();
    };
    let options: UnlockBody = match body_json(body) {
        Ok(options) => options,
        Err(error) => return error.into(),
    };
    let mut requester = setup.requester.clone();
    if let Some(guid) = options.guid {
        requester.guid = guid;
    }
    let id = match percent_decoded(id) {
        Ok(id) => id,
        Err(error) => return error.into(),
    };
    let plan = match unlock::plan_for(
        &*state.store,
        &id,
        &DeviceIdentity::default(),
        &requester,
        Vec::new(),
    )
    .await
    {
        Ok(plan) => plan,
        Err(unlock::UnlockError::UnknownDevice { .. }) => {
            return ApiError::not_found("no record of this device").into();
        }
        Err(unlock::UnlockError::NoCodes) => {
            return ApiError::new(409, "no_codes", "the store holds no code for this device")
                .into();
        }
        Err(error) => return find_error(error).into(),
    };
    let done = unlock::unlock(&setup.client, &plan, Some(&*state.store)).await;
    let outcome = &done.outcome;
    let unlocked = outcome.verdict.is_unlocked();
    Metrics::add(if unlocked {
        &state.metrics.unlocks_unlocked
    } else {
        &state.metrics.unlocks_not_unlocked
    });
    // A rejected device code while the device is enrolled: it may have made a new one (an
    // erase); ask it again.
    let device_code_rejected = outcome
        .codes
        .iter()
        .any(|c| c.code == CodeSource::Device && matches!(c.verdict, Verdict::Rejected { .. }));
    if device_code_rejected && let Some(udid) = &plan.udid {
        match state
            .store
            .apply(udid, Change::AskForCodes { again: true }, Timestamp::now())
            .await
        {
            Ok(_) => state.wake.notify_one(),
            Err(error) => tracing::warn!(%udid, %error, "cannot ask the device again"),
        }
    }
    Answer::json(
        200,
        &json!({
            "unlocked": unlocked,
            "verdict": outcome.verdict.to_string(),
            "codes": outcome.codes.iter().map(|c| json!({
                "code": c.code.to_string(),
                "verdict": c.verdict.to_string(),
            })).collect::<Vec<_>>(),
            "attempts": outcome.attempts.len(),
            "recorded": done.recorded.as_ref().ok(),
            "record_error": done.recorded.as_ref().err().map(ToString::to_string),
        }),
    )
}
