//! The [`CodeStore`] trait: what every backend offers, implemented once over the backends'
//! atomic read-modify-write.

use core::future::Future;

use bypass_code::{BypassCode, EscrowKey};

use crate::{
    Change, DeviceRecord, Outcome, StoreError, Timestamp, Udid,
    mode::Sealing,
    row::{self, HistoryEntry},
    table::{SealedEvent, SealedRecord},
    transition,
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
    /// Records whose request for the device's codes may be (re)queued at this time.
    AskDue(Timestamp),
}

impl Filter {
    /// The SQL condition selecting these rows, and its one argument, with the argument's
    /// placeholder written by `placeholder` (`?1` or `$1`).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn sql(&self, placeholder: &str) -> (String, Option<String>) {
        match self {
            Self::All => ("1 = 1".to_owned(), None),
            Self::Serial(serial) => (
                format!("serial_number = {placeholder}"),
                Some(serial.clone()),
            ),
            Self::WithoutDeviceCode => ("device_code IS NULL".to_owned(), None),
            Self::LastUnlockFailed => ("last_unlock_outcome <> 'unlocked'".to_owned(), None),
            // The argument is bound as text on every backend (PostgreSQL would otherwise type
            // the parameter as a number), then compared as a number.
            Self::AskDue(at) => (
                format!("ask_due_at <= CAST(CAST({placeholder} AS TEXT) AS BIGINT)"),
                Some(at.unix().to_string()),
            ),
        }
    }
}

pub(crate) mod sealed;

use sealed::Scope;

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

/// Which device a server code is for: its serial number, and its UDID when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCodeTarget {
    /// The serial number.
    pub serial: String,
    /// The UDID, when known.
    pub udid: Option<Udid>,
    /// Make the code even though Apple accepted another one for the device (which stays, and is
    /// still tried at unlock). Without it, such a device is refused
    /// ([`StoreError::ServerCodeAccepted`]).
    pub beside_accepted: bool,
}

impl ServerCodeTarget {
    /// Checks a serial number and optional UDID.
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] naming the field.
    pub fn new(serial: &str, udid: Option<&str>) -> Result<Self, StoreError> {
        crate::check_serial(serial)?;
        let udid = udid.map(Udid::new).transpose()?;
        if udid.as_ref().is_some_and(Udid::is_placeholder) {
            return Err(StoreError::InvalidField {
                field: "UDID",
                reason: "the serial: prefix is reserved".to_owned(),
            });
        }
        Ok(Self {
            serial: serial.to_owned(),
            udid,
            beside_accepted: false,
        })
    }

    /// The same target, allowed to get a code beside one Apple accepted.
    #[must_use]
    pub fn beside_accepted(mut self) -> Self {
        self.beside_accepted = true;
        self
    }
}

/// A server code committed for a device: the record it went to and what the store did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedServerCode {
    /// The record it was stored under: the device's UDID, or the `serial:` placeholder of a
    /// device that has not enrolled yet.
    pub udid: Udid,
    /// What the store recorded.
    pub outcome: Outcome,
}

/// The store of every device's bypass codes: one interface over every backend.
///
/// Every change goes through [`DeviceRecord::apply`] inside the backend's atomic
/// read-modify-write, so concurrent writers (tasks, processes, servers sharing one PostgreSQL
/// database) can neither lose an update nor break the retention rule.
///
/// One serial number belongs to one enrolled device. A server code made for a serial number
/// before its device enrolled waits in a `serial:` placeholder record; when the device reports
/// that serial number, the placeholder is merged into the device's record and removed, in the
/// same transaction. A second device claiming a serial number that an enrolled device has is
/// refused, and the refusal is recorded in its history.
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

    /// Commits a server code (and its escrow key) for `target`, in one transaction: to the
    /// device with the UDID given, else to the one enrolled device with that serial number,
    /// else to the serial number's placeholder. When this returns, the code is durable.
    ///
    /// # Errors
    /// [`StoreError::SerialMismatch`], [`StoreError::SerialTaken`],
    /// [`StoreError::AmbiguousSerial`]; database and key failures.
    fn commit_server_code(
        &self,
        target: &ServerCodeTarget,
        code: BypassCode,
        escrow_key: EscrowKey,
        at: Timestamp,
    ) -> impl Future<Output = Result<CommittedServerCode, StoreError>> + Send;

    /// Applies each change to its device's record, in order, in **one** transaction (one
    /// durable commit for the group, as a group commit does): all are applied or none. The
    /// outcomes come back in the order of `changes`.
    ///
    /// # Errors
    /// As [`apply`](Self::apply), for the first change that fails (nothing is written then).
    fn apply_all(
        &self,
        changes: Vec<(Udid, Change)>,
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send;

    /// Commits a server code for each target, as [`commit_server_code`](Self::commit_server_code)
    /// does, in **one** transaction: when this returns, every code is durable; when it fails,
    /// none was written.
    ///
    /// # Errors
    /// As [`commit_server_code`](Self::commit_server_code), for the first target that fails.
    fn commit_server_codes(
        &self,
        codes: Vec<(ServerCodeTarget, BypassCode, EscrowKey)>,
        at: Timestamp,
    ) -> impl Future<Output = Result<Vec<CommittedServerCode>, StoreError>> + Send;

    /// The current record of `udid`.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn record(
        &self,
        udid: &Udid,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send;

    /// The records whose UDID or serial number is `udid_or_serial`. A placeholder is left out
    /// when an enrolled device has its serial number.
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

    /// Every record, ordered by UDID.
    ///
    /// # Errors
    /// Database failures, and the first record that cannot be read (see
    /// [`CodeStore::records_each`] to go on past it).
    fn records(&self) -> impl Future<Output = Result<Vec<DeviceRecord>, StoreError>> + Send;

    /// Every record, ordered by UDID, each read on its own: a record that cannot be read (a
    /// damaged or tampered row) is an error naming it, and the others are still there (backups).
    ///
    /// # Errors
    /// Database failures.
    fn records_each(
        &self,
    ) -> impl Future<Output = Result<Vec<Result<DeviceRecord, StoreError>>, StoreError>> + Send;

    /// Enrolled devices without a device code, soonest deadline first (unknown deadlines last).
    /// Placeholders are left out: a device that has not enrolled cannot be asked.
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

    /// Devices whose request for their codes may be (re)queued at `now`
    /// ([`CodeAsk::is_due`](crate::CodeAsk::is_due)).
    ///
    /// # Errors
    /// Database and decryption failures.
    fn asks_due(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<DeviceRecord>, StoreError>> + Send;

    /// Keeps a secret of the store itself (e.g. the server token of Apple's enrollment service),
    /// sealed under the store's key like every code, replacing any earlier value of `name`.
    ///
    /// # Errors
    /// [`StoreError::KeyMissing`] without a key; database failures.
    fn put_secret(
        &self,
        name: &str,
        value: &[u8],
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The store secret `name`, when there is one.
    ///
    /// # Errors
    /// Database and decryption failures.
    fn secret(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<zeroize::Zeroizing<Vec<u8>>>, StoreError>> + Send;
}

/// The field a store secret is sealed as.
const SECRET_FIELD: &str = "store_secret";

/// The key a store secret is sealed under: `store:<name>`, which no device can have (devices'
/// UDIDs never start `store:`); the sealing binds the value to it.
///
/// # Errors
/// [`StoreError::InvalidField`] unless the name is 1 to 64 ASCII letters, digits, `-`, `_`, `.`.
fn secret_owner(name: &str) -> Result<Udid, StoreError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(StoreError::InvalidField {
            field: "store secret name",
            reason: "1 to 64 letters, digits, '-', '_' or '.'".to_owned(),
        });
    }
    Udid::new(&format!("store:{name}"))
}

fn decode_all(sealing: &Sealing, rows: &[SealedRecord]) -> Result<Vec<DeviceRecord>, StoreError> {
    rows.iter()
        .map(|r| row::decode_record(sealing, r))
        .collect()
}

impl<B: sealed::Backend> CodeStore for B {
    async fn apply(
        &self,
        udid: &Udid,
        change: Change,
        at: Timestamp,
    ) -> Result<Outcome, StoreError> {
        let sealing = self.sealing().clone();
        let key = udid.clone();
        let scope = Scope {
            udid: Some(udid.clone()),
            serial: transition::claimed_serial(udid, &change),
        };
        self.update(scope, move |rows| {
            transition::apply(&sealing, &key, rows, change, at)
        })
        .await
    }

    async fn commit_server_code(
        &self,
        target: &ServerCodeTarget,
        code: BypassCode,
        escrow_key: EscrowKey,
        at: Timestamp,
    ) -> Result<CommittedServerCode, StoreError> {
        let sealing = self.sealing().clone();
        let scope = Scope {
            udid: target.udid.clone(),
            serial: Some(target.serial.clone()),
        };
        let target = target.clone();
        self.update(scope, move |rows| {
            transition::server_code(&sealing, &target, rows, code, escrow_key, at)
        })
        .await
    }

    async fn apply_all(
        &self,
        changes: Vec<(Udid, Change)>,
        at: Timestamp,
    ) -> Result<Vec<Outcome>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let sealing = self.sealing().clone();
        let scopes = changes
            .iter()
            .map(|(udid, change)| Scope {
                udid: Some(udid.clone()),
                serial: transition::claimed_serial(udid, change),
            })
            .collect();
        let mut changes: Vec<Option<(Udid, Change)>> = changes.into_iter().map(Some).collect();
        self.update_many(scopes, move |index, rows| {
            let (udid, change) = changes
                .get_mut(index)
                .and_then(Option::take)
                .ok_or_else(|| StoreError::Task(format!("change {index} decided twice")))?;
            transition::apply(&sealing, &udid, rows, change, at)
        })
        .await
    }

    async fn commit_server_codes(
        &self,
        codes: Vec<(ServerCodeTarget, BypassCode, EscrowKey)>,
        at: Timestamp,
    ) -> Result<Vec<CommittedServerCode>, StoreError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let sealing = self.sealing().clone();
        let scopes = codes
            .iter()
            .map(|(target, _, _)| Scope {
                udid: target.udid.clone(),
                serial: Some(target.serial.clone()),
            })
            .collect();
        let mut codes: Vec<Option<_>> = codes.into_iter().map(Some).collect();
        self.update_many(scopes, move |index, rows| {
            let (target, code, escrow_key) = codes
                .get_mut(index)
                .and_then(Option::take)
                .ok_or_else(|| StoreError::Task(format!("code {index} decided twice")))?;
            transition::server_code(&sealing, &target, rows, code, escrow_key, at)
        })
        .await
    }

    async fn record(&self, udid: &Udid) -> Result<Option<DeviceRecord>, StoreError> {
        self.get(udid)
            .await?
            .map(|r| row::decode_record(self.sealing(), &r))
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
            let mut by_serial = decode_all(self.sealing(), &rows)?;
            // One device is one record: the placeholder of an enrolled device's serial number
            // (left by a version that copied it instead of merging it) is not a second device.
            if by_serial.iter().any(|r| !r.udid.is_placeholder()) {
                by_serial.retain(|r| !r.udid.is_placeholder());
            }
            for record in by_serial {
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
            .map(|r| row::decode_event(self.sealing(), r))
            .collect()
    }

    async fn records(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        decode_all(self.sealing(), &self.select(Filter::All).await?)
    }

    async fn records_each(&self) -> Result<Vec<Result<DeviceRecord, StoreError>>, StoreError> {
        Ok(self
            .select(Filter::All)
            .await?
            .iter()
            .map(|r| row::decode_record(self.sealing(), r))
            .collect())
    }

    async fn missing(&self, now: Timestamp) -> Result<Vec<MissingDevice>, StoreError> {
        let rows = self.select(Filter::WithoutDeviceCode).await?;
        let mut missing: Vec<MissingDevice> = decode_all(self.sealing(), &rows)?
            .into_iter()
            .filter(|record| !record.udid.is_placeholder())
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

    async fn asks_due(&self, now: Timestamp) -> Result<Vec<DeviceRecord>, StoreError> {
        decode_all(self.sealing(), &self.select(Filter::AskDue(now)).await?)
    }

    async fn failed_unlocks(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        decode_all(
            self.sealing(),
            &self.select(Filter::LastUnlockFailed).await?,
        )
    }

    async fn put_secret(&self, name: &str, value: &[u8], at: Timestamp) -> Result<(), StoreError> {
        let sealed = self
            .sealing()
            .seal(&secret_owner(name)?, SECRET_FIELD, value)?;
        self.put_secret_row(name, sealed, at.unix()).await
    }

    async fn secret(&self, name: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StoreError> {
        let owner = secret_owner(name)?;
        match self.secret_row(name).await? {
            Some(sealed) => Ok(Some(self.sealing().open(&owner, SECRET_FIELD, &sealed)?)),
            None => Ok(None),
        }
    }
}
