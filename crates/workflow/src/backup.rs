//! Backups: every record exported one JSON line each (`code_store::export`), and import lines
//! applied through the store's rules, so an import never loses what is already stored.

use code_store::{Change, CodeStore, StoreError, Timestamp, export::ImportError};

/// Why an import line was not applied. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportLineError {
    /// The line is not a valid export line (malformed, redacted, invalid field).
    #[error("line {line}: {source}")]
    Refused {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: ImportError,
    },
    /// The store failed (nothing was lost; the line can be imported again).
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Imports one export line (`alb import`): the record goes through the store's rules, so an
/// import never loses what is already stored. Returns the store's outcome.
///
/// # Errors
/// [`ImportLineError::Refused`] for a malformed or redacted line; store failures.
pub async fn import_line(
    store: &impl CodeStore,
    line_number: usize,
    line: &str,
) -> Result<code_store::Outcome, ImportLineError> {
    let import = |source| ImportLineError::Refused {
        line: line_number,
        source,
    };
    let record = code_store::export::RecordJson::from_line(line)
        .map_err(import)?
        .into_record()
        .map_err(import)?;
    let udid = record.udid.clone();
    Ok(store
        .apply(&udid, Change::Restore(Box::new(record)), Timestamp::now())
        .await?)
}
