//! [`AnyStore`] and [`open`]: a backend chosen at run time from a URL.

#[cfg(feature = "sqlite")]
use std::path::PathBuf;

use crate::{
    MemoryStore, Protection, StoreError, Udid,
    mode::Sealing,
    store::{
        Filter,
        sealed::{Backend, Rows, Scope, Transition},
    },
    table::{SealedEvent, SealedRecord},
};

/// Where a store lives, parsed from a URL. `Debug` hides any password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// `memory:`: nothing persists.
    Memory,
    /// `sqlite:PATH` (or `sqlite://PATH`, or a bare path).
    #[cfg(feature = "sqlite")]
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`.
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl StoreLocation {
    /// Parses a store URL.
    ///
    /// # Errors
    /// [`StoreError::Url`] for an unknown scheme, an empty path, or a backend this build lacks.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let error = |reason: &str| StoreError::Url {
            url: redact(url),
            reason: reason.to_owned(),
        };
        if url == "memory:" {
            return Ok(Self::Memory);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(Self::Postgres(url.to_owned()));
            #[cfg(not(feature = "postgres"))]
            return Err(error("this build has no PostgreSQL backend"));
        }
        let path = match url.strip_prefix("sqlite:") {
            Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
            None if url.contains("://") => {
                return Err(error("expected memory:, sqlite:PATH or postgres://..."));
            }
            None => url,
        };
        if path.is_empty() {
            return Err(error("the SQLite path is empty"));
        }
        #[cfg(feature = "sqlite")]
        return Ok(Self::Sqlite(PathBuf::from(path)));
        #[cfg(not(feature = "sqlite"))]
        return Err(error("this build has no SQLite backend"));
    }
}

fn redact(url: &str) -> String {
    crate::redact_url(url)
}

impl core::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

/// Opens the store at `url` (see [`StoreLocation::parse`]), running schema migrations.
///
/// # Errors
/// [`StoreError::Url`] and the backend's opening errors.
pub async fn open(url: &str, protection: Protection) -> Result<AnyStore, StoreError> {
    Ok(match StoreLocation::parse(url)? {
        StoreLocation::Memory => AnyStore::Memory(MemoryStore::new(protection)),
        #[cfg(feature = "sqlite")]
        StoreLocation::Sqlite(path) => {
            AnyStore::Sqlite(crate::SqliteStore::open(path, protection).await?)
        }
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(url) => {
            AnyStore::Postgres(crate::PostgresStore::connect(&url, protection).await?)
        }
    })
}

/// One of the backends, chosen at run time; a [`crate::CodeStore`] like each of them.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// In memory.
    Memory(MemoryStore),
    /// A SQLite file.
    #[cfg(feature = "sqlite")]
    Sqlite(crate::SqliteStore),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(crate::PostgresStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Memory($s) => $e,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($s) => $e,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl Backend for AnyStore {
    fn sealing(&self) -> &Sealing {
        each!(self, s => s.sealing())
    }

    async fn update_many<T, F>(&self, scopes: Vec<Scope>, decide: F) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(usize, Rows) -> Result<Transition<T>, StoreError> + Send + 'static,
    {
        each!(self, s => s.update_many(scopes, decide).await)
    }

    async fn get(&self, udid: &Udid) -> Result<Option<SealedRecord>, StoreError> {
        each!(self, s => s.get(udid).await)
    }

    async fn select(&self, filter: Filter) -> Result<Vec<SealedRecord>, StoreError> {
        each!(self, s => s.select(filter).await)
    }

    async fn history_rows(&self, udid: &Udid) -> Result<Vec<SealedEvent>, StoreError> {
        each!(self, s => s.history_rows(udid).await)
    }

    async fn put_secret_row(&self, name: &str, sealed: Vec<u8>, at: i64) -> Result<(), StoreError> {
        each!(self, s => s.put_secret_row(name, sealed, at).await)
    }

    async fn secret_row(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, s => s.secret_row(name).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            StoreLocation::parse("memory:").unwrap(),
            StoreLocation::Memory
        );
        assert_eq!(
            StoreLocation::parse("sqlite:/tmp/a.db").unwrap(),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///tmp/a.db").unwrap(),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            StoreLocation::parse("rel/a.db").unwrap(),
            StoreLocation::Sqlite("rel/a.db".into())
        );
        assert!(StoreLocation::parse("sqlite:").is_err());
        let err = StoreLocation::parse("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(matches!(
            StoreLocation::parse("postgres://u@localhost/db").unwrap(),
            StoreLocation::Postgres(_)
        ));
    }
}
