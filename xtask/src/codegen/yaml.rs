//! Apple's YAML schema as serde types (`docs/schema.md` of the schema repository). Unknown
//! fields are refused, so a new schema field fails the generator instead of being ignored.

use alloc::collections::BTreeMap;

use serde::Deserialize;

/// One YAML file: a command, a check-in message or an error body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub title: String,
    pub description: String,
    pub payload: Payload,
    pub payloadkeys: Option<Vec<Key>>,
    pub responsekeys: Option<Vec<Key>>,
    /// Extra notes (one file has them); prose about hardware, not emitted.
    #[allow(dead_code)]
    pub notes: Option<Vec<Note>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Note {
    pub title: String,
    pub content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub requesttype: Option<String>,
    #[serde(rename = "supportedOS")]
    pub supported_os: Option<SupportedOs>,
    pub content: Option<String>,
}

/// `supportedOS`: per platform, what is supported there.
pub type SupportedOs = BTreeMap<String, Option<Os>>;

/// One platform's entry of `supportedOS`. Every field is optional: a key's entry updates the
/// inherited one field by field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Os {
    pub introduced: Option<String>,
    pub deprecated: Option<String>,
    pub removed: Option<String>,
    pub accessrights: Option<String>,
    pub devicechannel: Option<bool>,
    pub userchannel: Option<bool>,
    pub supervised: Option<bool>,
    pub requiresdep: Option<bool>,
    pub userapprovedmdm: Option<bool>,
    pub sharedipad: Option<SharedIpad>,
    pub userenrollment: Option<UserEnrollment>,
    /// Profiles only; refused for MDM messages by the normaliser.
    pub multiple: Option<bool>,
    /// Profiles only; refused for MDM messages by the normaliser.
    pub allowmanualinstall: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedIpad {
    pub mode: Option<String>,
    pub devicechannel: Option<bool>,
    pub userchannel: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEnrollment {
    pub mode: Option<String>,
    pub behavior: Option<String>,
}

/// One key of `payloadkeys` / `responsekeys` / `subkeys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub key: String,
    pub title: Option<String>,
    #[serde(rename = "supportedOS")]
    pub supported_os: Option<SupportedOs>,
    #[serde(rename = "type")]
    pub ty: String,
    pub presence: Option<String>,
    pub rangelist: Option<Vec<Scalar>>,
    pub range: Option<Range>,
    pub default: Option<Scalar>,
    pub content: Option<String>,
    pub subkeytype: Option<String>,
    pub subkeys: Option<Vec<Key>>,
}

/// A scalar in `rangelist` or `default`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Boolean(bool),
    Integer(i64),
    Real(f64),
    String(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}
