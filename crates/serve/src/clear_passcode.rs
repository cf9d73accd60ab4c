//! `POST /v1/devices/{id}/clear-passcode`: `ClearPasscode` queued through NanoMDM with the
//! device's stored unlock token, so nobody handles the token (the command and its refusals are
//! `alb-workflow`'s). The device's answer comes back through the webhook, into the record's
//! commands.

use code_store::{Change, CodeStore, CommandKind, Timestamp};
use serde_json::json;

use crate::{ApiError, Metrics, api, service::Answer, service::State};

/// Queues `ClearPasscode` for the device `id`.
pub(crate) async fn clear_passcode<S: CodeStore>(state: &State<S>, id: &str) -> Answer {
    let Some(nanomdm) = state.config.nanomdm.as_ref() else {
        return ApiError::new(
            501,
            "nanomdm_not_configured",
            "the service was started without --nanomdm-url: it cannot send commands",
        )
        .into();
    };
    let record = match api::one_record(state, id).await {
        Ok(record) => record,
        Err(error) => return error.into(),
    };
    let uuid = uuid::Uuid::new_v4().to_string().to_uppercase();
    let command = match alb_workflow::clear_passcode::command_for(&record, uuid.clone()) {
        Ok(command) => command,
        Err(error) => return ApiError::new(409, error.kind(), error.to_string()).into(),
    };
    let xml = match command.to_xml() {
        Ok(xml) => zeroize::Zeroizing::new(xml),
        Err(error) => return ApiError::new(500, "internal", error.to_string()).into(),
    };
    let now = Timestamp::now();
    let recorded = Change::CommandsRecorded {
        commands: vec![(CommandKind::ClearPasscode, uuid.clone())],
        retry_at: now,
    };
    if let Err(error) = state.store.apply(&record.udid, recorded, now).await {
        return ApiError::store(&error).into();
    }
    let (change, answer) = match crate::nanomdm::enqueue(nanomdm, record.udid.as_str(), &xml).await
    {
        Ok(()) => {
            Metrics::add(&state.metrics.commands_queued);
            (
                Change::CommandsQueued {
                    uuids: vec![uuid.clone()],
                },
                Answer::json(
                    202,
                    &json!({ "status": "queued", "command_uuid": uuid, "udid": record.udid.as_str() }),
                ),
            )
        }
        Err(reason) => {
            Metrics::add(&state.metrics.commands_failed);
            (
                Change::CommandsNotQueued {
                    uuids: vec![uuid.clone()],
                    reason: reason.clone(),
                    retry_at: None,
                },
                ApiError::new(502, "nanomdm", reason).into(),
            )
        }
    };
    if let Err(error) = state
        .store
        .apply(&record.udid, change, Timestamp::now())
        .await
    {
        tracing::warn!(udid = %record.udid, %error, "cannot record how ClearPasscode went");
    }
    answer
}
