//! The server code's journey: a code is made, its escrow key computed, the code **committed
//! durably to the store — and only then** handed to the caller, to be shown or its escrow key
//! sent to Apple. No code or escrow key leaves this module before its commit returned.

use bypass_code::{BypassCode, EscrowKey};
use code_store::{CodeStore, ServerCodeTarget, StoreError, Timestamp, Udid};

/// Codes whose escrow keys are computed together (on every core) and then committed together,
/// in one transaction.
pub const BATCH: usize = 32;

/// Why a server code could not be issued. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The store refused or failed the commit (nothing was handed out for that device).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(bypass_code::getrandom::Error),
    /// The thread computing escrow keys failed.
    #[error("escrow-key computation failed: {0}")]
    Hashing(String),
}

/// A server code committed to the store for one device: durable when the caller sees it.
#[derive(Debug)]
pub struct IssuedCode {
    /// The record it was stored under: the device's UDID, or the `serial:` placeholder of a
    /// device that has not enrolled yet.
    pub udid: Udid,
    /// The device's serial number.
    pub serial: String,
    /// The code.
    pub code: BypassCode,
    /// Its escrow key (what Apple's enrollment service is sent).
    pub escrow_key: EscrowKey,
}

/// Issues one server code per device of `targets`, in order. Codes come from the OS CSPRNG;
/// their escrow keys are computed [`BATCH`] at a time on every core; each batch is then committed
/// to the store in one transaction (each code to the device with the UDID given, else to the one
/// enrolled device with that serial number, else to the serial number's placeholder) and **only
/// after the commit returned** each code is passed to `issued`. Returns how many were issued.
///
/// A failed commit stops the journey with its error: nothing of that batch is written or handed
/// out, and no device after it gets a code. An error from `issued` stops it too (the code it was given is
/// durable).
///
/// # Errors
/// [`IssueError`] (through `E`), or `issued`'s own error.
pub async fn issue_server_codes<S, E>(
    store: &S,
    targets: &[ServerCodeTarget],
    mut issued: impl FnMut(IssuedCode) -> Result<(), E>,
) -> Result<usize, E>
where
    S: CodeStore,
    E: From<IssueError>,
{
    let mut count = 0;
    for chunk in targets.chunks(BATCH) {
        let hashed = start_hashing(chunk.to_vec())?.finish().await?;
        for code in commit(store, hashed).await? {
            issued(code)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Server codes made and hashed for some targets, **not yet committed**: nothing in it can be
/// read; the codes reach a caller only through [`commit`], once durable.
pub struct HashedCodes {
    targets: Vec<ServerCodeTarget>,
    codes: Vec<BypassCode>,
    keys: Vec<EscrowKey>,
}

impl core::fmt::Debug for HashedCodes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HashedCodes")
            .field("count", &self.codes.len())
            .finish_non_exhaustive()
    }
}

/// Escrow keys being computed (on every core, on tokio's blocking threads) for fresh codes.
#[derive(Debug)]
pub struct Hashing(tokio::task::JoinHandle<HashedCodes>);

impl Hashing {
    /// Waits for the escrow keys.
    ///
    /// # Errors
    /// [`IssueError::Hashing`] when the hashing thread failed.
    pub async fn finish(self) -> Result<HashedCodes, IssueError> {
        self.0.await.map_err(|e| IssueError::Hashing(e.to_string()))
    }
}

/// Makes one fresh code per target (OS CSPRNG) and starts computing their escrow keys at once,
/// so the caller can commit or send earlier codes meanwhile (a pipeline bound by hashing).
///
/// # Errors
/// [`IssueError::Random`].
pub fn start_hashing(targets: Vec<ServerCodeTarget>) -> Result<Hashing, IssueError> {
    let codes = fresh_codes(targets.len())?;
    Ok(Hashing(tokio::task::spawn_blocking(move || {
        let keys = escrow_keys(&codes);
        HashedCodes {
            targets,
            codes,
            keys,
        }
    })))
}

/// Commits hashed codes in one transaction, and **only then** hands them out, in order.
///
/// # Errors
/// [`IssueError::Store`]: nothing of the group was committed, and nothing is handed out.
pub async fn commit<S: CodeStore>(
    store: &S,
    hashed: HashedCodes,
) -> Result<Vec<IssuedCode>, IssueError> {
    let HashedCodes {
        targets,
        codes,
        keys,
    } = hashed;
    let group = targets
        .iter()
        .cloned()
        .zip(codes.iter().cloned())
        .zip(keys.iter().cloned())
        .map(|((target, code), escrow_key)| (target, code, escrow_key))
        .collect();
    let committed = store.commit_server_codes(group, Timestamp::now()).await?;
    // Durable: from here on the codes may leave.
    Ok(targets
        .into_iter()
        .zip(codes)
        .zip(keys)
        .zip(committed)
        .map(|(((target, code), escrow_key), committed)| {
            tracing::info!(udid = %committed.udid, "server code committed");
            IssuedCode {
                udid: committed.udid,
                serial: target.serial,
                code,
                escrow_key,
            }
        })
        .collect())
}

/// Fresh codes bound to no device, with their escrow keys (computed on every core), never
/// stored: for trying codes out (`alb generate` without a device), never for locking a device —
/// a device's code goes through [`issue_server_codes`].
///
/// # Errors
/// [`IssueError::Random`].
pub fn unbound_codes(n: usize) -> Result<Vec<(BypassCode, EscrowKey)>, IssueError> {
    let codes = fresh_codes(n)?;
    let keys = escrow_keys(&codes);
    Ok(codes.into_iter().zip(keys).collect())
}

/// The escrow keys (PBKDF2 hashes) of `codes`, in order, on every core (see
/// `bypass_code::kdf`); identical to one-by-one [`BypassCode::escrow_key`].
fn escrow_keys(codes: &[BypassCode]) -> Vec<EscrowKey> {
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); codes.len()];
    match bypass_code::kdf::escrow_keys_parallel(codes, &mut keys) {
        Ok(()) => keys,
        // Unreachable: both slices have the same length by construction.
        Err(_) => codes.iter().map(BypassCode::escrow_key).collect(),
    }
}

/// Fresh codes from the OS CSPRNG.
fn fresh_codes(n: usize) -> Result<Vec<BypassCode>, IssueError> {
    (0..n)
        .map(|_| BypassCode::generate().map_err(IssueError::Random))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_code_is_durable_when_the_caller_sees_it() {
        let store = code_store::MemoryStore::new(code_store::Protection::Cleartext);
        let targets: Vec<ServerCodeTarget> = (0..BATCH + 3)
            .map(|i| ServerCodeTarget::new(&format!("C02ISSUE{i}"), None).unwrap())
            .collect();
        let mut seen = Vec::new();
        let count = issue_server_codes(&store, &targets, |issued| {
            // At the moment the caller sees the code, the store has it (a memory store is
            // read without awaiting: `block_in_place` is not needed).
            seen.push(issued);
            Ok::<(), IssueError>(())
        })
        .await
        .unwrap();
        assert_eq!(count, targets.len());
        for issued in &seen {
            let record = store.record(&issued.udid).await.unwrap().unwrap();
            let stored = record.server_code.unwrap();
            assert_eq!(stored.code, issued.code);
            assert_eq!(stored.escrow_key, issued.escrow_key);
            assert!(issued.escrow_key.verify(&issued.code));
        }
    }

    #[tokio::test]
    async fn a_refused_commit_hands_out_nothing() {
        // No key: the store refuses to write the code, so the caller never sees it.
        let store = code_store::MemoryStore::new(code_store::Protection::NoKey);
        let targets = [ServerCodeTarget::new("C02NOKEY", None).unwrap()];
        let mut seen = 0;
        let result = issue_server_codes(&store, &targets, |_| {
            seen += 1;
            Ok::<(), IssueError>(())
        })
        .await;
        assert!(matches!(result, Err(IssueError::Store(_))));
        assert_eq!(seen, 0);
    }
}
