//! [`MemoryStore`]: the in-memory backend (tests, embedding, dry runs).

use alloc::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::{
    Outcome, Protection, StoreError, Udid,
    row::{SealedEvent, SealedRecord, Transition},
    store::{Filter, sealed::Backend},
};

/// A store held in memory: same rules, same sealing, nothing survives the process.
#[derive(Debug)]
pub struct MemoryStore {
    protection: Protection,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<String, SealedRecord>,
    history: Vec<SealedEvent>,
}

impl MemoryStore {
    /// An empty store protecting secrets as `protection` says.
    #[must_use]
    pub fn new(protection: Protection) -> Self {
        Self {
            protection,
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

impl Backend for MemoryStore {
    fn protection(&self) -> &Protection {
        &self.protection
    }

    async fn update<F>(&self, udid: &Udid, decide: F) -> Result<Outcome, StoreError>
    where
        F: FnOnce(Option<SealedRecord>) -> Result<Transition, StoreError> + Send + 'static,
    {
        let mut state = self.lock();
        let stored = state.devices.get(udid.as_str()).cloned();
        let transition = decide(stored)?;
        if let Some((row, events)) = transition.write {
            state.devices.insert(row.udid.clone(), row);
            for mut event in events {
                event.seq = i64::try_from(state.history.len()).unwrap_or(i64::MAX) + 1;
                state.history.push(event);
            }
        }
        Ok(transition.outcome)
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        Ok(self.lock().devices.get(udid.as_str()).cloned())
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        let state = self.lock();
        Ok(state
            .devices
            .values()
            .filter(|r| match &filter {
                Filter::All => true,
                Filter::Serial(serial) => r.serial_number.as_ref() == Some(serial),
                Filter::WithoutDeviceCode => r.device_code.is_none(),
                Filter::LastUnlockFailed => r
                    .last_unlock_outcome
                    .as_deref()
                    .is_some_and(|o| o != "unlocked"),
            })
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
}
