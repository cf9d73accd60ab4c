//! [`MemoryStore`]: the in-memory backend (tests, embedding, dry runs).

use alloc::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use crate::{
    Protection, StoreError, Udid,
    mode::Sealing,
    store::{
        Filter,
        sealed::{Backend, Rows, Scope, Transition},
    },
    table::{SealedEvent, SealedRecord},
};

/// A store held in memory: same rules, same sealing, nothing survives the process.
#[derive(Debug)]
pub struct MemoryStore {
    sealing: Sealing,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<String, SealedRecord>,
    /// The UDIDs of the rows with each serial number (as a database's index on the column).
    by_serial: BTreeMap<String, BTreeSet<String>>,
    history: Vec<SealedEvent>,
    secrets: BTreeMap<String, Vec<u8>>,
}

impl State {
    /// Puts `row` in place of the row with its UDID, keeping the serial-number index.
    fn insert(&mut self, row: SealedRecord) -> Option<SealedRecord> {
        if let Some(serial) = &row.serial_number {
            self.by_serial
                .entry(serial.clone())
                .or_default()
                .insert(row.udid.clone());
        }
        let udid = row.udid.clone();
        let before = self.devices.insert(udid.clone(), row);
        self.unindex(&udid, before.as_ref());
        before
    }

    /// Removes the row of `udid`, keeping the serial-number index.
    fn remove(&mut self, udid: &str) -> Option<SealedRecord> {
        let before = self.devices.remove(udid);
        self.unindex(udid, before.as_ref());
        before
    }

    /// Drops `udid` from the index entry of `before`'s serial number, unless the row now in
    /// place still has that serial number.
    fn unindex(&mut self, udid: &str, before: Option<&SealedRecord>) {
        let Some(old) = before.and_then(|b| b.serial_number.as_ref()) else {
            return;
        };
        let current = self
            .devices
            .get(udid)
            .and_then(|r| r.serial_number.as_ref());
        if current == Some(old) {
            return;
        }
        if let Some(set) = self.by_serial.get_mut(old) {
            set.remove(udid);
            if set.is_empty() {
                self.by_serial.remove(old);
            }
        }
    }

    /// The rows with this serial number.
    fn with_serial(&self, serial: &str) -> impl Iterator<Item = &SealedRecord> {
        self.by_serial
            .get(serial)
            .into_iter()
            .flatten()
            .filter_map(|udid| self.devices.get(udid))
    }
}

impl MemoryStore {
    /// An empty store protecting secrets as `protection` says.
    #[must_use]
    pub fn new(protection: Protection) -> Self {
        Self {
            sealing: Sealing::fixed(protection),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: rows are replaced
        // whole after `decide` returns, so the state is usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn matches(filter: &Filter, r: &SealedRecord) -> bool {
    match filter {
        Filter::All => true,
        Filter::Serial(serial) => r.serial_number.as_ref() == Some(serial),
        Filter::WithoutDeviceCode => r.device_code.is_none(),
        Filter::AskDue(at) => r.ask_due_at.is_some_and(|due| due <= at.unix()),
        Filter::LastUnlockFailed => r
            .last_unlock_outcome
            .as_deref()
            .is_some_and(|o| o != "unlocked"),
    }
}

impl Backend for MemoryStore {
    fn sealing(&self) -> &Sealing {
        &self.sealing
    }

    async fn update_many<T, F>(
        &self,
        scopes: Vec<Scope>,
        mut decide: F,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(usize, Rows) -> Result<Transition<T>, StoreError> + Send + 'static,
    {
        let mut state = self.lock();
        // All or nothing: each row the group replaces or deletes is remembered, and put back
        // (newest first) when a later change fails.
        let mut undo: Vec<(String, Option<SealedRecord>)> = Vec::new();
        let history_before = state.history.len();
        let mut results = Vec::with_capacity(scopes.len());
        for (index, scope) in scopes.iter().enumerate() {
            let target_key = scope.udid.as_ref().map(Udid::as_str);
            let rows = Rows {
                target: target_key.and_then(|k| state.devices.get(k).cloned()),
                peers: match &scope.serial {
                    Some(serial) => {
                        let placeholder = crate::device::placeholder_key(serial);
                        let peers: BTreeMap<&str, &SealedRecord> = state
                            .with_serial(serial)
                            .chain(state.devices.get(&placeholder))
                            .filter(|r| Some(r.udid.as_str()) != target_key)
                            .map(|r| (r.udid.as_str(), r))
                            .collect();
                        // In UDID order, as the databases return them.
                        peers.into_values().cloned().collect()
                    }
                    None => Vec::new(),
                },
            };
            let transition = match decide(index, rows) {
                Ok(transition) => transition,
                Err(error) => {
                    for (udid, before) in undo.into_iter().rev() {
                        match before {
                            Some(row) => state.insert(row),
                            None => state.remove(&udid),
                        };
                    }
                    state.history.truncate(history_before);
                    return Err(error);
                }
            };
            for row in transition.upserts {
                let udid = row.udid.clone();
                let before = state.insert(row);
                undo.push((udid, before));
            }
            for udid in &transition.deletes {
                let before = state.remove(udid);
                undo.push((udid.clone(), before));
            }
            for mut event in transition.events {
                event.seq = i64::try_from(state.history.len()).unwrap_or(i64::MAX) + 1;
                state.history.push(event);
            }
            results.push(transition.result);
        }
        Ok(results)
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        Ok(self.lock().devices.get(udid.as_str()).cloned())
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        let state = self.lock();
        if let Filter::Serial(serial) = &filter {
            return Ok(state.with_serial(serial).cloned().collect());
        }
        Ok(state
            .devices
            .values()
            .filter(|r| matches(&filter, r))
            .cloned()
            .collect())
    }

    async fn history_rows(&self, udid: &Udid) -> Result<Vec<SealedEvent>, StoreError> {
        Ok(self
            .lock()
            .history
            .iter()
            .filter(|e| e.udid == udid.as_str())
            .cloned()
            .collect())
    }

    async fn put_secret_row(
        &self,
        name: &str,
        sealed: Vec<u8>,
        _at: i64,
    ) -> Result<(), StoreError> {
        self.lock().secrets.insert(name.to_owned(), sealed);
        Ok(())
    }

    async fn secret_row(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().secrets.get(name).cloned())
    }
}
