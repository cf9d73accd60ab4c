#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod code_report;
mod diagnostic;
mod error;
mod identity;
mod json_line;
mod message_report;
mod unlock_report;

pub use code_report::{CodeReport, parse_raw_hex};
pub use diagnostic::diagnostic;
pub use error::Error;
pub use identity::{IdentityLoadError, load_identity};
pub use json_line::write_json_line;
pub use message_report::{
    MessageReport, ProtocolError, encode_command, plist_to_json, read_message,
};
pub use unlock_report::{UnlockReport, source_name};
