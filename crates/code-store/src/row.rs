//! The stored form of records and history events: [`decode_record`] / [`encode_record`] and
//! [`decode_event`] / [`encode_event`], sealing and opening every secret through [`Sealing`].

use bypass_code::{BypassCode, EscrowKey};
use zeroize::Zeroizing;

use crate::{
    AttemptOutcome, CodeKind, DeviceCode, DeviceIdentity, DeviceRecord, Event, ServerCode,
    ServerCodeState, StoreError, StoredUnlockToken, Timestamp, Udid, UnlockAttempt, UnlockToken,
    mode::Sealing,
    table::{SealedEvent, SealedRecord},
};

pub(crate) const DEVICE_CODE: &str = "device_code";
pub(crate) const SERVER_CODE: &str = "server_code";
pub(crate) const ACCEPTED_SERVER_CODE: &str = "accepted_server_code";
pub(crate) const UNLOCK_TOKEN: &str = "unlock_token";

/// An entry of a device's append-only history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Position in the store-wide history (increasing).
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub event: Event,
}

fn corrupt(udid: &str, field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        udid: udid.to_owned(),
        field,
        reason: reason.into(),
    }
}

fn code_from(udid: &Udid, field: &'static str, bytes: &[u8]) -> Result<BypassCode, StoreError> {
    let raw: [u8; 16] = bytes.try_into().map_err(|_| {
        corrupt(
            udid.as_str(),
            field,
            format!("expected 16 bytes, found {}", bytes.len()),
        )
    })?;
    Ok(BypassCode::from_bytes(raw))
}

fn server_code_from(
    udid: &Udid,
    field: &'static str,
    bytes: &[u8],
) -> Result<(BypassCode, EscrowKey), StoreError> {
    if bytes.len() != 48 {
        return Err(corrupt(
            udid.as_str(),
            field,
            format!("expected 48 bytes, found {}", bytes.len()),
        ));
    }
    let (code, key) = bytes.split_at(16);
    let code = code_from(udid, field, code)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    raw.copy_from_slice(key);
    Ok((code, EscrowKey::from_bytes(*raw)))
}

fn server_code_bytes(code: &BypassCode, key: &EscrowKey) -> Zeroizing<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(48));
    plain.extend_from_slice(code.as_bytes());
    plain.extend_from_slice(key.as_bytes());
    plain
}

fn time(udid: &str, field: &'static str, value: Option<i64>) -> Result<Timestamp, StoreError> {
    value
        .map(Timestamp::from_unix)
        .ok_or_else(|| corrupt(udid, field, "value without its time"))
}

/// Decodes and opens one row.
pub(crate) fn decode_record(
    sealing: &Sealing,
    row: &SealedRecord,
) -> Result<DeviceRecord, StoreError> {
    let udid = Udid::new(&row.udid)?;
    let u = row.udid.as_str();
    let device_code = match &row.device_code {
        Some(sealed) => {
            let plain = sealing.open(&udid, DEVICE_CODE, sealed)?;
            Some(DeviceCode {
                code: code_from(&udid, DEVICE_CODE, &plain)?,
                received_at: time(u, DEVICE_CODE, row.device_code_at)?,
            })
        }
        None => None,
    };
    let server_code = match &row.server_code {
        Some(sealed) => {
            let plain = sealing.open(&udid, SERVER_CODE, sealed)?;
            let (code, escrow_key) = server_code_from(&udid, SERVER_CODE, &plain)?;
            let at = row.server_code_state_at.map(Timestamp::from_unix);
            let state = match row.server_code_state.as_deref() {
                // Stores from before states were recorded: created.
                None => ServerCodeState::Created,
                Some(name) => {
                    ServerCodeState::from_parts(name, at, row.server_code_status.as_deref())
                        .filter(|s| !matches!(s, ServerCodeState::Accepted { .. }))
                        .ok_or_else(|| corrupt(u, "server_code_state", "not a pending state"))?
                }
            };
            Some(ServerCode {
                code,
                escrow_key,
                created_at: time(u, SERVER_CODE, row.server_code_at)?,
                state,
            })
        }
        None => None,
    };
    let accepted_server_code = match &row.accepted_server_code {
        Some(sealed) => {
            let plain = sealing.open(&udid, ACCEPTED_SERVER_CODE, sealed)?;
            let (code, escrow_key) = server_code_from(&udid, ACCEPTED_SERVER_CODE, &plain)?;
            Some(ServerCode {
                code,
                escrow_key,
                created_at: time(u, ACCEPTED_SERVER_CODE, row.accepted_server_code_at)?,
                state: ServerCodeState::Accepted {
                    at: time(u, ACCEPTED_SERVER_CODE, row.accepted_at)?,
                },
            })
        }
        None => None,
    };
    let unlock_token = match &row.unlock_token {
        Some(sealed) => {
            let plain = sealing.open(&udid, UNLOCK_TOKEN, sealed)?;
            Some(StoredUnlockToken {
                token: UnlockToken::new(plain.to_vec())
                    .map_err(|e| corrupt(u, UNLOCK_TOKEN, e.to_string()))?,
                received_at: time(u, UNLOCK_TOKEN, row.unlock_token_at)?,
            })
        }
        None => None,
    };
    let last_unlock = match (
        &row.last_unlock_code,
        &row.last_unlock_outcome,
        row.last_unlock_at,
    ) {
        (Some(code), Some(outcome), Some(at)) => Some(UnlockAttempt {
            code: CodeKind::from_name(code)
                .ok_or_else(|| corrupt(u, "last_unlock_code", "unknown code kind"))?,
            outcome: AttemptOutcome::from_name(outcome)
                .ok_or_else(|| corrupt(u, "last_unlock_outcome", "unknown outcome"))?,
            at: Timestamp::from_unix(at),
        }),
        (None, None, None) => None,
        _ => return Err(corrupt(u, "last_unlock", "incomplete")),
    };
    Ok(DeviceRecord {
        udid,
        identity: DeviceIdentity {
            serial_number: row.serial_number.clone(),
            product_type: row.product_type.clone(),
            imei: row.imei.clone(),
            imei2: row.imei2.clone(),
            meid: row.meid.clone(),
        },
        enrolled_at: row.enrolled_at.map(Timestamp::from_unix),
        device_code,
        server_code,
        accepted_server_code,
        unlock_token,
        last_unlock,
        commands: match &row.commands {
            Some(json) => serde_json::from_str(json)
                .map_err(|e| corrupt(u, "commands", format!("not the commands' JSON: {e}")))?,
            None => crate::Commands::default(),
        },
        created_at: Timestamp::from_unix(row.created_at),
        updated_at: Timestamp::from_unix(row.updated_at),
    })
}

/// Encodes and seals one record. Every secret is sealed afresh under a new nonce, so writing a
/// record also moves it to the current key.
pub(crate) fn encode_record(
    sealing: &Sealing,
    record: &DeviceRecord,
) -> Result<SealedRecord, StoreError> {
    let udid = &record.udid;
    let device_code = record
        .device_code
        .as_ref()
        .map(|c| sealing.seal(udid, DEVICE_CODE, c.code.as_bytes()))
        .transpose()?;
    let server_code = record
        .server_code
        .as_ref()
        .map(|c| {
            sealing.seal(
                udid,
                SERVER_CODE,
                &server_code_bytes(&c.code, &c.escrow_key),
            )
        })
        .transpose()?;
    let accepted_server_code = record
        .accepted_server_code
        .as_ref()
        .map(|c| {
            sealing.seal(
                udid,
                ACCEPTED_SERVER_CODE,
                &server_code_bytes(&c.code, &c.escrow_key),
            )
        })
        .transpose()?;
    let unlock_token = record
        .unlock_token
        .as_ref()
        .map(|t| sealing.seal(udid, UNLOCK_TOKEN, t.token.as_bytes()))
        .transpose()?;
    Ok(SealedRecord {
        udid: udid.to_string(),
        serial_number: record.identity.serial_number.clone(),
        product_type: record.identity.product_type.clone(),
        imei: record.identity.imei.clone(),
        imei2: record.identity.imei2.clone(),
        meid: record.identity.meid.clone(),
        enrolled_at: record.enrolled_at.map(Timestamp::unix),
        device_code,
        device_code_at: record.device_code.as_ref().map(|c| c.received_at.unix()),
        server_code,
        server_code_at: record.server_code.as_ref().map(|c| c.created_at.unix()),
        server_code_state: record
            .server_code
            .as_ref()
            .map(|c| c.state.name().to_owned()),
        server_code_state_at: record
            .server_code
            .as_ref()
            .and_then(|c| c.state.at())
            .map(Timestamp::unix),
        server_code_status: record
            .server_code
            .as_ref()
            .and_then(|c| c.state.status())
            .map(str::to_owned),
        accepted_server_code,
        accepted_server_code_at: record
            .accepted_server_code
            .as_ref()
            .map(|c| c.created_at.unix()),
        accepted_at: record
            .accepted_server_code
            .as_ref()
            .and_then(|c| c.state.at())
            .map(Timestamp::unix),
        unlock_token,
        unlock_token_at: record.unlock_token.as_ref().map(|t| t.received_at.unix()),
        last_unlock_code: record.last_unlock.map(|a| a.code.as_str().to_owned()),
        last_unlock_outcome: record.last_unlock.map(|a| a.outcome.as_str().to_owned()),
        last_unlock_at: record.last_unlock.map(|a| a.at.unix()),
        commands: if record.commands.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&record.commands).map_err(|e| {
                corrupt(udid.as_str(), "commands", format!("cannot be written: {e}"))
            })?)
        },
        ask_due_at: record
            .commands
            .ask
            .as_ref()
            .and_then(|a| a.due_at)
            .map(Timestamp::unix),
        created_at: record.created_at.unix(),
        updated_at: record.updated_at.unix(),
    })
}

/// Encodes and seals one history event of `udid`.
pub(crate) fn encode_event(
    sealing: &Sealing,
    udid: &Udid,
    at: Timestamp,
    event: &Event,
) -> Result<SealedEvent, StoreError> {
    let (detail, secret) = match event {
        Event::Created => (None, None),
        Event::IdentityChanged { fields } => (Some(fields.join(",")), None),
        Event::Enrolled { at } => (Some(at.unix().to_string()), None),
        Event::DeviceCodeStored { code, replaced } => (
            Some(replaced_text(*replaced)),
            Some(sealing.seal(udid, DEVICE_CODE, code.as_bytes())?),
        ),
        Event::ServerCodeStored {
            code,
            escrow_key,
            replaced,
        } => (
            Some(replaced_text(*replaced)),
            Some(sealing.seal(udid, SERVER_CODE, &server_code_bytes(code, escrow_key))?),
        ),
        Event::UnlockTokenStored { token, replaced } => (
            Some(replaced_text(*replaced)),
            Some(sealing.seal(udid, UNLOCK_TOKEN, token.as_bytes())?),
        ),
        Event::UnlockAttempted { code, outcome } => (
            Some(format!("{}:{}", code.as_str(), outcome.as_str())),
            None,
        ),
        Event::SerialRefused { serial, holder } => (Some(format!("{serial}:{holder}")), None),
        Event::ServerCodeSent => (None, None),
        Event::ServerCodeAnswered { status, .. } => (Some(status.clone()), None),
        Event::PlaceholderMerged { placeholder } => (Some(placeholder.to_string()), None),
        Event::MergedInto { udid } => (Some(udid.to_string()), None),
        Event::Command(command) => (
            Some(serde_json::to_string(command).map_err(|e| {
                corrupt(udid.as_str(), "history", format!("cannot be written: {e}"))
            })?),
            None,
        ),
    };
    Ok(SealedEvent {
        seq: 0,
        udid: udid.to_string(),
        at: at.unix(),
        event: event.name().to_owned(),
        detail,
        secret,
    })
}

fn replaced_text(replaced: bool) -> String {
    if replaced { "replaced" } else { "first" }.to_owned()
}

/// Decodes and opens one history row.
pub(crate) fn decode_event(
    sealing: &Sealing,
    row: &SealedEvent,
) -> Result<HistoryEntry, StoreError> {
    let udid = Udid::new(&row.udid)?;
    let u = row.udid.as_str();
    let detail = row.detail.as_deref().unwrap_or("");
    let replaced = detail == "replaced";
    let udid_in_detail =
        || Udid::new(detail).map_err(|_| corrupt(u, "history", "bad device in the detail"));
    let secret = |field: &'static str| {
        row.secret
            .as_deref()
            .ok_or_else(|| corrupt(u, "history", "missing value"))
            .and_then(|s| sealing.open(&udid, field, s))
    };
    let event = match row.event.as_str() {
        "created" => Event::Created,
        "identity" => Event::IdentityChanged {
            fields: detail
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        "enrolled" => Event::Enrolled {
            at: Timestamp::from_unix(
                detail
                    .parse()
                    .map_err(|_| corrupt(u, "history", "bad enrolment time"))?,
            ),
        },
        "device_code" => Event::DeviceCodeStored {
            code: code_from(&udid, DEVICE_CODE, &secret(DEVICE_CODE)?)?,
            replaced,
        },
        "server_code" => {
            let (code, escrow_key) = server_code_from(&udid, SERVER_CODE, &secret(SERVER_CODE)?)?;
            Event::ServerCodeStored {
                code,
                escrow_key,
                replaced,
            }
        }
        "unlock_token" => Event::UnlockTokenStored {
            token: UnlockToken::new(secret(UNLOCK_TOKEN)?.to_vec())?,
            replaced,
        },
        "unlock_attempt" => {
            let (code, outcome) = detail
                .split_once(':')
                .and_then(|(c, o)| Some((CodeKind::from_name(c)?, AttemptOutcome::from_name(o)?)))
                .ok_or_else(|| corrupt(u, "history", "bad unlock attempt"))?;
            Event::UnlockAttempted { code, outcome }
        }
        "serial_refused" => {
            let (serial, holder) = detail
                .split_once(':')
                .ok_or_else(|| corrupt(u, "history", "bad serial refusal"))?;
            Event::SerialRefused {
                serial: serial.to_owned(),
                holder: Udid::new(holder)
                    .map_err(|_| corrupt(u, "history", "bad serial refusal"))?,
            }
        }
        "server_code_sent" => Event::ServerCodeSent,
        "server_code_answered" => Event::ServerCodeAnswered {
            status: detail.to_owned(),
            accepted: detail == crate::server_code::ACCEPTED_STATUS,
        },
        "placeholder_merged" => Event::PlaceholderMerged {
            placeholder: udid_in_detail()?,
        },
        "merged_into" => Event::MergedInto {
            udid: udid_in_detail()?,
        },
        "command" => Event::Command(
            serde_json::from_str(detail)
                .map_err(|e| corrupt(u, "history", format!("bad command event: {e}")))?,
        ),
        other => return Err(corrupt(u, "history", format!("unknown event {other:?}"))),
    };
    Ok(HistoryEntry {
        seq: row.seq,
        at: Timestamp::from_unix(row.at),
        event,
    })
}
