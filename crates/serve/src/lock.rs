//! `POST /v1/devices/{id}/lock`: the lock journey of `alb lock` for one device (the server code
//! committed before its escrow key leaves for Apple's device enrollment service, Apple's answer
//! in the history), with the same outcomes.

use alb_workflow::lock::{LockResult, lock_devices};
use serde_json::json;

use crate::{ApiError, api, service::Answer, service::State};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LockBody {
    #[serde(default)]
    lost_message: Option<String>,
    #[serde(default)]
    force: bool,
}

/// Locks the device `id` to the organisation.
pub(crate) async fn lock<S: code_store::CodeStore>(
    state: &State<S>,
    id: &str,
    body: &[u8],
) -> Answer {
    let Some(setup) = state.config.lock.as_ref() else {
        return ApiError::new(
            501,
            "lock_not_configured",
            "the service has no server token of Apple's device enrollment service (alb dep token FILE.p7m)",
        )
        .into();
    };
    let options: LockBody = match api::body_json(body) {
        Ok(options) => options,
        Err(error) => return error.into(),
    };
    let target = match api::target_of(state, id, options.force).await {
        Ok(target) => target,
        Err(error) => return error.into(),
    };
    let lost_message = options
        .lost_message
        .as_deref()
        .or(setup.lost_message.as_deref());
    let mut locked = None;
    let result = lock_devices(
        &*state.store,
        &setup.client,
        &[target],
        lost_message,
        |device| {
            locked = Some(device);
        },
    )
    .await;
    match (result, locked) {
        (Ok(_), Some(device)) => {
            let (status, error) = match &device.result {
                LockResult::Refused(status) => (Some(status.as_wire().to_owned()), None),
                LockResult::Failed(error) => (None, Some(error.to_string())),
                _ => (None, None),
            };
            Answer::json(
                200,
                &json!({
                    "udid": device.udid.as_str(),
                    "serial_number": device.serial,
                    "new_code": device.new_code,
                    "result": device.result.name(),
                    "locked": device.result.is_locked(),
                    "status": status,
                    "error": error,
                }),
            )
        }
        (Ok(_), None) => ApiError::new(500, "internal", "the device was not reported").into(),
        (Err(error), _) => ApiError::new(503, "store", error.to_string()).into(),
    }
}
