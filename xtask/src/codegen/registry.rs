//! The registry and dispatch files: `CommandType`, `SchemaRequest`, `SchemaResponse`,
//! `CheckinType`, `SchemaCheckin`, `ErrorBody`, and the `mod.rs` files.

use core::fmt::Write as _;

use super::{docs, ir::Message, ir::Schema};

/// `generated/mod.rs`.
pub fn root(schema: &Schema) -> String {
    format!(
        "//! Apple's MDM protocol, generated from Apple's device-management schema \
         ({origin}).\n//!\n//! One module per command ([`commands`]), check-in message \
         ([`checkin`]) and error body\n//! ([`errors`]): its types, their readers and writers, \
         its availability and its\n//! [`MessageSpec`](crate::schema::MessageSpec).\n\n\
         // Apple's prose names products and keys (FileVault, iCloud, DeviceLock…) without \
         backticks.\n#![allow(clippy::doc_markdown)]\n\npub mod checkin;\npub mod \
         commands;\npub mod errors;\n",
        origin = schema.origin
    )
}

fn modules(out: &mut String, messages: &[Message]) {
    for m in messages {
        let _ = writeln!(out, "pub mod {};", m.module);
    }
}

/// `generated/commands/mod.rs`.
pub fn commands_mod(schema: &Schema) -> String {
    let mut out = String::from(
        "//! Every command of Apple's schema: one module per request type, the\n//! \
         [`CommandType`] registry, and the [`SchemaRequest`] / [`SchemaResponse`] \
         dispatch.\n\nmod command_type;\nmod request;\nmod response;\n\npub use \
         command_type::CommandType;\npub use request::SchemaRequest;\npub use \
         response::SchemaResponse;\n\n",
    );
    modules(&mut out, &schema.commands);
    out
}

/// `generated/commands/command_type.rs`.
pub fn command_type(schema: &Schema) -> String {
    let commands = &schema.commands;
    let mut out = String::from(
        "//! [`CommandType`]: every request type of Apple's schema, with its availability and \
         its keys.\n\nuse crate::runtime as rt;\n\n/// Every command request type in Apple's \
         schema.\n///\n/// [`RequestType`](crate::RequestType) is the subset with hand-written \
         payload types;\n/// `CommandType::from(request_type)` converts.\n#[derive(Debug, \
         Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\npub enum \
         CommandType {\n",
    );
    for m in commands {
        let _ = writeln!(
            out,
            "    /// `{}`: {}\n    ///\n    /// Available: {}.\n    {},",
            m.name,
            docs::summary(&m.title),
            m.availability.describe(),
            m.rust
        );
    }
    out.push_str("}\n\nimpl CommandType {\n");
    let _ = writeln!(
        out,
        "    /// Every request type, sorted by name.\n    pub const ALL: [Self; {}] = [{}];\n",
        commands.len(),
        commands
            .iter()
            .map(|m| format!("Self::{}", m.rust))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(
        "    /// The `RequestType` string.\n    #[must_use]\n    pub const fn as_str(self) -> \
         &'static str {\n        match self {\n",
    );
    for m in commands {
        let _ = writeln!(out, "            Self::{} => {:?},", m.rust, m.name);
    }
    out.push_str(
        "        }\n    }\n\n    /// Where the command is supported (from the schema's \
         `supportedOS`).\n    #[must_use]\n    pub const fn availability(self) -> \
         rt::Availability {\n        match self {\n",
    );
    for m in commands {
        let _ = writeln!(
            out,
            "            Self::{} => super::{}::AVAILABILITY,",
            m.rust, m.module
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// What the schema says about the command and every key of \
         its request and response.\n    #[must_use]\n    pub fn spec(self) -> &'static \
         rt::MessageSpec {\n        match self {\n",
    );
    for m in commands {
        let _ = writeln!(
            out,
            "            Self::{} => &super::{}::SPEC,",
            m.rust, m.module
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// The schema's title, e.g. `Device Lock Command`.\n    \
         #[must_use]\n    pub fn title(self) -> &'static str {\n        self.spec().title\n    \
         }\n\n    /// The hand-written request type, for the commands that have one.\n    \
         #[must_use]\n    pub const fn request_type(self) -> Option<rt::RequestType> {\n        \
         match self {\n",
    );
    for m in commands.iter().filter(|m| m.hand_written.is_some()) {
        let _ = writeln!(
            out,
            "            Self::{} => Some(rt::RequestType::{}),",
            m.rust, m.rust
        );
    }
    out.push_str(
        "            _ => None,\n        }\n    }\n\n    /// The command type of a hand-written \
         request type.\n    #[must_use]\n    pub const fn from_request_type(request_type: \
         rt::RequestType) -> Self {\n        match request_type {\n",
    );
    for m in commands.iter().filter(|m| m.hand_written.is_some()) {
        let _ = writeln!(
            out,
            "            rt::RequestType::{} => Self::{},",
            m.rust, m.rust
        );
    }
    out.push_str(
        "        }\n    }\n}\n\nimpl From<rt::RequestType> for CommandType {\n    fn \
         from(request_type: rt::RequestType) -> Self {\n        \
         Self::from_request_type(request_type)\n    }\n}\n\nimpl core::fmt::Display for \
         CommandType {\n    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> \
         core::fmt::Result {\n        f.write_str(self.as_str())\n    }\n}\n\nimpl \
         core::str::FromStr for CommandType {\n    type Err = rt::UnknownCommandType;\n\n    \
         fn from_str(s: &str) -> Result<Self, Self::Err> {\n        Self::ALL\n            \
         .binary_search_by(|t| t.as_str().cmp(s))\n            .map(|i| Self::ALL[i])\n            \
         .map_err(|_| rt::UnknownCommandType(s.to_owned()))\n    }\n}\n",
    );
    out
}

/// `generated/commands/request.rs`.
pub fn request(schema: &Schema) -> String {
    let commands = &schema.commands;
    let mut out = String::from(
        "//! [`SchemaRequest`]: the generated request payloads, by request type.\n\nuse \
         super::CommandType;\nuse crate::runtime as rt;\n\n/// The `Command` dictionary of a \
         command with a generated request type (the hand-written\n/// ones are variants of \
         [`CommandRequest`](crate::CommandRequest) of their own).\n#[derive(Debug, Clone, \
         PartialEq)]\n#[non_exhaustive]\npub enum SchemaRequest {\n",
    );
    let generated: Vec<&Message> = commands
        .iter()
        .filter(|m| m.hand_written.is_none())
        .collect();
    for m in &generated {
        if m.request.is_empty() {
            let _ = writeln!(out, "    /// `{}` (no keys).\n    {},", m.name, m.rust);
        } else {
            let _ = writeln!(
                out,
                "    /// `{}`.\n    {}(Box<super::{}::{}>),",
                m.name, m.rust, m.module, m.rust
            );
        }
    }
    out.push_str(
        "}\n\nimpl SchemaRequest {\n    /// The request type.\n    #[must_use]\n    pub const fn \
         command_type(&self) -> CommandType {\n        match self {\n",
    );
    for m in &generated {
        let pattern = if m.request.is_empty() { "" } else { "(_)" };
        let _ = writeln!(
            out,
            "            Self::{}{pattern} => CommandType::{},",
            m.rust, m.rust
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// Reads the payload of `command_type` from the `Command` \
         dictionary; `None` for the\n    /// request types with a hand-written payload.\n    \
         pub(crate) fn read(\n        command_type: CommandType,\n        f: &mut \
         rt::Fields,\n    ) -> Result<Option<Self>, rt::ParseError> {\n        \
         Ok(Some(match command_type {\n",
    );
    for m in commands {
        if m.hand_written.is_some() {
            let _ = writeln!(
                out,
                "            CommandType::{} => return Ok(None),",
                m.rust
            );
        } else if m.request.is_empty() {
            let _ = writeln!(
                out,
                "            CommandType::{} => Self::{},",
                m.rust, m.rust
            );
        } else {
            let _ = writeln!(
                out,
                "            CommandType::{} => Self::{}(Box::new(super::{}::{}::read_from(f)?)),",
                m.rust, m.rust, m.module, m.rust
            );
        }
    }
    out.push_str(
        "        }))\n    }\n\n    /// Writes the payload's keys.\n    pub(crate) fn \
         write_to(&self, out: &mut rt::DictWriter) {\n        match self {\n",
    );
    for m in &generated {
        if m.request.is_empty() {
            let _ = writeln!(out, "            Self::{} => {{}}", m.rust);
        } else {
            let _ = writeln!(out, "            Self::{}(v) => v.write_to(out),", m.rust);
        }
    }
    out.push_str("        }\n    }\n}\n");
    for m in generated.iter().filter(|m| !m.request.is_empty()) {
        let path = format!("super::{}::{}", m.module, m.rust);
        let _ = writeln!(
            out,
            "\nimpl From<{path}> for SchemaRequest {{\n    fn from(request: {path}) -> Self {{\n        \
             Self::{}(Box::new(request))\n    }}\n}}\n\nimpl From<{path}> for \
             rt::CommandRequest {{\n    fn from(request: {path}) -> Self {{\n        \
             Self::Schema(SchemaRequest::from(request))\n    }}\n}}",
            m.rust
        );
    }
    out
}

/// `generated/commands/response.rs`.
pub fn response(schema: &Schema) -> String {
    let commands = &schema.commands;
    let with: Vec<&Message> = commands.iter().filter(|m| !m.response.is_empty()).collect();
    let mut out = String::from(
        "//! [`SchemaResponse`]: the generated response payloads, by request type.\n\nuse \
         super::CommandType;\nuse crate::runtime as rt;\n\n/// The command-specific keys of a \
         response, every one typed from the schema.\n#[derive(Debug, Clone, \
         PartialEq)]\n#[non_exhaustive]\npub enum SchemaResponse {\n",
    );
    for m in &with {
        let _ = writeln!(
            out,
            "    /// `{}`.\n    {}(Box<super::{}::{}Response>),",
            m.name, m.rust, m.module, m.rust
        );
    }
    out.push_str(
        "}\n\nimpl SchemaResponse {\n    /// The request type this answers.\n    #[must_use]\n    \
         pub const fn command_type(&self) -> CommandType {\n        match self {\n",
    );
    for m in &with {
        let _ = writeln!(
            out,
            "            Self::{}(_) => CommandType::{},",
            m.rust, m.rust
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// Whether responses to `command_type` have keys of their own.\n    \
         #[must_use]\n    pub const fn has_keys(command_type: CommandType) -> bool {\n        \
         match command_type {\n",
    );
    let keyless: Vec<String> = commands
        .iter()
        .filter(|m| m.response.is_empty())
        .map(|m| format!("CommandType::{}", m.rust))
        .collect();
    let keyed: Vec<String> = with
        .iter()
        .map(|m| format!("CommandType::{}", m.rust))
        .collect();
    let _ = writeln!(
        out,
        "            {} => true,\n            {} => false,\n        }}\n    }}\n",
        keyed.join(" | "),
        keyless.join(" | ")
    );
    out.push_str(
        "    /// Reads the keys of a response to `command_type` from the top-level dictionary; \
         `None`\n    /// when such responses have no keys of their own.\n    pub(crate) fn \
         read(\n        command_type: CommandType,\n        f: &mut rt::Fields,\n    ) -> \
         Result<Option<Self>, rt::ParseError> {\n        Ok(Some(match command_type {\n",
    );
    for m in &with {
        let _ = writeln!(
            out,
            "            CommandType::{} => Self::{}(Box::new(super::{}::{}Response::read_from(f)?)),",
            m.rust, m.rust, m.module, m.rust
        );
    }
    let _ = writeln!(
        out,
        "            {} => return Ok(None),\n        }}))\n    }}\n",
        keyless.join(" | ")
    );
    out.push_str(
        "    /// Writes the keys.\n    pub(crate) fn write_to(&self, out: &mut rt::DictWriter) \
         {\n        match self {\n",
    );
    for m in &with {
        let _ = writeln!(out, "            Self::{}(v) => v.write_to(out),", m.rust);
    }
    out.push_str("        }\n    }\n}\n");
    out
}

/// `generated/checkin/mod.rs`.
pub fn checkin_mod(schema: &Schema) -> String {
    let checkins = &schema.checkins;
    let mut out = String::from(
        "//! Every check-in message of Apple's schema: one module per message type, the\n//! \
         [`CheckinType`] registry and the [`SchemaCheckin`] dispatch.\n\nuse crate::runtime as \
         rt;\n\n",
    );
    modules(&mut out, checkins);
    out.push_str(
        "\n/// Every check-in message type in Apple's schema.\n#[derive(Debug, Clone, Copy, \
         PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\npub enum CheckinType {\n",
    );
    for m in checkins {
        let _ = writeln!(
            out,
            "    /// `{}`: {}\n    ///\n    /// Available: {}.\n    {},",
            m.name,
            docs::summary(&m.title),
            m.availability.describe(),
            m.rust
        );
    }
    let _ = writeln!(
        out,
        "}}\n\nimpl CheckinType {{\n    /// Every message type, sorted by name.\n    pub const \
         ALL: [Self; {}] = [{}];\n",
        checkins.len(),
        checkins
            .iter()
            .map(|m| format!("Self::{}", m.rust))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(
        "    /// The `MessageType` string.\n    #[must_use]\n    pub const fn as_str(self) -> \
         &'static str {\n        match self {\n",
    );
    for m in checkins {
        let _ = writeln!(out, "            Self::{} => {:?},", m.rust, m.name);
    }
    out.push_str(
        "        }\n    }\n\n    /// Where the message is sent (from the schema's \
         `supportedOS`).\n    #[must_use]\n    pub const fn availability(self) -> \
         rt::Availability {\n        match self {\n",
    );
    for m in checkins {
        let _ = writeln!(
            out,
            "            Self::{} => {}::AVAILABILITY,",
            m.rust, m.module
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// What the schema says about the message and every key.\n    \
         #[must_use]\n    pub fn spec(self) -> &'static rt::MessageSpec {\n        match self \
         {\n",
    );
    for m in checkins {
        let _ = writeln!(out, "            Self::{} => &{}::SPEC,", m.rust, m.module);
    }
    out.push_str(
        "        }\n    }\n}\n\nimpl core::fmt::Display for CheckinType {\n    fn fmt(&self, f: \
         &mut core::fmt::Formatter<'_>) -> core::fmt::Result {\n        \
         f.write_str(self.as_str())\n    }\n}\n\nimpl core::str::FromStr for CheckinType {\n    \
         type Err = rt::UnknownCommandType;\n\n    fn from_str(s: &str) -> Result<Self, \
         Self::Err> {\n        Self::ALL\n            .binary_search_by(|t| \
         t.as_str().cmp(s))\n            .map(|i| Self::ALL[i])\n            .map_err(|_| \
         rt::UnknownCommandType(s.to_owned()))\n    }\n}\n\n/// A check-in message, every key \
         typed from the schema.\n#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\npub \
         enum SchemaCheckin {\n",
    );
    for m in checkins {
        let _ = writeln!(
            out,
            "    /// `{}`.\n    {}(Box<{}::{}>),",
            m.name, m.rust, m.module, m.rust
        );
    }
    out.push_str(
        "}\n\nimpl SchemaCheckin {\n    /// Parses a check-in message (XML or binary) under \
         `limits`; its `MessageType` must be\n    /// one of [`CheckinType::ALL`].\n    ///\n    \
         /// # Errors\n    /// [`rt::ParseError`] naming the key path.\n    pub fn parse(bytes: \
         &[u8], limits: &rt::Limits) -> Result<Self, rt::ParseError> {\n        let mut f = \
         rt::read_fields(bytes, limits)?;\n        let name: String = \
         f.req(\"MessageType\")?;\n        let Ok(checkin_type) = name.parse::<CheckinType>() \
         else {\n            return Err(rt::ParseError::InvalidValue {\n                path: \
         \"MessageType\".to_owned(),\n                expected: \"a check-in message type of \
         Apple's schema\",\n                reason: format!(\"found {name:?}\"),\n            \
         });\n        };\n        Self::read(checkin_type, f)\n    }\n\n    /// The message \
         type.\n    #[must_use]\n    pub const fn checkin_type(&self) -> CheckinType {\n        \
         match self {\n",
    );
    for m in checkins {
        let _ = writeln!(
            out,
            "            Self::{}(_) => CheckinType::{},",
            m.rust, m.rust
        );
    }
    out.push_str(
        "        }\n    }\n\n    /// Who sends it.\n    #[must_use]\n    pub fn identity(&self) \
         -> &rt::Identity {\n        match self {\n",
    );
    for m in checkins {
        let _ = writeln!(out, "            Self::{}(m) => &m.identity,", m.rust);
    }
    out.push_str(
        "        }\n    }\n\n    /// Reads a message of `checkin_type` (its `MessageType` \
         already taken).\n    pub(crate) fn read(checkin_type: CheckinType, f: rt::Fields) -> \
         Result<Self, rt::ParseError> {\n        Ok(match checkin_type {\n",
    );
    for m in checkins {
        let _ = writeln!(
            out,
            "            CheckinType::{} => Self::{}(Box::new({}::{}::read(f)?)),",
            m.rust, m.rust, m.module, m.rust
        );
    }
    out.push_str(
        "        })\n    }\n\n    /// The message's dictionary, `MessageType` included.\n    \
         pub(crate) fn write(&self, redact: bool) -> rt::Dictionary {\n        let mut dict = \
         match self {\n",
    );
    for m in checkins {
        let _ = writeln!(out, "            Self::{}(m) => m.write(redact),", m.rust);
    }
    out.push_str(
        "        };\n        dict.insert(\n            \"MessageType\".to_owned(),\n            \
         rt::Value::String(self.checkin_type().as_str().to_owned()),\n        );\n        \
         dict\n    }\n}\n\nrt::plist_output!(SchemaCheckin);\n",
    );
    out
}

/// `generated/errors/mod.rs`.
pub fn errors_mod(schema: &Schema) -> String {
    let errors = &schema.errors;
    let mut out = String::from(
        "//! The error bodies of Apple's schema: what an MDM server answers with HTTP 403 \
         during\n//! enrollment, one module per `code`, and the [`ErrorBody`] \
         dispatch.\n\nuse crate::runtime as rt;\n\n",
    );
    modules(&mut out, errors);
    out.push_str(
        "\n/// An error body, by its `code`.\n#[derive(Debug, Clone, \
         PartialEq)]\n#[non_exhaustive]\npub enum ErrorBody {\n",
    );
    for m in errors {
        let _ = writeln!(
            out,
            "    /// `{}`.\n    {}(Box<{}::{}>),",
            m.name, m.rust, m.module, m.rust
        );
    }
    out.push_str(
        "}\n\nimpl ErrorBody {\n    /// Every `code` of the schema.\n    pub const CODES: [&str; ",
    );
    let _ = writeln!(
        out,
        "{}] = [{}];\n",
        errors.len(),
        errors
            .iter()
            .map(|m| format!("{}::CODE", m.module))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(
        "    /// Parses an error body (XML or binary) under `limits`, by its `code`.\n    ///\n    \
         /// # Errors\n    /// [`rt::ParseError`] naming the key path; an unknown `code` is an \
         invalid value.\n    pub fn parse(bytes: &[u8], limits: &rt::Limits) -> Result<Self, \
         rt::ParseError> {\n        let mut f = rt::read_fields(bytes, limits)?;\n        let \
         code: String = f.req(\"code\")?;\n        Ok(match code.as_str() {\n",
    );
    for m in errors {
        let _ = writeln!(
            out,
            "            {}::CODE => Self::{}(Box::new({}::{}::read(f)?)),",
            m.module, m.rust, m.module, m.rust
        );
    }
    out.push_str(
        "            _ => {\n                return Err(rt::ParseError::InvalidValue {\n                    \
         path: \"code\".to_owned(),\n                    expected: \"an error code of Apple's \
         schema\",\n                    reason: format!(\"found {code:?}\"),\n                \
         });\n            }\n        })\n    }\n\n    /// The `code`.\n    #[must_use]\n    \
         pub const fn code(&self) -> &'static str {\n        match self {\n",
    );
    for m in errors {
        let _ = writeln!(
            out,
            "            Self::{}(_) => {}::CODE,",
            m.rust, m.module
        );
    }
    out.push_str(
        "        }\n    }\n\n    fn write(&self, redact: bool) -> rt::Dictionary {\n        let \
         mut body = match self {\n",
    );
    for m in errors {
        let _ = writeln!(out, "            Self::{}(e) => e.write(redact),", m.rust);
    }
    out.push_str(
        "        };\n        body.insert(\"code\".to_owned(), \
         rt::Value::String(self.code().to_owned()));\n        body\n    \
         }\n}\n\nrt::plist_output!(ErrorBody);\n",
    );
    out
}
