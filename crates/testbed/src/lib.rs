#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod device;

pub use device::{CodeReporting, DeviceError, Format, SimulatedDevice};
