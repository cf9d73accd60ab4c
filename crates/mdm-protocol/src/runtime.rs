//! What the generated code (`src/generated/`) is built on, under one name (`rt`): the bounded
//! reader, the typed conversions, the secret types, the schema and availability types.

pub(crate) use alloc::collections::BTreeMap;

pub(crate) use plist::{Data, Date, Dictionary, Value};

pub(crate) use crate::{
    availability::{AccessRight, Allowance, Availability, Platform, PlatformAvailability as P},
    command::CommandRequest,
    error::ParseError,
    fields::{DictWriter, Fields},
    identity::Identity,
    limits::Limits,
    output::plist_output,
    request_type::{RequestType, UnknownCommandType},
    response::ErrorChainItem,
    schema::{AllowedValue, DefaultValue, KeySpec, Kind, MessageSpec},
    secret::{Password, SecretData, UnlockToken},
    typed::{At, FromPlist, OpenEnum, ToPlist, dictionary_fields, open_enum_plist},
};

/// Reads `bytes` (XML or binary) under `limits` into the top-level dictionary's [`Fields`].
pub(crate) fn read_fields(bytes: &[u8], limits: &Limits) -> Result<Fields, ParseError> {
    let (dict, _) = crate::input::read_dictionary(bytes, limits)?;
    Ok(Fields::new(dict, ""))
}
