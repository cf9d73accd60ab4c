#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod availability;
mod checkin;
mod command;
mod device_information;
mod error;
mod fields;
mod identity;
mod input;
mod limits;
mod message;
mod output;
mod request_type;
mod response;
mod secret;
mod secret_key;
mod security_info;

pub use availability::{AccessRight, Availability, Platform, PlatformAvailability};
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
pub use identity::Identity;
pub use input::PlistFormat;
pub use limits::Limits;
pub use message::MdmMessage;
pub use output::xml_date;
pub use plist;
pub use request_type::{RequestType, UnknownRequestType};
pub use response::{
    CertificateListItem, CommandResponse, ErrorChainItem, ResponsePayload, Status, UnknownStatus,
};
pub use secret::{Password, REDACTED, SecretData, UnlockToken, scrub};
pub use secret_key::is_secret_key;
pub use security_info::{FirmwarePasswordStatus, ManagementStatus, SecurityInfo};

/// The HTTP content type of MDM command and check-in bodies.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-mdm";
