//! Opening the operator's store: where it is by default, its key (a key file, made on first
//! use for the default store, or the key's text), and how secrets are protected.

use std::path::{Path, PathBuf};

use code_store::{AnyStore, KeyError, KeyRing, Protection, StoreError};

use crate::input::{self, InputError};

/// Why a store could not be opened. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The store failed to open (or its URL is not valid).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The key file cannot be written.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file could not be read, or is too large.
    #[error("{0}")]
    Input(#[from] InputError),
    /// The key file or the key's text does not hold a valid key ring.
    #[error("store key from {origin}: {source}")]
    Key {
        /// Where the key came from (`key file PATH`, an environment variable).
        origin: String,
        /// What is wrong (never the key).
        source: KeyError,
    },
}

/// Where a store's key comes from.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// A key file (one key per line, the first current; `alb keygen` writes one).
    File(&'a Path),
    /// A key ring's text, from `origin` (an environment variable's name, for messages).
    Text {
        /// The text (a secret).
        text: &'a str,
        /// Where it came from.
        origin: &'a str,
    },
    /// No key: secrets are stored in clear (throw-away stores only).
    Cleartext,
    /// No key at all: secrets are neither written nor read.
    None,
}

/// The default store: `sqlite:$XDG_DATA_HOME/alb/store.sqlite3`, else
/// `sqlite:$HOME/.local/share/alb/store.sqlite3`, else `sqlite:alb-store.sqlite3` in the current
/// directory.
#[must_use]
pub fn default_store_url() -> String {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".local/share"))
        });
    match base {
        Some(base) => format!("sqlite:{}", base.join("alb/store.sqlite3").display()),
        None => "sqlite:alb-store.sqlite3".to_owned(),
    }
}

/// The key file used with the default store when no key is given:
/// `$XDG_CONFIG_HOME/alb/store.key`, else `~/.config/alb/store.key` (kept apart from the data
/// directory, so a copy of the store alone does not carry its key).
#[must_use]
pub fn default_key_path() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".config"))
        })
        .map_or_else(
            || PathBuf::from("alb-store.key"),
            |base| base.join("alb/store.key"),
        )
}

/// Writes a new random store key to `path`, a file that must not exist yet (mode 0600, synced),
/// creating its directory (mode 0700) when needed.
///
/// The key is written and synced under a temporary name first and then moved into place, so
/// `path` never exists half-written: a process that finds it (another `alb` started at the same
/// moment) reads a whole key.
///
/// # Errors
/// [`SetupError::Key`] when no key can be made; [`SetupError::KeyFile`] when the file
/// exists (its error kind is then [`std::io::ErrorKind::AlreadyExists`]) or cannot be written.
pub fn write_new_key_file(path: &Path) -> Result<(), SetupError> {
    use std::{io::Write, os::unix::fs::DirBuilderExt};
    let key = code_store::StoreKey::generate().map_err(|source| SetupError::Key {
        origin: path.display().to_string(),
        source,
    })?;
    let with_path = |source| SetupError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(with_path)?;
    }
    let dir = dir.unwrap_or_else(|| Path::new("."));
    // A private (0600) file under a fresh random name, removed again if anything fails.
    let mut staging = tempfile::Builder::new()
        .prefix(".store-key-")
        .tempfile_in(dir)
        .map_err(with_path)?;
    writeln!(staging, "{}", key.to_text().as_str()).map_err(with_path)?;
    staging.as_file().sync_all().map_err(with_path)?;
    // Fails with `AlreadyExists` when another key got there first; that one stays.
    staging
        .persist_noclobber(path)
        .map_err(|e| with_path(e.error))?;
    // The new directory entry is durable too: a key lost in a crash loses every code.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(with_path)
}

/// How secrets are protected, from where the key comes.
///
/// # Errors
/// [`SetupError::Input`] (the key file cannot be read, or is larger than
/// [`input::MAX_KEY_FILE_BYTES`]) or [`SetupError::Key`].
pub fn protection(key: KeySource<'_>) -> Result<Protection, SetupError> {
    Ok(match key {
        KeySource::File(path) => {
            let origin = format!("key file {}", path.display());
            let bytes = input::read_file(path, &origin, input::MAX_KEY_FILE_BYTES)?;
            Protection::encrypted(key_ring(&origin, &bytes)?)
        }
        KeySource::Text { text, origin } => {
            Protection::encrypted(KeyRing::parse(text).map_err(|source| SetupError::Key {
                origin: origin.to_owned(),
                source,
            })?)
        }
        KeySource::Cleartext => Protection::Cleartext,
        KeySource::None => Protection::NoKey,
    })
}

/// The key ring in the bytes of a key file read from `origin` (`key file PATH`): UTF-8 text,
/// one key per line (see [`KeyRing::parse`]).
///
/// # Errors
/// [`SetupError::Input`] when the bytes are not UTF-8 (naming the line and column);
/// [`SetupError::Key`] when they hold no valid key ring.
pub fn key_ring(origin: &str, bytes: &[u8]) -> Result<KeyRing, SetupError> {
    let text = input::utf8(origin, bytes)?;
    KeyRing::parse(text).map_err(|source| SetupError::Key {
        origin: origin.to_owned(),
        source,
    })
}

/// Opens the store at `url` (migrating its schema).
///
/// # Errors
/// [`SetupError::Store`].
pub async fn open_store(url: &str, protection: Protection) -> Result<AnyStore, SetupError> {
    Ok(code_store::open(url, protection).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_written_at_once_give_one_whole_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/store.key");
        let start = std::sync::Barrier::new(6);
        let results: Vec<_> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let written = write_new_key_file(&path);
                        // Whenever the file is there, it holds a whole key.
                        let text = std::fs::read_to_string(&path).unwrap();
                        KeyRing::parse(&text).unwrap();
                        written
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        for result in results {
            if let Err(SetupError::KeyFile { source, .. }) = &result {
                assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
            } else {
                assert!(result.is_ok());
            }
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging file is left behind");
    }

    #[test]
    fn protection_sources() {
        assert!(matches!(
            protection(KeySource::None).unwrap(),
            Protection::NoKey
        ));
        assert!(matches!(
            protection(KeySource::Cleartext).unwrap(),
            Protection::Cleartext
        ));
        let key = code_store::StoreKey::generate().unwrap();
        let text = key.to_text();
        assert!(matches!(
            protection(KeySource::Text {
                text: &text,
                origin: "ALB_STORE_KEY"
            })
            .unwrap(),
            Protection::Encrypted(_)
        ));
        let err = protection(KeySource::Text {
            text: "alb-store-key-v1:k:zz",
            origin: "ALB_STORE_KEY",
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("ALB_STORE_KEY"), "{err}");
        assert!(protection(KeySource::File(Path::new("/nonexistent/key"))).is_err());
    }
}
