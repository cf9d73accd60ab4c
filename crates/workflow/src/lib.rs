#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod backup;
pub mod clear_passcode;
pub mod device_list;
pub mod device_report;
pub mod input;
pub mod lock;
mod secret_buffer;
pub mod server_code;
pub mod store_setup;
pub mod unlock;

pub use secret_buffer::SecretBuffer;
