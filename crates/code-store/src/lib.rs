#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod any;
mod change;
mod command;
#[cfg(feature = "postgres")]
mod credentials;
mod device;
mod error;
mod event;
pub mod export;
mod key;
mod memory;
mod mode;
#[cfg(feature = "postgres")]
mod pgpass;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_url;
mod record;
mod redact;
mod row;
mod server_code;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
// Without a database backend, the column kinds are unused (the memory store seals rows only).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
mod table;
mod timestamp;
#[cfg(feature = "postgres")]
mod tls;
mod token;
mod transition;

pub use any::{AnyStore, StoreLocation, open};
pub use change::Change;
pub use command::{AnswerStatus, CodeAsk, CommandEvent, CommandKind, Commands, SentCommand};
pub use device::{DeviceIdentity, MAX_FIELD_LEN, MAX_UDID_LEN, Udid, check_field, check_serial};
pub use error::StoreError;
pub use event::{Event, Ignored, Outcome};
pub use key::{KEY_PREFIX, KeyError, KeyRing, Protection, StoreKey};
pub use memory::MemoryStore;
pub use mode::{Sealing, StoreMode};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use record::{
    AttemptOutcome, CodeKind, DEVICE_CODE_WINDOW_DAYS, DeviceCode, DeviceRecord, StoredUnlockToken,
    UnlockAttempt,
};
pub use redact::redact_url;
pub use row::HistoryEntry;
pub use server_code::{ACCEPTED_STATUS, ServerCode, ServerCodeState};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{CodeStore, CommittedServerCode, MissingDevice, ServerCodeTarget};
pub use timestamp::Timestamp;
#[cfg(feature = "postgres")]
pub use tls::{VerifiedConnect, VerifiedStream, VerifiedTls};
pub use token::{MAX_UNLOCK_TOKEN_LEN, UnlockToken};
