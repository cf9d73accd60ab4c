//! What one change does to the rows it locked: decode, apply the rules, encode. The only code
//! path by which any backend changes a record.
//!
//! Besides [`DeviceRecord::apply`] (one record's rules), this is where the serial-number rule
//! lives: one serial number belongs to one enrolled device; a `serial:` placeholder (a server
//! code made before its device enrolled) is merged into the first enrolled device that reports
//! its serial number, and removed, in the same transaction; a second device claiming the serial
//! number of an enrolled device is refused, and the refusal is recorded in its history.

use bypass_code::{BypassCode, EscrowKey};

use crate::{
    Change, CommittedServerCode, DeviceIdentity, DeviceRecord, Event, Ignored, Outcome,
    ServerCodeTarget, StoreError, Timestamp, Udid,
    mode::Sealing,
    row,
    store::sealed::{Rows, Transition},
    table::SealedRecord,
};

/// The serial number `change` claims for `udid`, which its transaction must lock and look up:
/// a reported or restored identity's, for an enrolled device (a placeholder's serial number is
/// its key).
pub(crate) fn claimed_serial(udid: &Udid, change: &Change) -> Option<String> {
    if udid.is_placeholder() {
        return None;
    }
    match change {
        Change::Identity(identity) => identity.serial_number.clone(),
        Change::Restore(record) => record.identity.serial_number.clone(),
        _ => None,
    }
}

/// The changes of one transaction, gathered per record, then encoded.
struct Plan<'a> {
    sealing: &'a Sealing,
    at: Timestamp,
    /// Records to write, with the events each gained (`created`: it had no row).
    records: Vec<(DeviceRecord, Vec<Event>, bool)>,
    /// Placeholders merged away: deleted, with a last event in their history.
    merged: Vec<(Udid, Event)>,
}

impl<'a> Plan<'a> {
    fn new(sealing: &'a Sealing, at: Timestamp) -> Self {
        Self {
            sealing,
            at,
            records: Vec::new(),
            merged: Vec::new(),
        }
    }

    fn into_transition<T>(self, result: T) -> Result<Transition<T>, StoreError> {
        let mut upserts = Vec::new();
        let mut events = Vec::new();
        for (record, mut gained, created) in self.records {
            if gained.is_empty() {
                continue;
            }
            if created {
                gained.insert(0, Event::Created);
            }
            upserts.push(row::encode_record(self.sealing, &record)?);
            for event in &gained {
                events.push(row::encode_event(
                    self.sealing,
                    &record.udid,
                    self.at,
                    event,
                )?);
            }
        }
        let mut deletes = Vec::new();
        for (placeholder, event) in self.merged {
            events.push(row::encode_event(
                self.sealing,
                &placeholder,
                self.at,
                &event,
            )?);
            deletes.push(placeholder.to_string());
        }
        Ok(Transition {
            upserts,
            deletes,
            events,
            result,
        })
    }
}

/// Decodes the row of `udid` (or starts a new record, as old as `created_at`).
fn open_or_new(
    sealing: &Sealing,
    udid: &Udid,
    row: Option<&SealedRecord>,
    created_at: Timestamp,
) -> Result<(DeviceRecord, bool), StoreError> {
    Ok(match row {
        Some(row) => (row::decode_record(sealing, row)?, false),
        None => (DeviceRecord::new(udid.clone(), created_at), true),
    })
}

/// What claiming `serial` for the enrolled device `udid` finds among the other rows.
enum Claim<'r> {
    /// No other enrolled device has it; its placeholder, if any, is to be merged.
    Free(Option<&'r SealedRecord>),
    /// This enrolled device has it.
    Taken(Udid),
}

fn claim<'r>(udid: &Udid, serial: &str, peers: &'r [SealedRecord]) -> Claim<'r> {
    let placeholder = crate::device::placeholder_key(serial);
    let holder = peers.iter().find(|p| {
        p.udid != udid.as_str()
            && p.udid != placeholder
            && p.serial_number.as_deref() == Some(serial)
    });
    match holder.map(|h| Udid::new(&h.udid)) {
        Some(Ok(holder)) => Claim::Taken(holder),
        // A row whose key is not a valid UDID cannot hold anything.
        Some(Err(_)) | None => Claim::Free(peers.iter().find(|p| p.udid == placeholder)),
    }
}

/// Merges the placeholder `row` into `record`: its codes go through the restore rules (nothing
/// newer is replaced), the placeholder goes away with a last event in its history.
fn merge_placeholder(
    plan: &mut Plan<'_>,
    record: &mut DeviceRecord,
    outcome: &mut Outcome,
    row: &SealedRecord,
) -> Result<(), StoreError> {
    let mut placeholder = row::decode_record(plan.sealing, row)?;
    let key = placeholder.udid.clone();
    // Only the codes move; the placeholder knows nothing else about the device.
    placeholder.udid = record.udid.clone();
    placeholder.last_unlock = None;
    placeholder.identity = DeviceIdentity::default();
    placeholder.enrolled_at = None;
    // The merge is a change made now, not a restore of old data.
    placeholder.updated_at = plan.at;
    let merged = record.apply(Change::Restore(Box::new(placeholder)), plan.at);
    outcome.events.extend(merged.events);
    outcome.ignored.extend(merged.ignored);
    outcome.events.push(Event::PlaceholderMerged {
        placeholder: key.clone(),
    });
    plan.merged.push((
        key,
        Event::MergedInto {
            udid: record.udid.clone(),
        },
    ));
    Ok(())
}

/// [`CodeStore::apply`](crate::CodeStore::apply): `change` to the record of `udid`.
pub(crate) fn apply(
    sealing: &Sealing,
    udid: &Udid,
    rows: Rows,
    mut change: Change,
    at: Timestamp,
) -> Result<Transition<Outcome>, StoreError> {
    match &change {
        Change::Identity(identity) => identity.validate()?,
        Change::Restore(record) => record.identity.validate()?,
        _ => {}
    }
    // A restored record is as old as it was in the store it came from.
    let created_at = match &change {
        Change::Restore(record) => record.created_at,
        _ => at,
    };
    let (mut record, created) = open_or_new(sealing, udid, rows.target.as_ref(), created_at)?;
    let mut plan = Plan::new(sealing, at);
    let mut outcome = Outcome::default();
    if let Some(serial) = claimed_serial(udid, &change)
        && record.identity.serial_number.as_deref() != Some(serial.as_str())
    {
        match claim(udid, &serial, &rows.peers) {
            Claim::Taken(holder) => {
                refuse_serial(&mut change);
                outcome.ignored.push(Ignored::SerialTaken);
                outcome.events.push(Event::SerialRefused { serial, holder });
            }
            Claim::Free(Some(placeholder)) => {
                merge_placeholder(&mut plan, &mut record, &mut outcome, placeholder)?;
            }
            Claim::Free(None) => {}
        }
    } else if let Some(serial) = claimed_serial(udid, &change)
        && let Claim::Free(Some(placeholder)) = claim(udid, &serial, &rows.peers)
    {
        // The device already has this serial number, and a placeholder for it is still there
        // (a version that copied placeholders instead of merging them): merge it now.
        merge_placeholder(&mut plan, &mut record, &mut outcome, placeholder)?;
    }
    let applied = record.apply(change, at);
    outcome.events.extend(applied.events);
    outcome.ignored.extend(applied.ignored);
    plan.records.push((record, outcome.events.clone(), created));
    if created && outcome.changed() {
        outcome.events.insert(0, Event::Created);
    }
    plan.into_transition(outcome)
}

/// Takes the serial number out of a change that claimed a serial number it may not have.
fn refuse_serial(change: &mut Change) {
    match change {
        Change::Identity(identity) => identity.serial_number = None,
        Change::Restore(record) => record.identity.serial_number = None,
        _ => {}
    }
}

/// [`CodeStore::commit_server_code`](crate::CodeStore::commit_server_code).
pub(crate) fn server_code(
    sealing: &Sealing,
    target: &ServerCodeTarget,
    rows: Rows,
    code: BypassCode,
    escrow_key: EscrowKey,
    at: Timestamp,
) -> Result<Transition<CommittedServerCode>, StoreError> {
    let serial = target.serial.as_str();
    let placeholder_key = crate::device::placeholder_key(serial);
    let mut plan = Plan::new(sealing, at);
    let mut outcome = Outcome::default();
    let (mut record, created, placeholder) = match &target.udid {
        Some(udid) => {
            let (record, created) = open_or_new(sealing, udid, rows.target.as_ref(), at)?;
            if let Some(stored) = &record.identity.serial_number
                && stored != serial
            {
                return Err(StoreError::SerialMismatch {
                    udid: udid.to_string(),
                    stored: stored.clone(),
                    given: serial.to_owned(),
                });
            }
            match claim(udid, serial, &rows.peers) {
                Claim::Taken(holder) => {
                    return Err(StoreError::SerialTaken {
                        serial: serial.to_owned(),
                        holder: holder.to_string(),
                        udid: udid.to_string(),
                    });
                }
                Claim::Free(placeholder) => (record, created, placeholder),
            }
        }
        None => {
            let enrolled: Vec<&SealedRecord> = rows
                .peers
                .iter()
                .filter(|p| p.udid != placeholder_key)
                .collect();
            match enrolled.as_slice() {
                [] => {
                    let udid = Udid::for_serial(serial)?;
                    let row = rows.peers.iter().find(|p| p.udid == placeholder_key);
                    let (record, created) = open_or_new(sealing, &udid, row, at)?;
                    (record, created, None)
                }
                [holder] => {
                    let (record, _) =
                        open_or_new(sealing, &Udid::new(&holder.udid)?, Some(holder), at)?;
                    let placeholder = rows.peers.iter().find(|p| p.udid == placeholder_key);
                    (record, false, placeholder)
                }
                many => {
                    return Err(StoreError::AmbiguousSerial {
                        serial: serial.to_owned(),
                        count: many.len(),
                    });
                }
            }
        }
    };
    if let Some(row) = placeholder {
        merge_placeholder(&mut plan, &mut record, &mut outcome, row)?;
    }
    if record.accepted_server_code.is_some() && !target.beside_accepted {
        return Err(StoreError::ServerCodeAccepted {
            udid: record.udid.to_string(),
        });
    }
    let identity = DeviceIdentity {
        serial_number: Some(serial.to_owned()),
        ..DeviceIdentity::default()
    };
    for change in [
        Change::ServerCode { code, escrow_key },
        Change::Identity(identity),
    ] {
        let applied = record.apply(change, at);
        outcome.events.extend(applied.events);
        outcome.ignored.extend(applied.ignored);
    }
    let udid = record.udid.clone();
    plan.records.push((record, outcome.events.clone(), created));
    if created && outcome.changed() {
        outcome.events.insert(0, Event::Created);
    }
    plan.into_transition(CommittedServerCode { udid, outcome })
}
