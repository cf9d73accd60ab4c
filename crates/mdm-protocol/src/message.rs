//! Any MDM property list: command, command response or check-in message.

use crate::{
    CheckinMessage, Command, CommandResponse, Limits, ParseError, fields::Fields,
    input::read_dictionary,
};

/// Which of the three MDM messages a property list is.
#[derive(Debug, Clone, PartialEq)]
pub enum MdmMessage {
    /// Server to device: has a `Command` dictionary.
    Command(Command),
    /// Device to server: has a `Status`.
    Response(CommandResponse),
    /// Device to the check-in URL: has a `MessageType`.
    Checkin(CheckinMessage),
}

impl MdmMessage {
    /// Parses and classifies `bytes` (XML or binary): `MessageType` makes a check-in message,
    /// a `Command` key a command, a `Status` key a response.
    ///
    /// ```
    /// use mdm_protocol::{Command, CommandRequest, Limits, MdmMessage};
    ///
    /// let bytes = Command::new(CommandRequest::SecurityInfo).to_binary()?;
    /// let message = MdmMessage::parse(&bytes, &Limits::DEFAULT)?;
    /// assert_eq!(message.kind(), "command");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ParseError`] naming the key path and the expected type, or
    /// [`ParseError::NotMdmMessage`] when none of the three keys is present.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let (dict, _) = read_dictionary(bytes, limits)?;
        let fields = Fields::new(dict, "");
        if fields.has("MessageType") {
            CheckinMessage::read(fields).map(Self::Checkin)
        } else if fields.has("Command") {
            Command::read(fields).map(Self::Command)
        } else if fields.has("Status") {
            CommandResponse::read(fields, None).map(Self::Response)
        } else {
            Err(ParseError::NotMdmMessage {
                reason: "none of MessageType (check-in), Command (command) or Status (response)",
            })
        }
    }

    /// `command`, `response` or `checkin`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Command(_) => "command",
            Self::Response(_) => "response",
            Self::Checkin(_) => "checkin",
        }
    }

    /// The message as a property-list tree with secrets replaced by `"<redacted>"`.
    #[must_use]
    pub fn to_redacted_value(&self) -> plist::Value {
        match self {
            Self::Command(m) => m.to_redacted_value(),
            Self::Response(m) => m.to_redacted_value(),
            Self::Checkin(m) => m.to_redacted_value(),
        }
    }

    /// The message as a property-list tree: secrets (typed ones, and untyped values under
    /// secret-named keys) redacted unless `reveal`. What `alb parse` prints.
    #[must_use]
    pub fn render(&self, reveal: bool) -> plist::Value {
        if reveal {
            self.to_value()
        } else {
            self.to_redacted_value()
        }
    }

    /// The message as a property-list tree, secrets included.
    #[must_use]
    pub fn to_value(&self) -> plist::Value {
        match self {
            Self::Command(m) => m.to_value(),
            Self::Response(m) => m.to_value(),
            Self::Checkin(m) => m.to_value(),
        }
    }
}
