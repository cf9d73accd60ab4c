//! Check-in messages: what the device sends to the check-in URL.

use plist::Dictionary;

use crate::{
    CheckinType, Identity, Limits, ParseError, SchemaCheckin, UnlockToken,
    fields::{DictWriter, Fields},
    input::read_dictionary,
    output::plist_output,
};

/// A check-in message, by `MessageType`.
///
/// `Authenticate`, `TokenUpdate` and `CheckOut` keep their hand-written types (used by `alb`
/// for enrolment and the unlock token; their other keys are in `extra`); every other message
/// type of Apple's schema is [`Self::Schema`]. [`SchemaCheckin::parse`] types every key of
/// all of them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CheckinMessage {
    /// `Authenticate`: the device starts enrolling.
    Authenticate(Authenticate),
    /// `TokenUpdate`: push token, push magic and (device channel) the unlock token.
    TokenUpdate(TokenUpdate),
    /// `CheckOut`: the device leaves management.
    CheckOut(CheckOut),
    /// Any other message type of Apple's schema, every key typed (generated).
    Schema(SchemaCheckin),
    /// A message type Apple's schema does not know, kept whole.
    Other {
        /// The `MessageType` string.
        message_type: String,
        /// Every other key.
        dict: Dictionary,
    },
}

/// `Authenticate`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Authenticate {
    /// `Topic`: the APNs topic.
    pub topic: String,
    /// `UDID`, `EnrollmentID`, ….
    pub identity: Identity,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `ProductName`, e.g. `iPad8,12`.
    pub product_name: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `ModelName`.
    pub model_name: Option<String>,
    /// `DeviceName`.
    pub device_name: Option<String>,
    /// `OSVersion`.
    pub os_version: Option<String>,
    /// `BuildVersion`.
    pub build_version: Option<String>,
    /// `IMEI`.
    pub imei: Option<String>,
    /// `MEID`.
    pub meid: Option<String>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// `TokenUpdate`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUpdate {
    /// `Topic`.
    pub topic: String,
    /// `UDID`, `EnrollmentID`, user keys.
    pub identity: Identity,
    /// `Token`: the APNs device token.
    pub token: Vec<u8>,
    /// `PushMagic`: sent in every push notification.
    pub push_magic: String,
    /// `UnlockToken`: keep the latest one; `ClearPasscode` needs it.
    pub unlock_token: Option<UnlockToken>,
    /// `AwaitingConfiguration`: the device waits in Setup Assistant for `DeviceConfigured`.
    pub awaiting_configuration: Option<bool>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// `CheckOut`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOut {
    /// `Topic`.
    pub topic: String,
    /// `UDID` or `EnrollmentID`.
    pub identity: Identity,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

impl CheckinMessage {
    /// Parses a check-in message (XML or binary) under `limits`.
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        Self::read(Fields::new(dict, ""))
    }

    /// The `MessageType` string.
    #[must_use]
    pub fn message_type(&self) -> &str {
        match self {
            Self::Authenticate(_) => "Authenticate",
            Self::TokenUpdate(_) => "TokenUpdate",
            Self::CheckOut(_) => "CheckOut",
            Self::Schema(m) => m.checkin_type().as_str(),
            Self::Other { message_type, .. } => message_type,
        }
    }

    /// The sender's identity (`None` for [`Self::Other`]).
    #[must_use]
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Self::Authenticate(m) => Some(&m.identity),
            Self::TokenUpdate(m) => Some(&m.identity),
            Self::CheckOut(m) => Some(&m.identity),
            Self::Schema(m) => Some(m.identity()),
            Self::Other { .. } => None,
        }
    }

    pub(crate) fn read(mut top: Fields) -> Result<Self, ParseError> {
        let message_type = top.string("MessageType")?;
        Ok(match message_type.as_str() {
            "Authenticate" => Self::Authenticate(Authenticate {
                topic: top.string("Topic")?,
                identity: Identity::read(&mut top)?,
                serial_number: top.opt_string("SerialNumber")?,
                product_name: top.opt_string("ProductName")?,
                model: top.opt_string("Model")?,
                model_name: top.opt_string("ModelName")?,
                device_name: top.opt_string("DeviceName")?,
                os_version: top.opt_string("OSVersion")?,
                build_version: top.opt_string("BuildVersion")?,
                imei: top.opt_string("IMEI")?,
                meid: top.opt_string("MEID")?,
                extra: top.rest(),
            }),
            "TokenUpdate" => Self::TokenUpdate(TokenUpdate {
                topic: top.string("Topic")?,
                identity: Identity::read(&mut top)?,
                token: top.data("Token")?,
                push_magic: top.string("PushMagic")?,
                unlock_token: top.opt_unlock_token("UnlockToken")?,
                awaiting_configuration: top.opt_bool("AwaitingConfiguration")?,
                extra: top.rest(),
            }),
            "CheckOut" => Self::CheckOut(CheckOut {
                topic: top.string("Topic")?,
                identity: Identity::read(&mut top)?,
                extra: top.rest(),
            }),
            other => match other.parse::<CheckinType>() {
                Ok(checkin_type) => Self::Schema(SchemaCheckin::read(checkin_type, top)?),
                Err(_) => Self::Other {
                    message_type,
                    dict: top.rest(),
                },
            },
        })
    }

    fn write(&self, redact: bool) -> Dictionary {
        let mut out = match self {
            Self::Authenticate(m) => {
                let mut out = DictWriter::with_extra(redact, &m.extra);
                out.string("Topic", &m.topic);
                m.identity.write(&mut out);
                out.opt_string("SerialNumber", m.serial_number.as_deref())
                    .opt_string("ProductName", m.product_name.as_deref())
                    .opt_string("Model", m.model.as_deref())
                    .opt_string("ModelName", m.model_name.as_deref())
                    .opt_string("DeviceName", m.device_name.as_deref())
                    .opt_string("OSVersion", m.os_version.as_deref())
                    .opt_string("BuildVersion", m.build_version.as_deref())
                    .opt_string("IMEI", m.imei.as_deref())
                    .opt_string("MEID", m.meid.as_deref());
                out
            }
            Self::TokenUpdate(m) => {
                let mut out = DictWriter::with_extra(redact, &m.extra);
                out.string("Topic", &m.topic);
                m.identity.write(&mut out);
                // The APNs device token is a token by name: redacted like the unlock token.
                out.secret_data("Token", Some(&m.token))
                    .string("PushMagic", &m.push_magic)
                    .secret_data(
                        "UnlockToken",
                        m.unlock_token.as_ref().map(UnlockToken::as_bytes),
                    )
                    .opt_bool("AwaitingConfiguration", m.awaiting_configuration);
                out
            }
            Self::CheckOut(m) => {
                let mut out = DictWriter::with_extra(redact, &m.extra);
                out.string("Topic", &m.topic);
                m.identity.write(&mut out);
                out
            }
            Self::Schema(m) => return m.write(redact),
            Self::Other { dict, .. } => DictWriter::with_extra(redact, dict),
        };
        out.string("MessageType", self.message_type());
        out.finish()
    }
}

plist_output!(CheckinMessage);
