//! The device's answer to a command: envelope, identity, error chain and typed payload.

use core::{fmt, str::FromStr};

use bypass_code::{BypassCode, CodeError};
use plist::{Dictionary, Value};
use zeroize::Zeroize;

use crate::{
    DeviceInformationResponse, Identity, Limits, ParseError, RequestType, SecurityInfo,
    fields::{DictWriter, Fields},
    input::read_dictionary,
    output::plist_output,
};

/// `Status` of a command response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `Acknowledged`: the command ran.
    Acknowledged,
    /// `Error`: the command failed; see the error chain.
    Error,
    /// `CommandFormatError`: the command was malformed.
    CommandFormatError,
    /// `Idle`: the device has nothing to report and asks for the next command.
    Idle,
    /// `NotNow`: the device cannot run the command now; send it again later.
    NotNow,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Acknowledged,
        Self::Error,
        Self::CommandFormatError,
        Self::Idle,
        Self::NotNow,
    ];

    /// The protocol string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledged => "Acknowledged",
            Self::Error => "Error",
            Self::CommandFormatError => "CommandFormatError",
            Self::Idle => "Idle",
            Self::NotNow => "NotNow",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the five statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// One `ErrorChain` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorChainItem {
    /// `ErrorCode`.
    pub error_code: i64,
    /// `ErrorDomain`.
    pub error_domain: String,
    /// `LocalizedDescription`.
    pub localized_description: Option<String>,
    /// `USEnglishDescription`.
    pub us_english_description: Option<String>,
}

/// One `CertificateList` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateListItem {
    /// `CommonName`.
    pub common_name: String,
    /// `IsIdentity`: an identity (certificate with private key).
    pub is_identity: bool,
    /// `Data`: the DER certificate.
    pub data: Vec<u8>,
}

/// The command-specific part of a response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResponsePayload {
    /// No command-specific keys (e.g. `ClearPasscode`, or any `Idle`/`NotNow`/`Error` answer).
    None,
    /// `ActivationLockBypassCode`.
    ActivationLockBypassCode {
        /// The code, or `None` when the device has none (absent or empty string).
        code: Option<BypassCode>,
    },
    /// `SecurityInfo`.
    SecurityInfo(SecurityInfo),
    /// `CertificateList`.
    CertificateList(Vec<CertificateListItem>),
    /// `DeviceInformation` (`QueryResponses`).
    DeviceInformation(Box<DeviceInformationResponse>),
    /// `SetFirmwarePassword`.
    SetFirmwarePassword {
        /// `SetFirmwarePassword.PasswordChanged`.
        password_changed: bool,
    },
    /// `VerifyFirmwarePassword`.
    VerifyFirmwarePassword {
        /// `VerifyFirmwarePassword.PasswordVerified`.
        password_verified: bool,
    },
    /// `RotateFileVaultKey`.
    RotateFileVaultKey {
        /// `RotateResult.EncryptedNewRecoveryKey` (CMS envelope).
        encrypted_new_recovery_key: Option<Vec<u8>>,
    },
}

impl ResponsePayload {
    /// The request type this payload answers, when it has keys of its own.
    #[must_use]
    pub fn request_type(&self) -> Option<RequestType> {
        Some(match self {
            Self::None => return None,
            Self::ActivationLockBypassCode { .. } => RequestType::ActivationLockBypassCode,
            Self::SecurityInfo(_) => RequestType::SecurityInfo,
            Self::CertificateList(_) => RequestType::CertificateList,
            Self::DeviceInformation(_) => RequestType::DeviceInformation,
            Self::SetFirmwarePassword { .. } => RequestType::SetFirmwarePassword,
            Self::VerifyFirmwarePassword { .. } => RequestType::VerifyFirmwarePassword,
            Self::RotateFileVaultKey { .. } => RequestType::RotateFileVaultKey,
        })
    }
}

/// The payload keys, in the order they are looked for when the request type is not known.
const PAYLOAD_KEYS: [(&str, RequestType); 7] = [
    (
        "ActivationLockBypassCode",
        RequestType::ActivationLockBypassCode,
    ),
    ("QueryResponses", RequestType::DeviceInformation),
    ("SecurityInfo", RequestType::SecurityInfo),
    ("CertificateList", RequestType::CertificateList),
    ("SetFirmwarePassword", RequestType::SetFirmwarePassword),
    (
        "VerifyFirmwarePassword",
        RequestType::VerifyFirmwarePassword,
    ),
    ("RotateResult", RequestType::RotateFileVaultKey),
];

/// A command response from the device.
///
/// ```
/// use mdm_protocol::{CommandResponse, Limits, ResponsePayload, Status};
///
/// let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
/// <plist version="1.0"><dict>
///   <key>ActivationLockBypassCode</key><string>A8QK7-GFG21-6RHT-V0U9-756P-L7E3</string>
///   <key>CommandUUID</key><string>0001</string>
///   <key>Status</key><string>Acknowledged</string>
///   <key>UDID</key><string>00008020-000915083C80012E</string>
/// </dict></plist>"#;
/// let response = CommandResponse::parse(xml, &Limits::DEFAULT)?;
/// assert_eq!(response.status, Status::Acknowledged);
/// let ResponsePayload::ActivationLockBypassCode { code: Some(code) } = &response.payload else {
///     panic!("no code");
/// };
/// assert_eq!(code.to_string(), "A8QK7-GFG21-6RHT-V0U9-756P-L7E3");
/// assert!(!format!("{response:?}").contains("A8QK7"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CommandResponse {
    /// `CommandUUID` (absent on `Idle`).
    pub command_uuid: Option<String>,
    /// `Status`.
    pub status: Status,
    /// Who answers.
    pub identity: Identity,
    /// `ErrorChain` (empty when absent).
    pub error_chain: Vec<ErrorChainItem>,
    /// The command-specific keys.
    pub payload: ResponsePayload,
    /// Every other top-level key, kept verbatim.
    pub extra: Dictionary,
}

impl CommandResponse {
    /// A response with no identity, error chain or payload.
    #[must_use]
    pub fn new(command_uuid: Option<String>, status: Status) -> Self {
        Self {
            command_uuid,
            status,
            identity: Identity::default(),
            error_chain: Vec::new(),
            payload: ResponsePayload::None,
            extra: Dictionary::new(),
        }
    }

    /// Parses a response, recognising the payload by its keys.
    ///
    /// A bypass-code response without a code looks like a plain acknowledgement; when you know
    /// what you sent, use [`Self::parse_for`].
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read(Fields::new(dict, ""), None)
    }

    /// Parses the response to a command of type `request_type`.
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse_for(
        bytes: &[u8],
        request_type: RequestType,
        limits: &Limits,
    ) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read(Fields::new(dict, ""), Some(request_type))
    }

    pub(crate) fn read(
        mut top: Fields,
        request_type: Option<RequestType>,
    ) -> Result<Self, ParseError> {
        let status_path = top.path_of("Status");
        let status = top.string("Status")?;
        let status = status
            .parse()
            .map_err(|UnknownStatus(found)| ParseError::InvalidValue {
                path: status_path,
                expected: "Acknowledged, Error, CommandFormatError, Idle or NotNow",
                reason: format!("found {found:?}"),
            })?;
        let command_uuid = top.opt_string("CommandUUID")?;
        let identity = Identity::read(&mut top)?;
        let mut error_chain = Vec::new();
        for mut item in top.opt_dict_array("ErrorChain")?.unwrap_or_default() {
            error_chain.push(ErrorChainItem {
                error_code: item
                    .opt_integer("ErrorCode")?
                    .ok_or_else(|| ParseError::Missing {
                        path: item.path_of("ErrorCode"),
                        expected: "integer",
                    })?,
                error_domain: item.string("ErrorDomain")?,
                localized_description: item.opt_string("LocalizedDescription")?,
                us_english_description: item.opt_string("USEnglishDescription")?,
            });
        }
        let request_type = request_type.or_else(|| {
            PAYLOAD_KEYS
                .iter()
                .find(|(key, _)| top.has(key))
                .map(|(_, t)| *t)
        });
        let payload = match request_type {
            Some(t) => read_payload(&mut top, t)?,
            None => ResponsePayload::None,
        };
        Ok(Self {
            command_uuid,
            status,
            identity,
            error_chain,
            payload,
            extra: top.rest(),
        })
    }

    fn write(&self, redact: bool) -> Dictionary {
        let mut out = DictWriter::with_extra(redact, &self.extra);
        out.opt_string("CommandUUID", self.command_uuid.as_deref())
            .string("Status", self.status.as_str());
        self.identity.write(&mut out);
        if !self.error_chain.is_empty() {
            let items = self
                .error_chain
                .iter()
                .map(|e| {
                    let mut d = DictWriter::new(redact);
                    d.opt_integer("ErrorCode", Some(e.error_code))
                        .string("ErrorDomain", &e.error_domain)
                        .opt_string("LocalizedDescription", e.localized_description.as_deref())
                        .opt_string("USEnglishDescription", e.us_english_description.as_deref());
                    Value::Dictionary(d.finish())
                })
                .collect();
            out.value("ErrorChain", Value::Array(items));
        }
        match &self.payload {
            ResponsePayload::None => {}
            ResponsePayload::ActivationLockBypassCode { code } => {
                if let Some(code) = code {
                    let mut text = code.to_string();
                    out.secret_string("ActivationLockBypassCode", Some(&text));
                    text.zeroize();
                }
            }
            ResponsePayload::SecurityInfo(info) => {
                out.value("SecurityInfo", Value::Dictionary(info.write(redact)));
            }
            ResponsePayload::CertificateList(items) => {
                let items = items
                    .iter()
                    .map(|c| {
                        let mut d = DictWriter::new(redact);
                        d.string("CommonName", &c.common_name)
                            .opt_bool("IsIdentity", Some(c.is_identity))
                            .data("Data", &c.data);
                        Value::Dictionary(d.finish())
                    })
                    .collect();
                out.value("CertificateList", Value::Array(items));
            }
            ResponsePayload::DeviceInformation(info) => {
                out.value("QueryResponses", Value::Dictionary(info.write(redact)));
            }
            ResponsePayload::SetFirmwarePassword { password_changed } => {
                let mut d = DictWriter::new(redact);
                d.opt_bool("PasswordChanged", Some(*password_changed));
                out.value("SetFirmwarePassword", Value::Dictionary(d.finish()));
            }
            ResponsePayload::VerifyFirmwarePassword { password_verified } => {
                let mut d = DictWriter::new(redact);
                d.opt_bool("PasswordVerified", Some(*password_verified));
                out.value("VerifyFirmwarePassword", Value::Dictionary(d.finish()));
            }
            ResponsePayload::RotateFileVaultKey {
                encrypted_new_recovery_key,
            } => {
                if let Some(key) = encrypted_new_recovery_key {
                    let mut d = DictWriter::new(redact);
                    d.data("EncryptedNewRecoveryKey", key);
                    out.value("RotateResult", Value::Dictionary(d.finish()));
                }
            }
        }
        out.finish()
    }
}

plist_output!(CommandResponse);

/// The payload of a response to `request_type`; absent keys give [`ResponsePayload::None`]
/// (devices leave them out on `Error` and `NotNow`), except where absence itself is an answer.
fn read_payload(
    top: &mut Fields,
    request_type: RequestType,
) -> Result<ResponsePayload, ParseError> {
    Ok(match request_type {
        RequestType::ActivationLockBypassCode => ResponsePayload::ActivationLockBypassCode {
            code: read_bypass_code(top, "ActivationLockBypassCode")?,
        },
        RequestType::DeviceInformation => match top.opt_dict("QueryResponses")? {
            Some(q) => {
                ResponsePayload::DeviceInformation(Box::new(DeviceInformationResponse::read(q)?))
            }
            None => ResponsePayload::None,
        },
        RequestType::SecurityInfo => match top.opt_dict("SecurityInfo")? {
            Some(s) => ResponsePayload::SecurityInfo(SecurityInfo::read(s)?),
            None => ResponsePayload::None,
        },
        RequestType::CertificateList => match top.opt_dict_array("CertificateList")? {
            Some(items) => {
                let mut list = Vec::with_capacity(items.len());
                for mut c in items {
                    list.push(CertificateListItem {
                        common_name: c.string("CommonName")?,
                        is_identity: c.bool("IsIdentity")?,
                        data: c.data("Data")?,
                    });
                }
                ResponsePayload::CertificateList(list)
            }
            None => ResponsePayload::None,
        },
        RequestType::SetFirmwarePassword => match top.opt_dict("SetFirmwarePassword")? {
            Some(mut d) => ResponsePayload::SetFirmwarePassword {
                password_changed: d.bool("PasswordChanged")?,
            },
            None => ResponsePayload::None,
        },
        RequestType::VerifyFirmwarePassword => match top.opt_dict("VerifyFirmwarePassword")? {
            Some(mut d) => ResponsePayload::VerifyFirmwarePassword {
                password_verified: d.bool("PasswordVerified")?,
            },
            None => ResponsePayload::None,
        },
        RequestType::RotateFileVaultKey => ResponsePayload::RotateFileVaultKey {
            encrypted_new_recovery_key: match top.opt_dict("RotateResult")? {
                Some(mut d) => d.opt_data("EncryptedNewRecoveryKey")?,
                None => None,
            },
        },
        RequestType::ClearActivationLockBypassCode
        | RequestType::ClearPasscode
        | RequestType::ClearRestrictionsPassword
        | RequestType::UnlockUserAccount
        | RequestType::SetAutoAdminPassword => ResponsePayload::None,
    })
}

/// The bypass code at `key`: absent or blank is `None`; anything else must be canonical.
fn read_bypass_code(top: &mut Fields, key: &str) -> Result<Option<BypassCode>, ParseError> {
    let path = top.path_of(key);
    let Some(mut text) = top.opt_string(key)? else {
        return Ok(None);
    };
    let parsed = if text.trim().is_empty() {
        Ok(None)
    } else {
        BypassCode::from_str(&text)
            .map(Some)
            .map_err(|error| ParseError::InvalidValue {
                path,
                expected: "a canonical bypass code (XXXXX-XXXXX-XXXX-XXXX-XXXX-XXXX)",
                reason: code_error_reason(&error),
            })
    };
    text.zeroize();
    parsed
}

/// Why a code is malformed, without quoting any of its characters.
fn code_error_reason(error: &CodeError) -> String {
    match *error {
        CodeError::Length { found } => format!("{found} characters instead of 31"),
        CodeError::DashExpected { position, .. } => {
            format!("a dash is expected at position {position}")
        }
        CodeError::MisplacedDash { position } => format!("unexpected dash at position {position}"),
        CodeError::InvalidSymbol { position, .. } => {
            format!("character at position {position} is not in the code alphabet")
        }
        CodeError::LastSymbolOutOfRange { position, .. } => {
            format!("the last symbol (position {position}) must be 0-7")
        }
        _ => "not a canonical code".to_owned(),
    }
}
