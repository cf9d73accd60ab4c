//! The [`CodeStore`] trait: what every backend offers, implemented once over the backends'
//! atomic read-modify-write.

use core::future::Future;

use crate::{
    DeviceRecord, Outcome, Protection, StoreError, Timestamp, Udid,
    record::Change,
    row::{self, HistoryEntry, SealedEvent, SealedRecord, Transition},
};

/// Which records a query selects.
#[derive(Clone, Debug)]
pub enum Filter {
    /// Every record, by UDID.
    All,
    /// Records with this serial number.
    Serial(String),
    /// Records without a device code.
    WithoutDeviceCode,
    /// Records whose last unlock attempt did not unlock.
    LastUnlockFailed,
}

pub(crate) mod sealed {
    use super::*;

    /// What a backend provides: an atomic read-modify-write of one device row (plus appending
    /// its history rows), and plain queries. Backends hold no rule.
    pub trait Backend: Send + Sync {
        /// How secrets are protected.
        fn protection(&self) -> &Protection;

        /// Atomically: reads the row of `udid` (locked against concurrent writers), calls
        /// `decide`, and writes what it returns.
        fn update<F>(
            &self,
            udid: &Udid,
            decide: F,
        ) -> impl Future<Output = Result<Outcome, StoreError>> + Send
        where
            F: FnOnce(Option<SealedRecord>) -> Result<Transition, StoreError> + Send + 'static;

        /// The row of `udid`.
        fn get(
            &self,
            udid: &Udid,
        ) -> impl Future<Output = Result<Option<SealedRecord>, StoreError>> + Send;

        /// The rows `filter` selects, ordered by UDID.
        fn select(
            &self,
            filter: Filter,
        ) -> impl Future<Output = Result<Vec<SealedRecord>, StoreError>> + Send;

        /// The history rows of `udid`, oldest first.
        fn history_rows(
            &self,
            udid: &Udid,
        ) -> impl Future<Output = Result<Vec<SealedEvent>, StoreError>> + Send;
    }
}

/// A device still without a device code, and how long is left to retrieve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingDevice {
    /// The record.
    pub record: DeviceRecord,
    /// The end of the 15-day window, when the enrolment time is known.
    pub deadline: Option<Timestamp>,
    /// Whole days left until the deadline (negative once it has passed).
    pub days_left: Option<i64>,
}

/// The store of every device's bypass codes: one interface over every backend.
///
/// Every change goes through [`DeviceRecord::apply`] inside the backend's atomic
/// read-modify-write, so concurrent writers (tasks, processes, servers sharing one PostgreSQL
/// database) can neither lose an update nor break the retention rule.
pub trait CodeStore: Send + Sync {
    /// Applies `change` to the record of `udid` at time `at` (creating the record when the change
    /// stores something), appending what happened to the history.
    ///
    /// # Errors
    /// Database failures; [`StoreError::KeyMissing`] when a secret would be written without a
    /// key; the decryption errors of the stored record.
    fn apply(
        &self,
        udid: &Udid,
        change: Change,
        at: Timestamp,
    ) -> impl Future<Output = Result<Outcome, StoreError>> + Send;

    /// The current record of `udid`.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn record(
        &self,
        udid: &Udid,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send;

    /// The records whose UDID or serial number is `udid_or_serial`.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn find(
        &self,
        udid_or_serial: &str,
    ) -> impl Future<Output = Result<Vec<DeviceRecord>, StoreError>> + Send;

    /// The history of `udid`, oldest first.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn history(
        &self,
        udid: &Udid,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;

    /// Every record, ordered by UDID (for exports).
    ///
    /// # Errors
    /// Database and decryption failures.
    fn records(&self) -> impl Future<Output = Result<Vec<DeviceRecord>, StoreError>> + Send;

    /// Devices without a device code, soonest deadline first (unknown deadlines last).
    ///
    /// # Errors
    /// Database and decryption failures.
    fn missing(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<MissingDevice>, StoreError>> + Send;

    /// Devices whose last unlock attempt did not unlock them.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn failed_unlocks(&self) -> impl Future<Output = Result<Vec<DeviceRecord>, StoreError>> + Send;
}

fn decode_all(
    protection: &Protection,
    rows: &[SealedRecord],
) -> Result<Vec<DeviceRecord>, StoreError> {
    rows.iter()
        .map(|r| row::decode_record(protection, r))
        .collect()
}

impl<B: sealed::Backend> CodeStore for B {
    async fn apply(
        &self,
        udid: &Udid,
        change: Change,
        at: Timestamp,
    ) -> Result<Outcome, StoreError> {
        let protection = self.protection().clone();
        let key = udid.clone();
        self.update(udid, move |stored| {
            row::transition(&protection, &key, stored, change, at)
        })
        .await
    }

    async fn record(&self, udid: &Udid) -> Result<Option<DeviceRecord>, StoreError> {
        self.get(udid)
            .await?
            .map(|r| row::decode_record(self.protection(), &r))
            .transpose()
    }

    async fn find(&self, udid_or_serial: &str) -> Result<Vec<DeviceRecord>, StoreError> {
        let mut found = Vec::new();
        if let Ok(udid) = Udid::new(udid_or_serial)
            && let Some(record) = self.record(&udid).await?
        {
            found.push(record);
        }
        if crate::device::check_serial(udid_or_serial).is_ok() {
            let rows = self
                .select(Filter::Serial(udid_or_serial.to_owned()))
                .await?;
            for record in decode_all(self.protection(), &rows)? {
                if !found.iter().any(|f: &DeviceRecord| f.udid == record.udid) {
                    found.push(record);
                }
            }
        }
        Ok(found)
    }

    async fn history(&self, udid: &Udid) -> Result<Vec<HistoryEntry>, StoreError> {
        self.history_rows(udid)
            .await?
            .iter()
            .map(|r| row::decode_event(self.protection(), r))
            .collect()
    }

    async fn records(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        decode_all(self.protection(), &self.select(Filter::All).await?)
    }

    async fn missing(&self, now: Timestamp) -> Result<Vec<MissingDevice>, StoreError> {
        let rows = self.select(Filter::WithoutDeviceCode).await?;
        let mut missing: Vec<MissingDevice> = decode_all(self.protection(), &rows)?
            .into_iter()
            .map(|record| {
                let deadline = record.device_code_deadline();
                let days_left = deadline.map(|d| (d.unix() - now.unix()).div_euclid(86_400));
                MissingDevice {
                    record,
                    deadline,
                    days_left,
                }
            })
            .collect();
        missing.sort_by_key(|m| (m.deadline.is_none(), m.deadline, m.record.udid.clone()));
        Ok(missing)
    }

    async fn failed_unlocks(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        decode_all(
            self.protection(),
            &self.select(Filter::LastUnlockFailed).await?,
        )
    }
}
