#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
mod connector;

pub use config::{ProxyConfig, ProxyError};
pub use connector::{ConnectError, ProxyConnector};
