//! What a backend provides (sealed: only this crate implements it): an atomic read-modify-write
//! of the rows of a scope, alone or as a group in one transaction, and plain queries. The
//! [`CodeStore`](crate::CodeStore) implementation is written once over it.

use super::*;

/// The rows one atomic change locks and reads: the record of `udid` and, when a serial
/// number is involved, every other record with it (its placeholder included).
#[derive(Clone, Debug)]
pub struct Scope {
    /// The device whose record changes, when it is known before reading.
    pub udid: Option<Udid>,
    /// The serial number the change claims or looks up.
    pub serial: Option<String>,
}

impl Scope {
    /// The advisory keys a backend that locks by key must hold, in the order it must take
    /// them: the serial number's (its placeholder's key) first, then the device's. Every
    /// writer takes keys in this order, so two writers can never wait on each other.
    #[must_use]
    pub fn lock_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(2);
        if let Some(serial) = &self.serial {
            keys.push(crate::device::placeholder_key(serial));
        }
        if let Some(udid) = &self.udid
            && !keys.iter().any(|k| k == udid.as_str())
        {
            keys.push(udid.to_string());
        }
        keys
    }
}

/// What a backend read for a [`Scope`], under its locks.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    /// The row of the scope's device, if there is one.
    pub target: Option<SealedRecord>,
    /// Every other row whose serial number is the scope's, or which is its placeholder.
    pub peers: Vec<SealedRecord>,
}

/// What one change writes: whole rows (inserted or replaced), rows deleted, history rows
/// appended, and what the change came to.
#[derive(Debug)]
pub struct Transition<T> {
    /// Rows to insert or replace.
    pub upserts: Vec<SealedRecord>,
    /// UDIDs whose rows are deleted (merged placeholders).
    pub deletes: Vec<String>,
    /// History rows to append, in order.
    pub events: Vec<SealedEvent>,
    /// What the caller gets back.
    pub result: T,
}

/// What a backend provides: an atomic read-modify-write of the rows of a [`Scope`] (locked
/// against concurrent writers), and plain queries. Backends hold no rule.
pub trait Backend: Send + Sync {
    /// How secrets are protected, checked against the store's mode.
    fn sealing(&self) -> &Sealing;

    /// Atomically, in one transaction: for each scope in order, locks and reads its rows
    /// (seeing what the earlier scopes wrote), calls `decide` with its index, and writes
    /// what it returns. Nothing is written when any `decide` fails. One durable commit for
    /// the whole group.
    fn update_many<T, F>(
        &self,
        scopes: Vec<Scope>,
        decide: F,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send
    where
        T: Send + 'static,
        F: FnMut(usize, Rows) -> Result<Transition<T>, StoreError> + Send + 'static;

    /// [`update_many`](Self::update_many) of one scope.
    fn update<T, F>(
        &self,
        scope: Scope,
        decide: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(Rows) -> Result<Transition<T>, StoreError> + Send + 'static,
    {
        let mut decide = Some(decide);
        let results = self.update_many(vec![scope], move |_, rows| match decide.take() {
            Some(decide) => decide(rows),
            None => Err(StoreError::Task("a one-scope update decided twice".into())),
        });
        async move {
            results
                .await?
                .pop()
                .ok_or_else(|| StoreError::Task("a one-scope update wrote nothing".into()))
        }
    }

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

    /// Writes (inserting or replacing) the sealed store secret `name`, durably.
    fn put_secret_row(
        &self,
        name: &str,
        sealed: Vec<u8>,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sealed store secret `name`.
    fn secret_row(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
}
