//! The workflow behind the `alb` command line, as a library another MDM server can reuse.
//!
//! `alb` owns no protocol rule: the code format and hash live in `bypass-code`. This library holds
//! the order of the operator's workflow and the shapes the command line prints.
//!
//! ```
//! use alb::CodeReport;
//! use bypass_code::BypassCode;
//!
//! let code = alb::parse_raw_hex("522f23bdcf104d886760d24e535a676b")?;
//! let mut line = Vec::new();
//! CodeReport::new(&code, true).write(&mut line, true)?;
//! assert!(String::from_utf8(line)?.starts_with(r#"{"code":"A8QK7-GFG21-6RHT-V0U9-756P-L7E3""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod protocol_report;
mod report;
pub mod store_flow;
pub mod unlock;

pub use error::Error;
pub use protocol_report::{
    MessageReport, ProtocolError, encode_command, plist_to_json, read_message,
};
pub use report::{CodeReport, parse_raw_hex};
