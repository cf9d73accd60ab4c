//! The command envelope and the typed request payloads.

use plist::Dictionary;

use crate::{
    CommandType, Limits, ParseError, RequestType, SchemaRequest,
    fields::{DictWriter, Fields},
    input::read_dictionary,
    output::plist_output,
    secret::{Password, SecretData, UnlockToken},
};

/// A command as the server sends it: `{ Command: { RequestType, … }, CommandUUID }`.
///
/// ```
/// use mdm_protocol::{Command, CommandRequest, Limits};
///
/// let command = Command::with_uuid("0001", CommandRequest::ActivationLockBypassCode);
/// let xml = command.to_xml()?;
/// assert_eq!(Command::parse(&xml, &Limits::DEFAULT)?, command);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// `CommandUUID`: the server's identifier, echoed in the response.
    pub uuid: String,
    /// `Command`: the request type and its payload.
    pub request: CommandRequest,
    /// Keys of the `Command` dictionary the typed payload does not cover, kept verbatim (for
    /// [`CommandRequest::Other`], parsing puts every key in its payload and leaves this empty).
    pub extra: Dictionary,
}

impl Command {
    /// A command with a fresh random (version 4) UUID.
    #[must_use]
    pub fn new(request: CommandRequest) -> Self {
        Self::with_uuid(uuid::Uuid::new_v4().to_string().to_uppercase(), request)
    }

    /// A command with the given `CommandUUID`.
    #[must_use]
    pub fn with_uuid(uuid: impl Into<String>, request: CommandRequest) -> Self {
        Self {
            uuid: uuid.into(),
            request,
            extra: Dictionary::new(),
        }
    }

    /// Parses a command (XML or binary) under `limits`.
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read(Fields::new(dict, ""))
    }

    pub(crate) fn read(mut top: Fields) -> Result<Self, ParseError> {
        let uuid = top.string("CommandUUID")?;
        let mut command = top.dict("Command")?;
        let request_type = command.string("RequestType")?;
        let request = CommandRequest::read(request_type, &mut command)?;
        Ok(Self {
            uuid,
            request,
            extra: command.rest(),
        })
    }

    fn write(&self, redact: bool) -> Dictionary {
        let mut command = DictWriter::with_extra(redact, &self.extra);
        self.request.write(&mut command);
        command.string("RequestType", self.request.request_type());
        let mut top = DictWriter::new(redact);
        top.value("Command", plist::Value::Dictionary(command.finish()))
            .string("CommandUUID", &self.uuid);
        top.finish()
    }
}

plist_output!(Command);

/// The `Command` dictionary: one hand-written variant per [`RequestType`], [`Self::Schema`] for
/// every other request type of Apple's schema (generated), and [`Self::Other`] for request
/// types the schema does not know.
///
/// The hand-written variants predate the generator and stay: `alb`, the testbed, the fuzz
/// targets and the benchmarks build them with struct literals and unit variants, and they type
/// every key of their request (unknown keys land in [`Command::extra`]).
///
/// ```
/// use mdm_protocol::{Command, CommandRequest, Limits, Password, SchemaRequest};
/// use mdm_protocol::generated::commands::device_lock::DeviceLock;
///
/// let mut lock = DeviceLock::new();
/// lock.message = Some("Call the help desk".into());
/// lock.pin = Some(Password::from("123456"));
/// let command = Command::with_uuid("0002", CommandRequest::from(lock));
/// let parsed = Command::parse(&command.to_binary()?, &Limits::DEFAULT)?;
/// let CommandRequest::Schema(SchemaRequest::DeviceLock(lock)) = &parsed.request else {
///     panic!("not DeviceLock");
/// };
/// assert_eq!(lock.pin.as_ref().map(Password::expose), Some("123456"));
/// assert!(!format!("{parsed:?}").contains("123456"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CommandRequest {
    /// `ActivationLockBypassCode` (no keys).
    ActivationLockBypassCode,
    /// `ClearActivationLockBypassCode` (no keys).
    ClearActivationLockBypassCode,
    /// `ClearPasscode`.
    ClearPasscode(ClearPasscode),
    /// `SecurityInfo` (no keys).
    SecurityInfo,
    /// `CertificateList`.
    CertificateList(CertificateList),
    /// `RotateFileVaultKey`.
    RotateFileVaultKey(RotateFileVaultKey),
    /// `ClearRestrictionsPassword` (no keys).
    ClearRestrictionsPassword,
    /// `UnlockUserAccount`.
    UnlockUserAccount(UnlockUserAccount),
    /// `SetAutoAdminPassword`.
    SetAutoAdminPassword(SetAutoAdminPassword),
    /// `SetFirmwarePassword`.
    SetFirmwarePassword(SetFirmwarePassword),
    /// `VerifyFirmwarePassword`.
    VerifyFirmwarePassword(VerifyFirmwarePassword),
    /// `DeviceInformation`.
    DeviceInformation(DeviceInformation),
    /// Any other request type of Apple's schema, every key typed (generated).
    Schema(SchemaRequest),
    /// A request type Apple's schema does not know, kept whole.
    Other {
        /// The `RequestType` string.
        request_type: String,
        /// Every other key of the `Command` dictionary.
        payload: Dictionary,
    },
}

/// `ClearPasscode`: removes the passcode; authorised by the device's unlock token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearPasscode {
    /// `UnlockToken` (`<data>`): the latest token from the device's `TokenUpdate` message.
    pub unlock_token: UnlockToken,
}

/// `CertificateList`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateList {
    /// `ManagedOnly`: only certificates MDM installed.
    pub managed_only: Option<bool>,
}

/// Which `FileVault` recovery key `RotateFileVaultKey` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileVaultKeyType {
    /// `personal`.
    Personal,
    /// `institutional`.
    Institutional,
}

impl FileVaultKeyType {
    /// The schema value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Institutional => "institutional",
        }
    }
}

/// `RotateFileVaultKey` (macOS).
#[derive(Debug, Clone, PartialEq)]
pub struct RotateFileVaultKey {
    /// `KeyType`.
    pub key_type: FileVaultKeyType,
    /// `FileVaultUnlock.Password`: a `FileVault` user's password or the personal recovery key.
    pub unlock_password: Option<Password>,
    /// `FileVaultUnlock.PrivateKeyExport`: the institutional key as PKCS#12.
    pub private_key_export: Option<SecretData>,
    /// `FileVaultUnlock.PrivateKeyExportPassword`.
    pub private_key_export_password: Option<Password>,
    /// `NewCertificate` (DER).
    pub new_certificate: Option<Vec<u8>>,
    /// `ReplyEncryptionCertificate` (DER).
    pub reply_encryption_certificate: Option<Vec<u8>>,
    /// Keys of `FileVaultUnlock` this type does not cover, kept verbatim.
    pub unlock_extra: Dictionary,
}

/// `UnlockUserAccount` (macOS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockUserAccount {
    /// `UserName`: the local account's short name.
    pub user_name: String,
}

/// `SetAutoAdminPassword` (macOS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAutoAdminPassword {
    /// `GUID` of the managed administrator account.
    pub guid: String,
    /// `passwordHash`: the salted SHA-512 PBKDF2 dictionary as a binary plist.
    pub password_hash: SecretData,
}

/// `SetFirmwarePassword` (Intel macOS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFirmwarePassword {
    /// `CurrentPassword`, needed when one is set.
    pub current_password: Option<Password>,
    /// `NewPassword` (empty clears it).
    pub new_password: Password,
    /// `AllowOroms`.
    pub allow_oroms: Option<bool>,
}

/// `VerifyFirmwarePassword` (Intel macOS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFirmwarePassword {
    /// `Password` to check.
    pub password: Password,
}

/// `DeviceInformation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInformation {
    /// `Queries`: the keys asked for.
    pub queries: Vec<String>,
    /// `DeviceAttestationNonce` (up to 32 bytes).
    pub device_attestation_nonce: Option<Vec<u8>>,
}

impl DeviceInformation {
    /// The queries an escrow-key unlock request needs: serial, product type, and IMEI/MEID per
    /// SIM slot.
    pub const UNLOCK_QUERIES: [&'static str; 6] = [
        "SerialNumber",
        "ProductName",
        "ModelName",
        "IMEI",
        "MEID",
        "ServiceSubscriptions",
    ];

    /// A `DeviceInformation` request for [`Self::UNLOCK_QUERIES`].
    #[must_use]
    pub fn for_unlock() -> Self {
        Self {
            queries: Self::UNLOCK_QUERIES
                .iter()
                .map(|q| (*q).to_owned())
                .collect(),
            device_attestation_nonce: None,
        }
    }
}

impl CommandRequest {
    /// The `RequestType` string.
    #[must_use]
    pub fn request_type(&self) -> &str {
        match self.command_type() {
            Some(known) => known.as_str(),
            None => match self {
                Self::Other { request_type, .. } => request_type,
                _ => "",
            },
        }
    }

    /// Where this command runs (from Apple's schema), or `None` for [`Self::Other`].
    #[must_use]
    pub fn availability(&self) -> Option<crate::Availability> {
        self.command_type().map(CommandType::availability)
    }

    /// The request type of Apple's schema, or `None` for [`Self::Other`].
    #[must_use]
    pub fn command_type(&self) -> Option<CommandType> {
        match self {
            Self::Schema(request) => Some(request.command_type()),
            Self::Other { .. } => None,
            _ => self.known_type().map(CommandType::from),
        }
    }

    /// The hand-written request type, or `None` for [`Self::Schema`] and [`Self::Other`].
    #[must_use]
    pub fn known_type(&self) -> Option<RequestType> {
        Some(match self {
            Self::ActivationLockBypassCode => RequestType::ActivationLockBypassCode,
            Self::ClearActivationLockBypassCode => RequestType::ClearActivationLockBypassCode,
            Self::ClearPasscode(_) => RequestType::ClearPasscode,
            Self::SecurityInfo => RequestType::SecurityInfo,
            Self::CertificateList(_) => RequestType::CertificateList,
            Self::RotateFileVaultKey(_) => RequestType::RotateFileVaultKey,
            Self::ClearRestrictionsPassword => RequestType::ClearRestrictionsPassword,
            Self::UnlockUserAccount(_) => RequestType::UnlockUserAccount,
            Self::SetAutoAdminPassword(_) => RequestType::SetAutoAdminPassword,
            Self::SetFirmwarePassword(_) => RequestType::SetFirmwarePassword,
            Self::VerifyFirmwarePassword(_) => RequestType::VerifyFirmwarePassword,
            Self::DeviceInformation(_) => RequestType::DeviceInformation,
            Self::Schema(_) | Self::Other { .. } => return None,
        })
    }

    fn read(request_type: String, c: &mut Fields) -> Result<Self, ParseError> {
        let Ok(known) = request_type.parse::<RequestType>() else {
            if let Ok(command_type) = request_type.parse::<CommandType>()
                && let Some(request) = SchemaRequest::read(command_type, c)?
            {
                return Ok(Self::Schema(request));
            }
            let payload = core::mem::replace(c, Fields::new(Dictionary::new(), "Command")).rest();
            return Ok(Self::Other {
                request_type,
                payload,
            });
        };
        Ok(match known {
            RequestType::ActivationLockBypassCode => Self::ActivationLockBypassCode,
            RequestType::ClearActivationLockBypassCode => Self::ClearActivationLockBypassCode,
            RequestType::ClearPasscode => Self::ClearPasscode(ClearPasscode {
                unlock_token: UnlockToken::new(c.data("UnlockToken")?),
            }),
            RequestType::SecurityInfo => Self::SecurityInfo,
            RequestType::CertificateList => Self::CertificateList(CertificateList {
                managed_only: c.opt_bool("ManagedOnly")?,
            }),
            RequestType::RotateFileVaultKey => {
                let path = c.path_of("KeyType");
                let key_type = match c.string("KeyType")?.as_str() {
                    "personal" => FileVaultKeyType::Personal,
                    "institutional" => FileVaultKeyType::Institutional,
                    other => {
                        return Err(ParseError::InvalidValue {
                            path,
                            expected: "`personal` or `institutional`",
                            reason: format!("found {other:?}"),
                        });
                    }
                };
                let mut unlock = c.dict("FileVaultUnlock")?;
                Self::RotateFileVaultKey(RotateFileVaultKey {
                    key_type,
                    unlock_password: unlock.opt_password("Password")?,
                    private_key_export: unlock.opt_secret_data("PrivateKeyExport")?,
                    private_key_export_password: unlock.opt_password("PrivateKeyExportPassword")?,
                    new_certificate: c.opt_data("NewCertificate")?,
                    reply_encryption_certificate: c.opt_data("ReplyEncryptionCertificate")?,
                    unlock_extra: unlock.rest(),
                })
            }
            RequestType::ClearRestrictionsPassword => Self::ClearRestrictionsPassword,
            RequestType::UnlockUserAccount => Self::UnlockUserAccount(UnlockUserAccount {
                user_name: c.string("UserName")?,
            }),
            RequestType::SetAutoAdminPassword => Self::SetAutoAdminPassword(SetAutoAdminPassword {
                guid: c.string("GUID")?,
                password_hash: SecretData::new(c.data("passwordHash")?),
            }),
            RequestType::SetFirmwarePassword => Self::SetFirmwarePassword(SetFirmwarePassword {
                current_password: c.opt_password("CurrentPassword")?,
                new_password: c.password("NewPassword")?,
                allow_oroms: c.opt_bool("AllowOroms")?,
            }),
            RequestType::VerifyFirmwarePassword => {
                Self::VerifyFirmwarePassword(VerifyFirmwarePassword {
                    password: c.password("Password")?,
                })
            }
            RequestType::DeviceInformation => Self::DeviceInformation(DeviceInformation {
                queries: c
                    .opt_string_array("Queries")?
                    .ok_or_else(|| ParseError::Missing {
                        path: c.path_of("Queries"),
                        expected: "array of strings",
                    })?,
                device_attestation_nonce: c.opt_data("DeviceAttestationNonce")?,
            }),
        })
    }

    fn write(&self, out: &mut DictWriter) {
        match self {
            Self::ActivationLockBypassCode
            | Self::ClearActivationLockBypassCode
            | Self::SecurityInfo
            | Self::ClearRestrictionsPassword => {}
            Self::ClearPasscode(p) => {
                out.secret_data("UnlockToken", Some(p.unlock_token.as_bytes()));
            }
            Self::CertificateList(p) => {
                out.opt_bool("ManagedOnly", p.managed_only);
            }
            Self::RotateFileVaultKey(p) => {
                let mut unlock = DictWriter::with_extra(out.redacting(), &p.unlock_extra);
                unlock
                    .opt_password("Password", p.unlock_password.as_ref())
                    .secret_data(
                        "PrivateKeyExport",
                        p.private_key_export.as_ref().map(SecretData::as_bytes),
                    )
                    .opt_password(
                        "PrivateKeyExportPassword",
                        p.private_key_export_password.as_ref(),
                    );
                out.string("KeyType", p.key_type.as_str())
                    .value("FileVaultUnlock", plist::Value::Dictionary(unlock.finish()))
                    .opt_data("NewCertificate", p.new_certificate.as_deref())
                    .opt_data(
                        "ReplyEncryptionCertificate",
                        p.reply_encryption_certificate.as_deref(),
                    );
            }
            Self::UnlockUserAccount(p) => {
                out.string("UserName", &p.user_name);
            }
            Self::SetAutoAdminPassword(p) => {
                out.string("GUID", &p.guid)
                    .secret_data("passwordHash", Some(p.password_hash.as_bytes()));
            }
            Self::SetFirmwarePassword(p) => {
                out.opt_password("CurrentPassword", p.current_password.as_ref())
                    .opt_password("NewPassword", Some(&p.new_password))
                    .opt_bool("AllowOroms", p.allow_oroms);
            }
            Self::VerifyFirmwarePassword(p) => {
                out.opt_password("Password", Some(&p.password));
            }
            Self::DeviceInformation(p) => {
                out.value(
                    "Queries",
                    plist::Value::Array(
                        p.queries
                            .iter()
                            .map(|q| plist::Value::String(q.clone()))
                            .collect(),
                    ),
                )
                .opt_data(
                    "DeviceAttestationNonce",
                    p.device_attestation_nonce.as_deref(),
                );
            }
            Self::Schema(request) => request.write_to(out),
            Self::Other { payload, .. } => {
                for (key, value) in crate::typed::redacted_dictionary(payload, out.redacting()) {
                    out.value(&key, value);
                }
            }
        }
    }
}
