#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod device;
pub mod escrow_service;
pub mod fleet;
pub mod nanomdm;

pub use device::{CodeReporting, DeviceError, Format, SimulatedDevice};
pub use escrow_service::{EscrowService, Fault};
pub use fleet::Fleet;
pub use nanomdm::{Delivered, Delivery, Enqueued, NanoMdm, NanoMdmError};
