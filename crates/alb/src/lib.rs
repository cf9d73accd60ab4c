#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod diagnostic;
mod error;
pub mod input;
mod json_line;
mod protocol_report;
mod report;
mod secret_buffer;
pub mod store_flow;
pub mod unlock;

pub use diagnostic::diagnostic;
pub use error::Error;
pub use json_line::write_json_line;
pub use protocol_report::{
    MessageReport, ProtocolError, encode_command, plist_to_json, read_message,
};
pub use report::{CodeReport, parse_raw_hex};
pub use secret_buffer::SecretBuffer;
