//! One generated module per command, check-in message or error body.

use core::fmt::Write as _;

use super::{
    emit,
    ir::{Family, Message, Side},
    spec::Spec,
    types::{StructDef, Types},
};

/// `//!` lines for `text`.
fn module_doc(out: &mut String, text: &str) {
    for line in super::docs::lines(text) {
        if line.is_empty() {
            out.push_str("//!\n");
        } else {
            let _ = writeln!(out, "//! {line}");
        }
    }
}

/// The text of `message`'s module (before rustfmt).
pub fn render(message: &Message) -> Result<String, String> {
    let mut out = String::new();
    let what = match message.family {
        Family::Command => "command",
        Family::Checkin => "check-in message",
        Family::Error => "error body",
    };
    let _ = writeln!(
        out,
        "//! `{}`: {} ({what}, `{}`).\n//!",
        message.name, message.title, message.file
    );
    module_doc(&mut out, &message.doc);
    let _ = writeln!(
        out,
        "//!\n//! Available: {}.",
        message.availability.describe()
    );
    if let Some(reason) = message.hand_written {
        let _ = writeln!(
            out,
            "//!\n//! The request is the hand-written [`crate::{}`] ({reason}); the keys below \
             describe it.",
            if message.request.is_empty() {
                format!("CommandRequest::{}", message.rust)
            } else {
                message.rust.clone()
            }
        );
    }
    out.push_str("\nuse crate::runtime as rt;\n");

    let (request_side, response_side) = match message.family {
        Family::Command => (Side::Server, Side::Device),
        Family::Checkin => (Side::Device, Side::Server),
        Family::Error => (Side::Server, Side::Server),
    };
    let request_struct = match message.family {
        Family::Command => message.hand_written.is_none() && !message.request.is_empty(),
        Family::Checkin | Family::Error => true,
    };
    let response_struct = !message.response.is_empty();
    let response_name = format!("{}Response", message.rust);
    let mut reserved: Vec<&str> = Vec::new();
    if request_struct {
        reserved.push(&message.rust);
    }
    if response_struct {
        reserved.push(&response_name);
    }
    let mut types = Types::new(&reserved);
    let standalone = message.family != Family::Command;
    if request_struct {
        let title = match message.family {
            Family::Command => format!(
                "The `{}` command's keys: its `Command` dictionary beside `RequestType` (unknown \
                 keys are kept in [`Command::extra`](crate::Command::extra)).",
                message.name
            ),
            Family::Checkin => format!(
                "The `{}` check-in message (beside `MessageType`).",
                message.name
            ),
            Family::Error => format!("The `{}` error body (beside `code`).", message.name),
        };
        types.top(StructDef {
            name: message.rust.clone(),
            title: Some(title),
            path: message.name.clone(),
            doc: "",
            fields: &message.request,
            skip: None,
            extra: standalone,
            identity: message.family == Family::Checkin,
            side: request_side,
            top: true,
        })?;
    }
    if response_struct {
        let title = match message.family {
            Family::Command => format!(
                "The `{}` response's own keys, beside the envelope of \
                 [`CommandResponse`](crate::CommandResponse) (unknown keys are kept in its \
                 `extra`).",
                message.name
            ),
            _ => format!(
                "The server's answer to the `{}` check-in message.",
                message.name
            ),
        };
        types.top(StructDef {
            name: response_name.clone(),
            title: Some(title),
            path: format!("{} response", message.name),
            doc: "",
            fields: &message.response,
            skip: None,
            extra: standalone,
            identity: false,
            side: response_side,
            top: true,
        })?;
    }
    emit::types(&mut out, &types)?;

    if message.family == Family::Error {
        let _ = writeln!(
            out,
            "\n/// The `code` of this error body.\npub const CODE: &str = {:?};\n\nimpl {} {{\n    \
             /// Parses the body (XML or binary) under `limits`; its `code` must be \
             [`CODE`].\n    ///\n    /// # Errors\n    /// [`rt::ParseError`] naming the key \
             path.\n    pub fn parse(bytes: &[u8], limits: &rt::Limits) -> Result<Self, \
             rt::ParseError> {{\n        let mut f = rt::read_fields(bytes, limits)?;\n        \
             f.expect_tag(\"code\", CODE)?;\n        Self::read(f)\n    }}\n\n    fn \
             write_body(&self, redact: bool) -> rt::Dictionary {{\n        let mut body = \
             self.write(redact);\n        body.insert(\"code\".to_owned(), \
             rt::Value::String(CODE.to_owned()));\n        body\n    }}\n}}\n\nrt::plist_output!({}, \
             write_body);",
            message.name, message.rust, message.rust
        );
    }
    if message.family == Family::Checkin && response_struct {
        let _ = writeln!(
            out,
            "\nimpl {response_name} {{\n    /// Parses the answer (XML or binary) under \
             `limits`.\n    ///\n    /// # Errors\n    /// [`rt::ParseError`] naming the key \
             path.\n    pub fn parse(bytes: &[u8], limits: &rt::Limits) -> Result<Self, \
             rt::ParseError> {{\n        Self::read(rt::read_fields(bytes, limits)?)\n    \
             }}\n}}\n\nrt::plist_output!({response_name});"
        );
    }

    let mut spec = Spec::default();
    let availability = spec.availability(&message.availability);
    let request = spec.keys(&message.request);
    let response = spec.keys(&message.response);
    let _ = writeln!(
        out,
        "\n/// Where this {what} is supported.\npub const AVAILABILITY: rt::Availability = \
         {availability};\n\n/// What the schema says about every key.\npub static SPEC: \
         rt::MessageSpec = rt::MessageSpec {{\n    name: {:?},\n    title: {:?},\n    \
         availability: {availability},\n    request: &{request},\n    response: \
         &{response},\n}};",
        message.name, message.title
    );
    spec.finish(&mut out);
    Ok(out)
}
