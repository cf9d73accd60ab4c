#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
mod connector;
mod secret_body;

pub use config::{ProxyConfig, ProxyError};
pub use connector::{ConnectError, ProxyConnector};
pub use secret_body::{SecretBody, SecretChunk};
