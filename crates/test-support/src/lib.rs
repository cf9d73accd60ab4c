#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod connect_proxy;
mod https_server;
mod pki;
mod postgres;

pub use connect_proxy::{ConnectProxy, Tunnel};
pub use https_server::{MAX_RECORDED, RecordedRequest, RecordingServer, Reply, UNLOCK_PATH};
pub use pki::{TestCert, TestPki};
pub use postgres::{PasswordAuth, SKIP_VARIABLE, TempPostgres, TempPostgresError, skip_requested};
