//! scratch
#![forbid(unsafe_code)]

extern crate alloc;

mod secret;
pub mod token;

pub use secret::Secret;
pub use token::{ServerToken, TokenError};
