//! The webhook journey: an event from NanoMDM or MicroMDM, read by `alb-nanomdm`, becomes the
//! changes `alb ingest` would make for the same property list (read by `alb-workflow`), plus what
//! the service itself tracks: the request for the device's codes on the first `TokenUpdate` of an
//! enrolment, and the answer to each command it sent.

use alb_nanomdm::webhook::{AckStatus, EventBody, Topic, WebhookEvent};
use alb_workflow::device_report::{IngestError, Report};
use code_store::{AnswerStatus, Change, CodeStore, StoreError, Timestamp, Udid};

use crate::asker::AskPolicy;

/// What to commit for one event, or why nothing.
#[derive(Debug)]
pub(crate) enum Intake {
    /// Nothing about a device's codes: answered 200, nothing written.
    Ignored(&'static str),
    /// Changes to one device's record.
    Changes {
        /// The device.
        udid: Udid,
        /// The message kind.
        message: String,
        /// The changes, in order.
        changes: Vec<Change>,
    },
}

/// How far an event's own time may be from the service's clock and still be taken as the
/// enrolment time (a duplicate delivery then enrols at the same time: no change).
const EVENT_TIME_SLACK: i64 = 7 * 86_400;

fn event_time(event: &WebhookEvent, now: Timestamp) -> Timestamp {
    event
        .created_at
        .map(|t| Timestamp::from_unix(t.unix_timestamp()))
        .filter(|t| (t.unix() - now.unix()).abs() <= EVENT_TIME_SLACK)
        .unwrap_or(now)
}

/// Reads `event` into the changes it makes. `store` is read only for an `Error` answer to one of
/// the service's commands (how many tries the ask had decides when to ask again).
///
/// # Errors
/// The payload is not a device message the store takes ([`IngestError`]), or the store failed.
pub(crate) async fn read(
    event: &WebhookEvent,
    store: &impl CodeStore,
    policy: &AskPolicy,
    now: Timestamp,
) -> Result<Intake, IngestError> {
    match (&event.topic, &event.body) {
        (
            Topic::Authenticate | Topic::TokenUpdate | Topic::CheckOut,
            EventBody::Checkin(checkin),
        ) => {
            let report = Report::read(&checkin.raw_payload, event_time(event, now))?;
            if report.user_channel {
                return Ok(Intake::Ignored("a user-channel message"));
            }
            let Some(udid) = report.udid else {
                return Ok(Intake::Ignored("a message from no device"));
            };
            let mut changes = report.changes;
            // The first TokenUpdate of an enrolment (or any, from servers that do not count
            // them): the device can take commands now, and must be asked before the user can
            // turn Activation Lock on. The store asks once per enrolment.
            if matches!(event.topic, Topic::TokenUpdate)
                && checkin.token_update_tally.is_none_or(|n| n <= 1)
            {
                changes.push(Change::AskForCodes { again: false });
            }
            if changes.is_empty() {
                return Ok(Intake::Ignored("nothing the store keeps"));
            }
            Ok(Intake::Changes {
                udid,
                message: report.message,
                changes,
            })
        }
        (Topic::Connect, EventBody::Acknowledge(ack)) => {
            if matches!(ack.status, AckStatus::Idle) {
                return Ok(Intake::Ignored("an idle poll"));
            }
            let report = Report::read(&ack.raw_payload, event_time(event, now))?;
            if report.user_channel {
                return Ok(Intake::Ignored("a user-channel result"));
            }
            let Some(udid) = report.udid else {
                return Ok(Intake::Ignored("a result from no device"));
            };
            let mut changes = report.changes;
            if let Some(uuid) = ack.command_uuid.as_deref().filter(|u| !u.is_empty()) {
                // Without a code in the answer: "no code" for the bypass-code request (the store
                // knows which command this is; for any other it is a plain acknowledgement).
                let no_code = !changes
                    .iter()
                    .any(|c| matches!(c, Change::DeviceCode(Some(_))));
                let status = answer_status(&ack.status, no_code);
                let retry_at = retry_at(store, &udid, uuid, &status, policy, now).await?;
                changes.push(Change::CommandAnswered {
                    uuid: uuid.to_owned(),
                    status,
                    retry_at,
                });
            }
            if changes.is_empty() {
                return Ok(Intake::Ignored("nothing the store keeps"));
            }
            Ok(Intake::Changes {
                udid,
                message: report.message,
                changes,
            })
        }
        _ => Ok(Intake::Ignored("a topic the service does not read")),
    }
}

fn answer_status(status: &AckStatus, no_code: bool) -> AnswerStatus {
    match status {
        AckStatus::Acknowledged if no_code => AnswerStatus::NoCode,
        AckStatus::Acknowledged => AnswerStatus::Acknowledged,
        AckStatus::NotNow => AnswerStatus::NotNow,
        AckStatus::Error => AnswerStatus::Error,
        AckStatus::CommandFormatError => AnswerStatus::CommandFormatError,
        other => AnswerStatus::Other(other.as_str().to_owned()),
    }
}

/// When to ask again after an answer: after an `Error` to the bypass-code request, with the
/// policy's backoff, while tries are left; never otherwise (`NotNow` stays queued on the MDM
/// server, which sends it again).
async fn retry_at(
    store: &impl CodeStore,
    udid: &Udid,
    uuid: &str,
    status: &AnswerStatus,
    policy: &AskPolicy,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    if !matches!(
        status,
        AnswerStatus::Error | AnswerStatus::CommandFormatError
    ) {
        return Ok(None);
    }
    let Some(record) = store.record(udid).await? else {
        return Ok(None);
    };
    let Some(ask) = record.commands.ask.as_ref() else {
        return Ok(None);
    };
    if !ask.commands.iter().any(|c| c.uuid == uuid) || ask.tries >= policy.max_tries {
        return Ok(None);
    }
    Ok(Some(policy.next_try(now, ask.tries)))
}
