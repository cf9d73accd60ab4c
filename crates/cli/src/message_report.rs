//! `alb parse` and `alb command`: reading MDM property lists into reports, and building commands.

use std::io::{self, Read, Write};

use mdm_protocol::{
    CheckinMessage, Command, CommandResponse, Limits, MdmMessage, ParseError, PlistFormat,
    ResponsePayload, plist::Value,
};
use serde_json::{Map, Value as Json, json};

use crate::write_json_line;

/// Why an MDM input could not be reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The input could not be read.
    #[error("{source_name}: cannot read: {error}")]
    Read {
        /// File name, or `-` for standard input.
        source_name: String,
        /// The I/O error.
        error: io::Error,
    },
    /// The input is not a valid MDM message; the error names the key path and the reason.
    #[error("{source_name}: {error}")]
    Parse {
        /// File name, or `-` for standard input.
        source_name: String,
        /// What is wrong and where.
        error: ParseError,
    },
    /// A command cannot be built from the given options.
    #[error("{0}")]
    Command(String),
    /// The command could not be written as a property list.
    #[error(transparent)]
    Encode(#[from] mdm_protocol::EncodeError),
}

/// Reads at most `limits.max_bytes + 1` bytes (so an oversized input is refused without
/// reading it all) and parses them.
///
/// # Errors
/// [`ProtocolError::Read`] or [`ProtocolError::Parse`], naming `source_name`.
pub fn read_message(
    source_name: &str,
    mut reader: impl Read,
    limits: &Limits,
) -> Result<(MdmMessage, PlistFormat), ProtocolError> {
    // Straight into zeroizing memory, growth included: the input may hold secrets.
    let mut bytes = alb_workflow::SecretBuffer::default();
    bytes
        .read_from(&mut reader, limits.max_bytes)
        .map_err(|error| ProtocolError::Read {
            source_name: source_name.to_owned(),
            error,
        })?;
    let format = PlistFormat::detect(bytes.as_slice());
    MdmMessage::parse(bytes.as_slice(), limits)
        .map(|message| (message, format))
        .map_err(|error| ProtocolError::Parse {
            source_name: source_name.to_owned(),
            error,
        })
}

/// What `alb parse` prints about one message; secrets are `"<redacted>"` unless `reveal`.
#[derive(Debug)]
pub struct MessageReport<'a> {
    source_name: &'a str,
    format: PlistFormat,
    message: &'a MdmMessage,
    reveal: bool,
}

/// Top-level response keys that are envelope, not payload.
const RESPONSE_ENVELOPE: [&str; 10] = [
    "CommandUUID",
    "Status",
    "UDID",
    "EnrollmentID",
    "EnrollmentUserID",
    "UserID",
    "UserShortName",
    "UserLongName",
    "NotOnConsole",
    "ErrorChain",
];

impl<'a> MessageReport<'a> {
    /// A report of `message`, read from `source_name` in `format`.
    #[must_use]
    pub fn new(
        source_name: &'a str,
        format: PlistFormat,
        message: &'a MdmMessage,
        reveal: bool,
    ) -> Self {
        Self {
            source_name,
            format,
            message,
            reveal,
        }
    }

    fn tree(&self) -> Map<String, Json> {
        let value = if self.reveal {
            self.message.to_value()
        } else {
            self.message.to_redacted_value()
        };
        let json = plist_to_json(&value);
        mdm_protocol::scrub(value);
        match json {
            Json::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The JSON object: `file`, `format`, `kind`, `request_type` or `message_type`, `status`,
    /// `udid`, `command_uuid`, `error_chain`, `payload` and, for `DeviceInformation`, `unlock`
    /// (the serial, product type and IMEI/MEID an unlock request needs).
    #[must_use]
    pub fn to_json(&self) -> Json {
        let mut tree = self.tree();
        let mut out = Map::new();
        out.insert("file".into(), json!(self.source_name));
        out.insert(
            "format".into(),
            json!(match self.format {
                PlistFormat::Xml => "xml",
                PlistFormat::Binary => "binary",
            }),
        );
        out.insert("kind".into(), json!(self.message.kind()));
        match self.message {
            MdmMessage::Command(command) => {
                out.insert("request_type".into(), json!(command.request.request_type()));
                out.insert("command_uuid".into(), json!(command.uuid));
                let mut payload = match tree.remove("Command") {
                    Some(Json::Object(map)) => map,
                    _ => Map::new(),
                };
                payload.remove("RequestType");
                out.insert("payload".into(), Json::Object(payload));
            }
            MdmMessage::Response(response) => {
                out.insert(
                    "request_type".into(),
                    json!(response.payload.request_type().map(|t| t.as_str())),
                );
                out.insert("status".into(), json!(response.status.as_str()));
                out.insert("udid".into(), json!(response.identity.device_id()));
                out.insert("command_uuid".into(), json!(response.command_uuid));
                if let Some(chain) = tree.remove("ErrorChain") {
                    out.insert("error_chain".into(), chain);
                }
                for key in RESPONSE_ENVELOPE {
                    tree.remove(key);
                }
                out.insert("payload".into(), Json::Object(tree));
                if let ResponsePayload::DeviceInformation(info) = &response.payload {
                    let cellular = info.cellular_identity();
                    out.insert(
                        "unlock".into(),
                        json!({
                            "serial": info.serial_number,
                            "product_type": info.product_type(),
                            "imei": cellular.imei,
                            "imei2": cellular.imei2,
                            "meid": cellular.meid,
                        }),
                    );
                }
            }
            MdmMessage::Checkin(checkin) => {
                out.insert("message_type".into(), json!(checkin.message_type()));
                out.insert(
                    "udid".into(),
                    json!(checkin.identity().and_then(|i| i.device_id())),
                );
                tree.remove("MessageType");
                out.insert("payload".into(), Json::Object(tree));
            }
        }
        Json::Object(out)
    }

    /// One human-readable line.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: {} ({})",
            printable::Escaped(self.source_name),
            self.message.kind(),
            match self.format {
                PlistFormat::Xml => "XML",
                PlistFormat::Binary => "binary",
            }
        );
        // Every value may come from the device: escaped for the terminal.
        let mut field = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                line.push_str(&format!(" {name}={}", printable::Escaped(value)));
            }
        };
        match self.message {
            MdmMessage::Command(command) => {
                field("request_type", Some(command.request.request_type()));
                field("command_uuid", Some(&command.uuid));
            }
            MdmMessage::Response(response) => {
                describe_response(response, self.reveal, &mut field);
            }
            MdmMessage::Checkin(checkin) => {
                field("message_type", Some(checkin.message_type()));
                field("udid", checkin.identity().and_then(|i| i.device_id()));
                if let CheckinMessage::TokenUpdate(update) = checkin {
                    let token = update.unlock_token.as_ref().map(|t| {
                        if self.reveal {
                            hex::encode(t.as_bytes())
                        } else {
                            format!("{} ({} bytes)", mdm_protocol::REDACTED, t.len())
                        }
                    });
                    field("unlock_token", token.as_deref());
                }
            }
        }
        line
    }

    /// Writes the report: one JSON line with `json`; otherwise the summary line, then one
    /// indented line per typed field of the payload (`Key.Sub = value`, secrets redacted unless
    /// revealed, untrusted text escaped).
    ///
    /// # Errors
    /// Any error of `out`.
    pub fn write(&self, out: &mut impl Write, json: bool) -> io::Result<()> {
        if json {
            return write_json_line(out, &self.to_json());
        }
        writeln!(out, "{}", self.summary())?;
        if let Some(Json::Object(payload)) = self.to_json().get("payload") {
            for (key, value) in payload {
                write_field(out, key, value)?;
            }
        }
        Ok(())
    }
}

/// One field per line, nested keys joined by `.` and array items by their index.
fn write_field(out: &mut impl Write, path: &str, value: &Json) -> io::Result<()> {
    match value {
        Json::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                write_field(out, &format!("{path}.{key}"), item)?;
            }
            Ok(())
        }
        Json::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                write_field(out, &format!("{path}.{index}"), item)?;
            }
            Ok(())
        }
        Json::String(text) => writeln!(
            out,
            "  {} = {}",
            printable::Escaped(path),
            printable::Escaped(text)
        ),
        other => writeln!(out, "  {} = {other}", printable::Escaped(path)),
    }
}

fn describe_response(
    response: &CommandResponse,
    reveal: bool,
    field: &mut impl FnMut(&str, Option<&str>),
) {
    field(
        "request_type",
        response.payload.request_type().map(|t| t.as_str()),
    );
    field("status", Some(response.status.as_str()));
    field("udid", response.identity.device_id());
    field("command_uuid", response.command_uuid.as_deref());
    for error in &response.error_chain {
        let text = format!("{}/{}", error.error_domain, error.error_code);
        field("error", Some(&text));
    }
    match &response.payload {
        ResponsePayload::ActivationLockBypassCode { code } => {
            let shown = match code {
                Some(code) if reveal => code.to_string(),
                Some(_) => mdm_protocol::REDACTED.to_owned(),
                None => "(none)".to_owned(),
            };
            field("code", Some(&shown));
        }
        ResponsePayload::DeviceInformation(info) => {
            let cellular = info.cellular_identity();
            field("serial", info.serial_number.as_deref());
            field("product_type", info.product_type());
            field("imei", cellular.imei.as_deref());
            field("imei2", cellular.imei2.as_deref());
            field("meid", cellular.meid.as_deref());
        }
        _ => {}
    }
}

/// A property-list tree as JSON: data as lower-case hex strings, dates as RFC 3339 strings,
/// non-finite reals and dates XML cannot write as `null`.
///
/// It renders what it is given: pass a redacted tree (`to_redacted_value()`, which hides every
/// secret by type and by key name, see [`mdm_protocol::is_secret_key`]) unless the secrets are
/// to be shown.
#[must_use]
pub fn plist_to_json(value: &Value) -> Json {
    match value {
        Value::Array(items) => Json::Array(items.iter().map(plist_to_json).collect()),
        Value::Dictionary(dict) => Json::Object(
            dict.iter()
                .map(|(k, v)| (k.clone(), plist_to_json(v)))
                .collect(),
        ),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Data(d) => Json::String(hex::encode(d)),
        Value::Date(d) => mdm_protocol::xml_date(*d).map_or(Json::Null, Json::String),
        Value::Real(r) => serde_json::Number::from_f64(*r).map_or(Json::Null, Json::Number),
        Value::Integer(i) => i
            .as_signed()
            .map(Json::from)
            .or_else(|| i.as_unsigned().map(Json::from))
            .unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.clone()),
        Value::Uid(u) => Json::from(u.get()),
        _ => Json::Null,
    }
}

/// Writes `command` in the chosen encoding.
///
/// # Errors
/// [`ProtocolError::Encode`] if the writer fails.
pub fn encode_command(command: &Command, binary: bool) -> Result<Vec<u8>, ProtocolError> {
    Ok(if binary {
        command.to_binary()?
    } else {
        command.to_xml()?
    })
}
