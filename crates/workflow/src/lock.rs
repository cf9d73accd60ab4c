//! Locking a device to the organisation: its server-created code committed to the store, the
//! code marked sent, **only then** its escrow key sent to Apple's enrollment service
//! (`POST /device/activationlock`), and Apple's answer recorded.
//!
//! A device whose code Apple already accepted is not locked again. A device with a code that
//! was committed (or even sent) but never answered — a crash, a timeout — gets **the same code
//! again**, never a new one: Apple may hold it. A new code is made only for a device without a
//! pending one.

use alloc::collections::VecDeque;

use bypass_code::{BypassCode, EscrowKey};
use code_store::{
    Change, CodeStore, DeviceRecord, ServerCodeState, ServerCodeTarget, StoreError, Timestamp, Udid,
};
use dep_client::{
    ActivationLockRequest, ActivationLockStatus, DepClient, DepError, ServerToken, TokenError,
};

use crate::server_code::{self, IssueError, IssuedCode};

/// The name of the store secret that holds the enrollment service's server token.
pub const DEP_TOKEN_SECRET: &str = "dep-server-token";

/// How many devices' requests are in flight at once on the one session.
pub const IN_FLIGHT: usize = 16;

/// Devices per lock batch: one group commit per step (codes, sent, answers) for this many, so
/// the commits' syncs are paid per batch, not per device, while the next batch is hashed.
pub const LOCK_BATCH: usize = 64;

/// Batches hashed at once: the next batch starts hashing before the current one is done, so a
/// core that finishes its share of a batch (or is lent to commits and requests) never idles.
const HASHING_DEPTH: usize = 2;

/// Why a lock could not go on at all (a refusal for one device is a [`LockResult`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A server code could not be issued.
    #[error("{0}")]
    Issue(#[from] IssueError),
    /// The store holds no server token.
    #[error("the store holds no server token of Apple's enrollment service (alb dep token FILE)")]
    NoToken,
    /// The stored server token is not readable.
    #[error("the stored server token: {0}")]
    Token(#[from] TokenError),
}

/// How locking one device came out.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockResult {
    /// Apple answered `SUCCESS`: the device is locked with the server code, which the store
    /// now holds as the accepted one.
    Locked,
    /// Apple already holds an accepted server code of this device: nothing was sent.
    AlreadyLocked,
    /// Apple answered another status (kept verbatim): the device is not locked with this code.
    Refused(ActivationLockStatus),
    /// The request failed (network, session, terms not signed, throttled...): the code stays
    /// pending and the next lock sends it again.
    Failed(DepError),
}

impl LockResult {
    /// Whether the device is locked with a server code the store holds.
    #[must_use]
    pub const fn is_locked(&self) -> bool {
        matches!(self, Self::Locked | Self::AlreadyLocked)
    }

    /// A stable name: `locked`, `already-locked`, `refused`, `failed`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::AlreadyLocked => "already-locked",
            Self::Refused(_) => "refused",
            Self::Failed(_) => "failed",
        }
    }
}

/// One device's lock.
#[derive(Debug)]
pub struct DeviceLock {
    /// The device's record (a `serial:` placeholder before enrolment).
    pub udid: Udid,
    /// Its serial number.
    pub serial: String,
    /// Whether the code sent was made for this run (else it was a pending one, sent again).
    pub new_code: bool,
    /// How it came out.
    pub result: LockResult,
}

/// The server token the store holds.
///
/// # Errors
/// [`LockError::NoToken`], [`LockError::Token`], store failures.
pub async fn stored_token(store: &impl CodeStore) -> Result<ServerToken, LockError> {
    let json = store
        .secret(DEP_TOKEN_SECRET)
        .await?
        .ok_or(LockError::NoToken)?;
    Ok(ServerToken::from_json(&json)?)
}

/// Keeps `token` in the store, sealed under its key.
///
/// # Errors
/// Store failures ([`StoreError::KeyMissing`] without a key).
pub async fn keep_token(store: &impl CodeStore, token: &ServerToken) -> Result<(), StoreError> {
    store
        .put_secret(DEP_TOKEN_SECRET, &token.to_json_secret(), Timestamp::now())
        .await
}

/// What one device needs sent: the record and the code whose escrow key goes to Apple.
struct Pending {
    udid: Udid,
    serial: String,
    code: BypassCode,
    escrow_key: EscrowKey,
    new_code: bool,
}

/// The pending (unaccepted, not refused for good) server code of a record, to send again.
fn pending_code(record: &DeviceRecord) -> Option<(BypassCode, EscrowKey)> {
    record
        .server_code
        .as_ref()
        .filter(
            |c| !matches!(&c.state, ServerCodeState::Refused { status, .. } if status != "FAILED"),
        )
        .map(|c| (c.code.clone(), c.escrow_key.clone()))
}

/// The record a target names, if the store has one.
async fn record_of(
    store: &impl CodeStore,
    target: &ServerCodeTarget,
) -> Result<Option<DeviceRecord>, StoreError> {
    if let Some(udid) = &target.udid {
        return store.record(udid).await;
    }
    Ok(store.find(&target.serial).await?.into_iter().next())
}

/// Locks each device of `targets` (in order, in batches): a device whose code Apple accepted
/// is skipped; one with a pending code gets it again; the others get a new code, hashed by
/// [`server_code::start_hashing`] and handed out by [`server_code::commit`] only once durable. Each code
/// is marked sent in the store, then its escrow key goes to Apple ([`IN_FLIGHT`] requests at a
/// time on the client's one session), and Apple's answer is recorded. `reported` sees each
/// device once its answer is durable.
///
/// Pipelined: while batches of new codes ([`LOCK_BATCH`], two at a time) have their escrow keys
/// computed (on every core), the next batch's devices are looked up, and the batch before is
/// committed, sent and its answers recorded, so a long list is bound by hashing, not by lookups,
/// commits and round trips. Each batch's writes are group commits (one transaction per step).
///
/// # Errors
/// [`LockError`] when the store fails (the devices already reported are done).
pub async fn lock_devices<S: CodeStore>(
    store: &S,
    client: &DepClient,
    targets: &[ServerCodeTarget],
    lost_message: Option<&str>,
    mut reported: impl FnMut(DeviceLock),
) -> Result<usize, LockError> {
    let mut done = 0;
    let mut chunks = targets.chunks(LOCK_BATCH);
    let mut fresh: VecDeque<ServerCodeTarget> = VecDeque::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut hashing: VecDeque<server_code::Hashing> = VecDeque::new();
    loop {
        // Look devices up a batch at a time until the next batch of new codes is known (while
        // the current batch hashes), so hashing starts after one batch's lookups, not all.
        while fresh.len() < LOCK_BATCH {
            let Some(chunk) = chunks.next() else { break };
            for target in chunk {
                match record_of(store, target).await? {
                    Some(record)
                        if record.accepted_server_code.is_some() && !target.beside_accepted =>
                    {
                        reported(DeviceLock {
                            udid: record.udid,
                            serial: target.serial.clone(),
                            new_code: false,
                            result: LockResult::AlreadyLocked,
                        });
                        done += 1;
                    }
                    Some(record) => match pending_code(&record) {
                        Some((code, escrow_key)) => pending.push(Pending {
                            udid: record.udid,
                            serial: target.serial.clone(),
                            code,
                            escrow_key,
                            new_code: false,
                        }),
                        None => fresh.push_back(target.clone()),
                    },
                    None => fresh.push_back(target.clone()),
                }
            }
        }
        if hashing.len() < HASHING_DEPTH && !fresh.is_empty() {
            hashing.push_back(start_next(&mut fresh)?);
            // The next batch is looked up while this one hashes.
            continue;
        }
        // Codes made before (never answered): sent again while new ones are hashed.
        while !pending.is_empty() {
            let batch: Vec<Pending> = pending.drain(..pending.len().min(LOCK_BATCH)).collect();
            done += send(store, client, batch, lost_message, &mut reported).await?;
        }
        let Some(current) = hashing.pop_front() else {
            // Nothing hashing and nothing new left: every device was looked up.
            break;
        };
        let hashed = current.finish().await?;
        if !fresh.is_empty() {
            hashing.push_back(start_next(&mut fresh)?);
        }
        let issued = server_code::commit(store, hashed).await?;
        let batch = issued
            .into_iter()
            .map(|issued: IssuedCode| Pending {
                udid: issued.udid,
                serial: issued.serial,
                code: issued.code,
                escrow_key: issued.escrow_key,
                new_code: true,
            })
            .collect();
        done += send(store, client, batch, lost_message, &mut reported).await?;
    }
    Ok(done)
}

/// Starts hashing the next batch of new codes (at most [`LOCK_BATCH`]).
fn start_next(fresh: &mut VecDeque<ServerCodeTarget>) -> Result<server_code::Hashing, IssueError> {
    let batch: Vec<ServerCodeTarget> = fresh.drain(..fresh.len().min(LOCK_BATCH)).collect();
    server_code::start_hashing(batch)
}

/// Marks each code sent (durably), sends the escrow keys, records the answers.
async fn send<S: CodeStore>(
    store: &S,
    client: &DepClient,
    pending: Vec<Pending>,
    lost_message: Option<&str>,
    reported: &mut impl FnMut(DeviceLock),
) -> Result<usize, LockError> {
    let mut requests = Vec::with_capacity(pending.len());
    let mut sendable = Vec::with_capacity(pending.len());
    let mut marks = Vec::with_capacity(pending.len());
    for device in pending {
        let request = ActivationLockRequest::new(device.serial.clone(), device.escrow_key.clone())
            .and_then(|r| match lost_message {
                Some(text) => r.with_lost_message(text),
                None => Ok(r),
            });
        match request {
            Ok(request) => {
                marks.push((
                    device.udid.clone(),
                    Change::ServerCodeSent {
                        escrow_key: device.escrow_key.clone(),
                    },
                ));
                requests.push(request);
                sendable.push(device);
            }
            Err(error) => reported(DeviceLock {
                udid: device.udid,
                serial: device.serial,
                new_code: device.new_code,
                result: LockResult::Failed(DepError::Request(error)),
            }),
        }
    }
    // Every code marked sent, in one transaction, before any escrow key leaves.
    store.apply_all(marks, Timestamp::now()).await?;
    let count = sendable.len();
    let answers = client.activation_lock_all(requests, IN_FLIGHT).await;
    // Every answer recorded, in one transaction, before any device is reported.
    let answered: Vec<(Udid, Change)> = sendable
        .iter()
        .zip(&answers)
        .filter_map(|(device, answer)| {
            let outcome = answer.as_ref().ok()?;
            Some((
                device.udid.clone(),
                Change::ServerCodeAnswered {
                    escrow_key: device.escrow_key.clone(),
                    status: outcome.status.as_wire().to_owned(),
                },
            ))
        })
        .collect();
    store.apply_all(answered, Timestamp::now()).await?;
    for (device, answer) in sendable.into_iter().zip(answers) {
        let result = match answer {
            Ok(outcome) => match outcome.status {
                ActivationLockStatus::Success => LockResult::Locked,
                other => LockResult::Refused(other),
            },
            Err(error) => LockResult::Failed(error),
        };
        // `code` is dropped (zeroized) here; only the result leaves.
        drop(device.code);
        reported(DeviceLock {
            udid: device.udid,
            serial: device.serial,
            new_code: device.new_code,
            result,
        });
    }
    Ok(count)
}
