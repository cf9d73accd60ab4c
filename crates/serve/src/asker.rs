//! Asking devices for their codes through NanoMDM: every ask that is due (a new enrolment, a try
//! that failed, an `Error` answer) is claimed in the device's transaction, its two commands
//! (`ActivationLockBypassCode`, and `DeviceInformation` with the queries the unlock needs) are
//! recorded with their `CommandUUID`s, then queued. Only the instance whose claim changed the
//! record sends, so several instances on one database queue each command once.

use alloc::sync::Arc;
use core::time::Duration;

use alb_nanomdm::NanoMdmClient;
use code_store::{Change, CodeStore, CommandEvent, CommandKind, Event, Timestamp, Udid};
use mdm_protocol::{Command, CommandRequest, DeviceInformation};

use crate::Metrics;

/// When and how often devices are asked.
#[derive(Clone, Copy, Debug)]
pub struct AskPolicy {
    /// How often due asks are looked for (besides right after an enrolment is committed).
    pub interval: Duration,
    /// How long a claimed ask waits for its sender to report before another may send it.
    pub lease: Duration,
    /// The most tries of one ask.
    pub max_tries: u32,
    /// The wait after the first failed try; doubled for each further one, at most an hour.
    pub backoff: Duration,
}

impl Default for AskPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            lease: Duration::from_secs(600),
            max_tries: 5,
            backoff: Duration::from_secs(60),
        }
    }
}

impl AskPolicy {
    /// When the try after `tries` tries may be queued.
    ///
    /// Timestamps have one-second resolution and `now` is rounded down, so the real instant may
    /// be up to a second later than `now`: one second more keeps the wait never shorter than the
    /// backoff.
    #[must_use]
    pub fn next_try(&self, now: Timestamp, tries: u32) -> Timestamp {
        let factor = 1u64 << tries.saturating_sub(1).min(16);
        let wait = self.backoff.as_secs().saturating_mul(factor).clamp(1, 3600);
        Timestamp::from_unix(
            now.unix()
                .saturating_add(i64::try_from(wait).unwrap_or(3600))
                .saturating_add(1),
        )
    }

    fn lease_until(&self, now: Timestamp) -> Timestamp {
        let lease = i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX);
        Timestamp::from_unix(now.unix().saturating_add(lease))
    }
}

/// The request-for-codes commands, each with a fresh `CommandUUID`.
fn ask_commands() -> Vec<(CommandKind, String, Command)> {
    let uuid = || uuid::Uuid::new_v4().to_string().to_uppercase();
    let code = uuid();
    let info = uuid();
    vec![
        (
            CommandKind::BypassCode,
            code.clone(),
            Command::with_uuid(code, CommandRequest::ActivationLockBypassCode),
        ),
        (
            CommandKind::DeviceInformation,
            info.clone(),
            Command::with_uuid(
                info,
                CommandRequest::DeviceInformation(DeviceInformation::for_unlock()),
            ),
        ),
    ]
}

/// Sends every ask due at `now`; returns how many devices were asked.
pub(crate) async fn ask_due<S: CodeStore>(
    store: &S,
    nanomdm: &NanoMdmClient,
    policy: &AskPolicy,
    metrics: &Metrics,
) -> usize {
    let now = Timestamp::now();
    let due = match store.asks_due(now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "cannot list the asks due");
            return 0;
        }
    };
    let mut asked = 0;
    for record in due {
        if ask_one(store, nanomdm, policy, metrics, &record.udid).await {
            asked += 1;
        }
    }
    asked
}

/// Claims, records, queues one device's ask; whether this instance sent it.
async fn ask_one<S: CodeStore>(
    store: &S,
    nanomdm: &NanoMdmClient,
    policy: &AskPolicy,
    metrics: &Metrics,
    udid: &Udid,
) -> bool {
    let now = Timestamp::now();
    let commands = ask_commands();
    let recorded = Change::CommandsRecorded {
        commands: commands
            .iter()
            .map(|(kind, uuid, _)| (*kind, uuid.clone()))
            .collect(),
        retry_at: policy.lease_until(now),
    };
    // The claim says which try this is; no claim (another instance has it, or it is no longer
    // due): nothing to send.
    let tries = match store.apply(udid, recorded, now).await {
        Ok(outcome) => match outcome.events.iter().find_map(|e| match e {
            Event::Command(CommandEvent::Recorded { try_number, .. }) => Some(*try_number),
            _ => None,
        }) {
            Some(tries) => tries,
            None => return false,
        },
        Err(error) => {
            tracing::warn!(%udid, %error, "cannot claim the ask");
            return false;
        }
    };
    let uuids: Vec<String> = commands.iter().map(|(_, u, _)| u.clone()).collect();
    let mut failure = None;
    for (_, uuid, command) in &commands {
        let sent = match command.to_xml() {
            Ok(xml) => crate::nanomdm::enqueue(nanomdm, udid.as_str(), &xml).await,
            Err(error) => Err(format!("cannot write the command: {error}")),
        };
        match sent {
            Ok(()) => {
                Metrics::add(&metrics.commands_queued);
                tracing::info!(%udid, uuid = %uuid, request = command.request.request_type(), "command queued");
            }
            Err(reason) => {
                Metrics::add(&metrics.commands_failed);
                failure = Some(reason);
                break;
            }
        }
    }
    let change = match failure {
        None => Change::CommandsQueued { uuids },
        Some(reason) => {
            tracing::warn!(%udid, %reason, tries, "the MDM server did not queue the ask");
            Change::CommandsNotQueued {
                uuids,
                reason,
                retry_at: (tries < policy.max_tries)
                    .then(|| policy.next_try(Timestamp::now(), tries)),
            }
        }
    };
    if let Err(error) = store.apply(udid, change, Timestamp::now()).await {
        // The lease expires and the ask is sent again: nothing is lost.
        tracing::warn!(%udid, %error, "cannot record how the ask went");
    }
    true
}

/// Runs the asker until `shutdown` resolves: at every interval, and whenever `wake` is
/// notified (an enrolment was committed).
pub(crate) async fn run<S: CodeStore>(
    store: Arc<S>,
    nanomdm: NanoMdmClient,
    policy: AskPolicy,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        ask_due(&*store, &nanomdm, &policy, &metrics).await;
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(policy.interval) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let p = AskPolicy::default();
        let t = Timestamp::from_unix(1000);
        // One second more than the backoff: `t` is rounded down.
        assert_eq!(p.next_try(t, 1).unix(), 1061);
        assert_eq!(p.next_try(t, 2).unix(), 1121);
        assert_eq!(p.next_try(t, 3).unix(), 1241);
        assert_eq!(p.next_try(t, 30).unix(), 4601);
    }

    #[test]
    fn two_commands_with_distinct_uuids() {
        let c = ask_commands();
        assert_eq!(c[0].0, CommandKind::BypassCode);
        assert_eq!(c[1].0, CommandKind::DeviceInformation);
        assert_ne!(c[0].1, c[1].1);
        assert_eq!(c[0].2.request.request_type(), "ActivationLockBypassCode");
    }
}
