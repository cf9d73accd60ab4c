#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod availability;
mod builder;
mod checkin;
mod command;
mod device_information;
mod error;
mod fields;
pub mod generated;
mod identity;
mod input;
mod limits;
mod message;
mod output;
mod redact;
mod request_type;
mod response;
mod runtime;
#[cfg(feature = "test-support")]
pub mod sample;
pub mod schema;
mod secret;
mod secret_key;
mod security_info;
mod typed;

pub use availability::{
    AccessRight, Allowance, Availability, Platform, PlatformAvailability, SharedIpad,
    UserEnrollment,
};
pub use builder::{BuildError, CommandBuilder};
pub use bypass_code::BypassCode;
pub use checkin::{Authenticate, CheckOut, CheckinMessage, TokenUpdate};
pub use command::{
    CertificateList, ClearPasscode, Command, CommandRequest, DeviceInformation, FileVaultKeyType,
    RotateFileVaultKey, SetAutoAdminPassword, SetFirmwarePassword, UnlockUserAccount,
    VerifyFirmwarePassword,
};
pub use device_information::{
    CellularIdentity, DeviceInformationResponse, SLOT_ONE, SLOT_TWO, ServiceSubscription,
};
pub use error::{EncodeError, ParseError};
pub use generated::{
    checkin::{CheckinType, SchemaCheckin},
    commands::{CommandType, SchemaRequest, SchemaResponse},
    errors::ErrorBody,
};
pub use identity::Identity;
pub use input::PlistFormat;
pub use limits::Limits;
pub use message::MdmMessage;
pub use output::xml_date;
pub use plist;
pub use redact::redact_untyped;
pub use request_type::{RequestType, UnknownCommandType, UnknownRequestType};
pub use response::{
    CertificateListItem, CommandResponse, ErrorChainItem, ResponsePayload, Status, UnknownStatus,
};
pub use secret::{Password, REDACTED, SecretData, UnlockToken, scrub};
pub use secret_key::is_secret_key;
pub use security_info::{FirmwarePasswordStatus, ManagementStatus, SecurityInfo};

/// The HTTP content type of MDM command and check-in bodies.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-mdm";
