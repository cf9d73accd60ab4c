//! The normalised model the emitters work from: every quirk of the YAML (maps, unions, value
//! lists, inherited availability, secrets, relaxed presence) is resolved here once.

/// The whole schema.
#[derive(Debug)]
pub struct Schema {
    /// Where it came from (the generated files' header names it).
    pub origin: String,
    /// Commands, sorted by request type.
    pub commands: Vec<Message>,
    /// Check-in messages, sorted by message type.
    pub checkins: Vec<Message>,
    /// Error bodies, sorted by code.
    pub errors: Vec<Message>,
}

/// Which family a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `mdm/commands`: server to device, answered by a command response.
    Command,
    /// `mdm/checkin`: device to server, answered by the server.
    Checkin,
    /// `mdm/errors`: a server's 403 body during enrollment.
    Error,
}

/// One command, check-in message or error body.
#[derive(Debug)]
pub struct Message {
    pub family: Family,
    /// `RequestType`, `MessageType` or the error `code`.
    pub name: String,
    /// The Rust name (`DeviceLock`).
    pub rust: String,
    /// The module name (`device_lock`).
    pub module: String,
    pub title: String,
    pub doc: String,
    /// The YAML file, relative to the schema directory.
    pub file: String,
    pub availability: Avail,
    /// Request keys (a command's `Command` dictionary, a check-in message, an error body),
    /// without the tag (`RequestType`, `MessageType`, `code`).
    pub request: Vec<Node>,
    /// Response keys (a command response's own keys, a check-in's answer).
    pub response: Vec<Node>,
    /// `Some(reason)` when the crate keeps a hand-written request type for this command.
    pub hand_written: Option<&'static str>,
}

/// Whether values are written by the server (required keys are enforced) or sent by a device
/// (every key is optional: devices leave "required" keys out on errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Device,
}

/// One normalised key.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The wire key (or the schema's placeholder for array items and map values).
    pub key: String,
    pub doc: String,
    /// Whether the schema says `required` (a missing presence is optional).
    pub required: bool,
    pub availability: Avail,
    pub secret: Option<Secret>,
    pub default: Option<DefaultValue>,
    /// Allowed values (`rangelist`, or the value list of a scalar with sub-keys).
    pub values: Vec<AllowedValue>,
    pub range: Option<(Option<f64>, Option<f64>)>,
    pub subkeytype: Option<String>,
    pub shape: Shape,
}

/// How a secret is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// A secret string: `Password`.
    Text,
    /// Secret bytes: `SecretData`.
    Bytes,
    /// The device's unlock token: `UnlockToken`.
    UnlockToken,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Boolean(bool),
    Integer(i64),
    String(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum AllowedValue {
    String {
        value: String,
        doc: String,
        /// Own availability (value lists with sub-keys have one).
        availability: Option<Avail>,
    },
    Integer(i64),
}

/// A key's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    String,
    Integer,
    Real,
    Boolean,
    Date,
    Data,
    Any,
    Array(Box<Node>),
    /// A dictionary with these keys (none: any keys).
    Dict(Vec<Node>),
    /// A dictionary with free keys; the node describes every value.
    Map(Box<Node>),
    /// Dictionaries told apart by the string at `tag`.
    Union {
        tag: String,
        variants: Vec<Node>,
    },
    /// The envelope's `ErrorChain` item (reviewed override of a schema mistake).
    ErrorChainItem,
}

/// Availability on the supporting platforms, in schema order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Avail(pub Vec<PlatAvail>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatAvail {
    /// `Ios`, `MacOs`, `TvOs`, `VisionOs`, `WatchOs`.
    pub platform: &'static str,
    /// The schema's name (`iOS`).
    pub display: &'static str,
    pub introduced: String,
    pub deprecated: Option<String>,
    pub removed: Option<String>,
    pub access_right: Option<String>,
    pub device_channel: bool,
    pub user_channel: bool,
    pub supervised: bool,
    pub requires_dep: bool,
    pub user_approved: bool,
    pub shared_ipad: Option<(String, Option<bool>, Option<bool>)>,
    pub user_enrollment: Option<(String, Option<String>)>,
}

impl Avail {
    /// `iOS 4.0+, macOS 10.7+ (device and user channel)`.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "no platform".to_owned();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| {
                let mut notes = Vec::new();
                if !p.device_channel {
                    notes.push("user channel only".to_owned());
                } else if p.user_channel {
                    notes.push("device and user channel".to_owned());
                }
                if p.supervised {
                    notes.push("supervised".to_owned());
                }
                if p.requires_dep {
                    notes.push("ADE".to_owned());
                }
                if let Some(d) = &p.deprecated {
                    notes.push(format!("deprecated {d}"));
                }
                if let Some(r) = &p.removed {
                    notes.push(format!("removed {r}"));
                }
                if notes.is_empty() {
                    format!("{} {}+", p.display, p.introduced)
                } else {
                    format!("{} {}+ ({})", p.display, p.introduced, notes.join(", "))
                }
            })
            .collect();
        parts.join(", ")
    }
}

impl Node {
    /// Whether the key is a dictionary with named keys (a struct).
    pub fn is_struct(&self) -> bool {
        matches!(&self.shape, Shape::Dict(keys) if !keys.is_empty())
    }

    /// Whether the key is a string with listed values (an open enumeration).
    pub fn is_enum(&self) -> bool {
        matches!(self.shape, Shape::String)
            && self.secret.is_none()
            && self
                .values
                .iter()
                .any(|v| matches!(v, AllowedValue::String { .. }))
    }
}
