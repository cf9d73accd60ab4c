//! [`Fleet`]: the simulated devices as Apple's activation servers see them — each device's
//! active bypass code, and the escrow key an MDM server registered for it.

use alloc::sync::Arc;
use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use bypass_code::{BypassCode, EscrowKey};

use crate::SimulatedDevice;

/// The simulated devices by serial number, shared between a test (which erases, locks and
/// questions them) and the [escrow stand-in](crate::EscrowService) (which unlocks them).
///
/// It also models what Apple learns from the device enrolment service: when the server itself
/// initiates Activation Lock it registers the escrow key (hash) of a code it created; that code
/// then unlocks the device too, whatever the device's own code is (SPEC.md §1).
///
/// Cloning gives another handle to the same fleet.
#[derive(Clone, Debug, Default)]
pub struct Fleet {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    devices: HashMap<String, SimulatedDevice>,
    escrow_keys: HashMap<String, EscrowKey>,
}

impl Fleet {
    /// An empty fleet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds (or replaces) a device, keyed by its serial number; returns the serial number.
    pub fn add(&self, device: SimulatedDevice) -> String {
        let serial = device.serial.clone();
        self.lock().devices.insert(serial.clone(), device);
        serial
    }

    /// How many devices the fleet holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().devices.len()
    }

    /// Whether the fleet holds no device.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().devices.is_empty()
    }

    /// Runs `f` on the device with this serial number; `None` when there is none.
    /// (The fleet is locked meanwhile: keep `f` short.)
    pub fn with_device<R>(
        &self,
        serial: &str,
        f: impl FnOnce(&mut SimulatedDevice) -> R,
    ) -> Option<R> {
        self.lock().devices.get_mut(serial).map(f)
    }

    /// Runs `f` on the device with this UDID (its enrollment id); `None` when there is none.
    /// (The fleet is locked meanwhile: keep `f` short.)
    pub fn with_udid<R>(&self, udid: &str, f: impl FnOnce(&mut SimulatedDevice) -> R) -> Option<R> {
        self.lock()
            .devices
            .values_mut()
            .find(|device| device.udid == udid)
            .map(f)
    }

    /// Records that the MDM server initiated Activation Lock for this device with `escrow_key`
    /// (the device enrolment service's `escrow_key`), replacing any earlier one.
    pub fn register_escrow_key(&self, serial: &str, escrow_key: EscrowKey) {
        self.lock()
            .escrow_keys
            .insert(serial.to_owned(), escrow_key);
    }

    /// What Apple's service does with an unlock request: when the device exists and `code` is
    /// its active code, or the code whose escrow key the server registered for it, Activation
    /// Lock is removed and this returns `true`; otherwise nothing changes and it returns `false`.
    pub fn try_unlock(&self, serial: &str, code: &BypassCode) -> bool {
        let registered = {
            let mut inner = self.lock();
            let Some(device) = inner.devices.get_mut(serial) else {
                return false;
            };
            if device.active_code() == Some(code) {
                device.unlock();
                return true;
            }
            inner.escrow_keys.get(serial).cloned()
        };
        // The hash is 50,000 HMAC iterations: checked without holding the lock.
        if registered.is_some_and(|key| code.matches(&key)) {
            return self.with_device(serial, SimulatedDevice::unlock).is_some();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_active_or_the_registered_code_unlocks() {
        let fleet = Fleet::new();
        let mut device = SimulatedDevice::new(7);
        device.lock();
        let old = device.active_code().cloned().unwrap();
        let serial = fleet.add(device);
        let server = BypassCode::from([0x42; 16]);

        assert!(!fleet.try_unlock(&serial, &server));
        assert!(!fleet.try_unlock("NOSUCHSERIAL", &old));
        assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(true));

        fleet.with_device(&serial, SimulatedDevice::erase);
        assert!(!fleet.try_unlock(&serial, &old), "erase made a new code");
        fleet.register_escrow_key(&serial, server.escrow_key());
        assert!(fleet.try_unlock(&serial, &server));
        assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(false));
    }
}
