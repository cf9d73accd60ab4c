#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod error;
mod json_line;
mod protocol_report;
mod report;
pub mod store_flow;
pub mod unlock;

pub use error::Error;
pub use json_line::write_json_line;
pub use protocol_report::{
    MessageReport, ProtocolError, encode_command, plist_to_json, read_message,
};
pub use report::{CodeReport, parse_raw_hex};
