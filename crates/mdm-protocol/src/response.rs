//! The device's answer to a command: envelope, identity, error chain and typed payload.

use core::{fmt, str::FromStr};

use bypass_code::{BypassCode, CodeError};
use plist::{Dictionary, Value};
use zeroize::Zeroize;

use crate::{
    CommandType, DeviceInformationResponse, Identity, Limits, ParseError, RequestType,
    SchemaResponse, SecretData, SecurityInfo,
    fields::{DictWriter, Fields},
    input::read_dictionary,
    output::plist_output,
    typed::{At, FromPlist, ToPlist, dictionary_fields},
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorChainItem {
    /// `ErrorCode`.
    pub error_code: i64,
    /// `ErrorDomain`.
    pub error_domain: String,
    /// `LocalizedDescription`.
    pub localized_description: Option<String>,
    /// `USEnglishDescription`.
    pub us_english_description: Option<String>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

impl ErrorChainItem {
    fn read(mut item: Fields) -> Result<Self, ParseError> {
        Ok(Self {
            error_code: item.req("ErrorCode")?,
            error_domain: item.req("ErrorDomain")?,
            localized_description: item.opt("LocalizedDescription")?,
            us_english_description: item.opt("USEnglishDescription")?,
            extra: item.rest(),
        })
    }

    fn write(&self, redact: bool) -> Dictionary {
        let mut d = DictWriter::with_extra(redact, &self.extra);
        d.put("ErrorCode", &self.error_code)
            .put("ErrorDomain", &self.error_domain)
            .put_opt("LocalizedDescription", self.localized_description.as_ref())
            .put_opt("USEnglishDescription", self.us_english_description.as_ref());
        d.finish()
    }
}

impl FromPlist for ErrorChainItem {
    const EXPECTED: &'static str = "dictionary";
    fn from_plist(value: Value, at: &At<'_>) -> Result<Self, ParseError> {
        Self::read(dictionary_fields(value, at)?)
    }
}

impl ToPlist for ErrorChainItem {
    fn to_plist(&self, redact: bool) -> Value {
        Value::Dictionary(self.write(redact))
    }
}

/// One `CertificateList` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CertificateListItem {
    /// `CommonName`.
    pub common_name: String,
    /// `IsIdentity`: an identity (certificate with private key).
    pub is_identity: bool,
    /// `Data`: the DER certificate.
    pub data: Vec<u8>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// The command-specific part of a response.
///
/// The hand-written variants are views for the Activation Lock flow (the bypass code as a
/// validated [`BypassCode`], the unlock identity of `DeviceInformation`), kept because `alb`
/// and the benchmarks use them; [`Self::Schema`] holds the generated payload, every key typed
/// (what [`CommandResponse::parse_for`] gives for the other request types, and
/// [`CommandResponse::parse_schema`] for every one).
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
        /// Other keys of the `SetFirmwarePassword` dictionary, kept verbatim.
        extra: Dictionary,
    },
    /// `VerifyFirmwarePassword`.
    VerifyFirmwarePassword {
        /// `VerifyFirmwarePassword.PasswordVerified`.
        password_verified: bool,
        /// Other keys of the `VerifyFirmwarePassword` dictionary, kept verbatim.
        extra: Dictionary,
    },
    /// `RotateFileVaultKey` (its `RotateResult`).
    RotateFileVaultKey {
        /// `RotateResult.EncryptedNewRecoveryKey` (CMS envelope of the new recovery key).
        encrypted_new_recovery_key: Option<SecretData>,
        /// Other keys of the `RotateResult` dictionary, kept verbatim.
        extra: Dictionary,
    },
    /// The keys of any request type's response, typed from Apple's schema (generated).
    Schema(SchemaResponse),
}

impl ResponsePayload {
    /// The request type this payload answers, when it has keys of its own.
    #[must_use]
    pub fn command_type(&self) -> Option<CommandType> {
        match self {
            Self::Schema(payload) => Some(payload.command_type()),
            _ => self.request_type().map(CommandType::from),
        }
    }

    /// The hand-written request type this payload answers, when it has keys of its own and is
    /// not [`Self::Schema`].
    #[must_use]
    pub fn request_type(&self) -> Option<RequestType> {
        Some(match self {
            Self::None | Self::Schema(_) => return None,
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

    /// Parses the response to a command of type `request_type` (a [`RequestType`] or any
    /// [`CommandType`]): the hand-written payload view for the request types that have one,
    /// [`ResponsePayload::Schema`] for the others.
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse_for(
        bytes: &[u8],
        request_type: impl Into<CommandType>,
        limits: &Limits,
    ) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read_for(Fields::new(dict, ""), request_type.into(), false)
    }

    /// Parses the response to a command of type `request_type` with every key of the schema
    /// typed: the payload is [`ResponsePayload::Schema`] (or [`ResponsePayload::None`] when
    /// such responses have no keys of their own), for the hand-written request types too.
    ///
    /// ```
    /// use mdm_protocol::{CommandResponse, CommandType, Limits, ResponsePayload, SchemaResponse};
    ///
    /// let xml = br#"<plist version="1.0"><dict>
    ///   <key>CommandUUID</key><string>0003</string>
    ///   <key>Status</key><string>Acknowledged</string>
    ///   <key>SecurityInfo</key><dict>
    ///     <key>IsRecoveryLockEnabled</key><true/>
    ///     <key>FutureKey</key><integer>7</integer>
    ///   </dict>
    /// </dict></plist>"#;
    /// let response = CommandResponse::parse_schema(xml, CommandType::SecurityInfo, &Limits::DEFAULT)?;
    /// let ResponsePayload::Schema(SchemaResponse::SecurityInfo(info)) = &response.payload else {
    ///     panic!("not SecurityInfo");
    /// };
    /// let info = info.security_info.as_ref().unwrap();
    /// assert_eq!(info.is_recovery_lock_enabled, Some(true));
    /// assert!(info.extra.contains_key("FutureKey"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse_schema(
        bytes: &[u8],
        request_type: impl Into<CommandType>,
        limits: &Limits,
    ) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read_for(Fields::new(dict, ""), request_type.into(), true)
    }

    fn read_for(
        mut top: Fields,
        command_type: CommandType,
        schema: bool,
    ) -> Result<Self, ParseError> {
        if let Some(request_type) = command_type.request_type().filter(|_| !schema) {
            return Self::read(top, Some(request_type));
        }
        let envelope = Envelope::read(&mut top)?;
        let payload = match SchemaResponse::read(command_type, &mut top)? {
            Some(payload) => ResponsePayload::Schema(payload),
            None => ResponsePayload::None,
        };
        Ok(envelope.with(payload, top.rest()))
    }

    pub(crate) fn read(
        mut top: Fields,
        request_type: Option<RequestType>,
    ) -> Result<Self, ParseError> {
        let envelope = Envelope::read(&mut top)?;
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
        Ok(envelope.with(payload, top.rest()))
    }

    fn write(&self, redact: bool) -> Dictionary {
        let mut out = DictWriter::with_extra(redact, &self.extra);
        out.opt_string("CommandUUID", self.command_uuid.as_deref())
            .string("Status", self.status.as_str());
        self.identity.write(&mut out);
        if !self.error_chain.is_empty() {
            out.put("ErrorChain", &self.error_chain);
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
                        let mut d = DictWriter::with_extra(redact, &c.extra);
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
            ResponsePayload::SetFirmwarePassword {
                password_changed,
                extra,
            } => {
                let mut d = DictWriter::with_extra(redact, extra);
                d.opt_bool("PasswordChanged", Some(*password_changed));
                out.value("SetFirmwarePassword", Value::Dictionary(d.finish()));
            }
            ResponsePayload::VerifyFirmwarePassword {
                password_verified,
                extra,
            } => {
                let mut d = DictWriter::with_extra(redact, extra);
                d.opt_bool("PasswordVerified", Some(*password_verified));
                out.value("VerifyFirmwarePassword", Value::Dictionary(d.finish()));
            }
            ResponsePayload::RotateFileVaultKey {
                encrypted_new_recovery_key,
                extra,
            } => {
                let mut d = DictWriter::with_extra(redact, extra);
                d.put_opt(
                    "EncryptedNewRecoveryKey",
                    encrypted_new_recovery_key.as_ref(),
                );
                out.value("RotateResult", Value::Dictionary(d.finish()));
            }
            ResponsePayload::Schema(payload) => payload.write_to(&mut out),
        }
        out.finish()
    }
}

plist_output!(CommandResponse);

/// The envelope keys of a response, read before its payload.
struct Envelope {
    command_uuid: Option<String>,
    status: Status,
    identity: Identity,
    error_chain: Vec<ErrorChainItem>,
}

impl Envelope {
    /// `Status`, `CommandUUID`, the identity and the `ErrorChain`.
    fn read(top: &mut Fields) -> Result<Self, ParseError> {
        let status_path = top.path_of("Status");
        let status = top.string("Status")?;
        let status = status
            .parse()
            .map_err(|UnknownStatus(found)| ParseError::InvalidValue {
                path: status_path,
                expected: "Acknowledged, Error, CommandFormatError, Idle or NotNow",
                reason: format!("found {found:?}"),
            })?;
        Ok(Self {
            command_uuid: top.opt_string("CommandUUID")?,
            status,
            identity: Identity::read(top)?,
            error_chain: top.opt("ErrorChain")?.unwrap_or_default(),
        })
    }

    fn with(self, payload: ResponsePayload, extra: Dictionary) -> CommandResponse {
        CommandResponse {
            command_uuid: self.command_uuid,
            status: self.status,
            identity: self.identity,
            error_chain: self.error_chain,
            payload,
            extra,
        }
    }
}

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
                        extra: c.rest(),
                    });
                }
                ResponsePayload::CertificateList(list)
            }
            None => ResponsePayload::None,
        },
        RequestType::SetFirmwarePassword => match top.opt_dict("SetFirmwarePassword")? {
            Some(mut d) => ResponsePayload::SetFirmwarePassword {
                password_changed: d.bool("PasswordChanged")?,
                extra: d.rest(),
            },
            None => ResponsePayload::None,
        },
        RequestType::VerifyFirmwarePassword => match top.opt_dict("VerifyFirmwarePassword")? {
            Some(mut d) => ResponsePayload::VerifyFirmwarePassword {
                password_verified: d.bool("PasswordVerified")?,
                extra: d.rest(),
            },
            None => ResponsePayload::None,
        },
        RequestType::RotateFileVaultKey => match top.opt_dict("RotateResult")? {
            Some(mut d) => ResponsePayload::RotateFileVaultKey {
                encrypted_new_recovery_key: d.opt_secret_data("EncryptedNewRecoveryKey")?,
                extra: d.rest(),
            },
            None => ResponsePayload::None,
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
