//! Export and import: one JSON object per line per record, for backups and for moving between
//! backends. Secrets print as `"<redacted>"` unless revealed; import refuses redacted values.

use bypass_code::{BypassCode, EscrowKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{
    AttemptOutcome, CodeKind, DeviceCode, DeviceIdentity, DeviceRecord, ServerCode,
    ServerCodeState, StoredUnlockToken, Timestamp, Udid, UnlockAttempt, UnlockToken,
};

/// What a secret prints as when not revealed.
pub const REDACTED: &str = "<redacted>";

/// The JSON shape of one record (`alb show --json`, `alb export`, `alb import`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    /// The UDID (or `serial:` placeholder).
    pub udid: String,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Product type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// IMEI (first SIM slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    /// IMEI (second SIM slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei2: Option<String>,
    /// MEID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meid: Option<String>,
    /// Enrolment time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_at: Option<String>,
    /// The end of the 15-day window for the device code (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code_deadline: Option<String>,
    /// The device code, canonical, or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code: Option<Zeroizing<String>>,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code_received_at: Option<String>,
    /// The server code, canonical, or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_code: Option<Zeroizing<String>>,
    /// Its escrow key (upper-case hex), or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_key: Option<Zeroizing<String>>,
    /// When the server code was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_code_created_at: Option<String>,
    /// Where it stands with Apple: `created`, `sent` or `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_code_state: Option<String>,
    /// When it reached that state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_code_state_at: Option<String>,
    /// Apple's status, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_code_status: Option<String>,
    /// The server code Apple accepted (the device is locked with it), or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_server_code: Option<Zeroizing<String>>,
    /// Its escrow key, or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_escrow_key: Option<Zeroizing<String>>,
    /// When it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_server_code_created_at: Option<String>,
    /// When Apple accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// The unlock token (lower-case hex), or `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_token: Option<Zeroizing<String>>,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_token_received_at: Option<String>,
    /// The latest unlock attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_unlock: Option<AttemptJson>,
    /// When the record was created.
    pub created_at: String,
    /// When the record last changed.
    pub updated_at: String,
}

/// The JSON shape of an unlock attempt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptJson {
    /// `device` or `server`.
    pub code: String,
    /// `unlocked`, `rejected` or `failed`.
    pub outcome: String,
    /// When (RFC 3339).
    pub at: String,
}

/// Why an import line was refused. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Not a JSON object of the expected shape.
    #[error("not a record: {0}")]
    Json(String),
    /// A secret is `<redacted>`: the export was made without `--reveal`.
    #[error("the {0} is redacted; export with --reveal to import")]
    Redacted(&'static str),
    /// A field is not valid.
    #[error("{0}")]
    Field(#[from] crate::StoreError),
    /// A code is not canonical.
    #[error("invalid {field}: {source}")]
    Code {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        source: bypass_code::CodeError,
    },
    /// The escrow key is not valid or does not belong to the server code.
    #[error("invalid escrow key: {0}")]
    EscrowKey(String),
    /// A time is given without its value, or a value without its time.
    #[error("{0} without its time")]
    MissingTime(&'static str),
}

fn secret(value: impl FnOnce() -> String, reveal: bool) -> Zeroizing<String> {
    Zeroizing::new(if reveal { value() } else { REDACTED.to_owned() })
}

impl RecordJson {
    /// The JSON shape of `record`; secrets are `<redacted>` unless `reveal`.
    #[must_use]
    pub fn from_record(record: &DeviceRecord, reveal: bool) -> Self {
        let id = &record.identity;
        Self {
            udid: record.udid.to_string(),
            serial_number: id.serial_number.clone(),
            product_type: id.product_type.clone(),
            imei: id.imei.clone(),
            imei2: id.imei2.clone(),
            meid: id.meid.clone(),
            enrolled_at: record.enrolled_at.map(|t| t.to_string()),
            device_code_deadline: record
                .device_code
                .is_none()
                .then(|| record.device_code_deadline().map(|t| t.to_string()))
                .flatten(),
            device_code: record
                .device_code
                .as_ref()
                .map(|c| secret(|| c.code.to_string(), reveal)),
            device_code_received_at: record
                .device_code
                .as_ref()
                .map(|c| c.received_at.to_string()),
            server_code: record
                .server_code
                .as_ref()
                .map(|c| secret(|| c.code.to_string(), reveal)),
            escrow_key: record
                .server_code
                .as_ref()
                .map(|c| secret(|| c.escrow_key.to_string(), reveal)),
            server_code_created_at: record
                .server_code
                .as_ref()
                .map(|c| c.created_at.to_string()),
            server_code_state: record
                .server_code
                .as_ref()
                .map(|c| c.state.name().to_owned()),
            server_code_state_at: record
                .server_code
                .as_ref()
                .and_then(|c| c.state.at())
                .map(|t| t.to_string()),
            server_code_status: record
                .server_code
                .as_ref()
                .and_then(|c| c.state.status())
                .map(str::to_owned),
            accepted_server_code: record
                .accepted_server_code
                .as_ref()
                .map(|c| secret(|| c.code.to_string(), reveal)),
            accepted_escrow_key: record
                .accepted_server_code
                .as_ref()
                .map(|c| secret(|| c.escrow_key.to_string(), reveal)),
            accepted_server_code_created_at: record
                .accepted_server_code
                .as_ref()
                .map(|c| c.created_at.to_string()),
            accepted_at: record
                .accepted_server_code
                .as_ref()
                .and_then(|c| c.state.at())
                .map(|t| t.to_string()),
            unlock_token: record
                .unlock_token
                .as_ref()
                .map(|t| secret(|| hex::encode(t.token.as_bytes()), reveal)),
            unlock_token_received_at: record
                .unlock_token
                .as_ref()
                .map(|t| t.received_at.to_string()),
            last_unlock: record.last_unlock.map(|a| AttemptJson {
                code: a.code.as_str().to_owned(),
                outcome: a.outcome.as_str().to_owned(),
                at: a.at.to_string(),
            }),
            created_at: record.created_at.to_string(),
            updated_at: record.updated_at.to_string(),
        }
    }

    /// One line of JSON (a secret when revealed: zeroized on drop).
    #[must_use]
    pub fn to_line(&self) -> Zeroizing<String> {
        // Serializing plain strings and options cannot fail.
        Zeroizing::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// Parses one line.
    ///
    /// # Errors
    /// [`ImportError::Json`] with the column and the kind of problem (never the value).
    pub fn from_line(line: &str) -> Result<Self, ImportError> {
        serde_json::from_str(line).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Io => "I/O error",
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Data => "unexpected field or value type",
                serde_json::error::Category::Eof => "unexpected end",
            };
            ImportError::Json(format!("{what} at column {}", e.column()))
        })
    }

    /// The record this JSON describes, checking every field (and that the escrow key is the
    /// server code's hash).
    ///
    /// # Errors
    /// [`ImportError`] for the first problem found.
    pub fn into_record(self) -> Result<DeviceRecord, ImportError> {
        let time = |field, text: &Option<String>| {
            text.as_deref()
                .map(|t| Timestamp::parse(field, t))
                .transpose()
        };
        let identity = DeviceIdentity {
            serial_number: self.serial_number,
            product_type: self.product_type,
            imei: self.imei,
            imei2: self.imei2,
            meid: self.meid,
        };
        identity.validate()?;
        let revealed = |field: &'static str, value: &Zeroizing<String>| {
            if value.as_str() == REDACTED {
                Err(ImportError::Redacted(field))
            } else {
                Ok(())
            }
        };
        let code = |field: &'static str, value: &Zeroizing<String>| {
            revealed(field, value)?;
            value
                .parse::<BypassCode>()
                .map_err(|source| ImportError::Code { field, source })
        };
        let device_code = match (
            &self.device_code,
            time("device_code_received_at", &self.device_code_received_at)?,
        ) {
            (Some(value), Some(received_at)) => Some(DeviceCode {
                code: code("device code", value)?,
                received_at,
            }),
            (None, None) => None,
            _ => return Err(ImportError::MissingTime("device code")),
        };
        let server_code_with =
            |field: &'static str,
             value: &Option<Zeroizing<String>>,
             key: &Option<Zeroizing<String>>,
             created: Option<Timestamp>|
             -> Result<Option<(BypassCode, EscrowKey, Timestamp)>, ImportError> {
                match (value, key, created) {
                    (Some(value), Some(key), Some(created_at)) => {
                        let code = code(field, value)?;
                        revealed("escrow key", key)?;
                        let escrow_key: EscrowKey =
                            key.parse().map_err(|e: bypass_code::EscrowKeyError| {
                                ImportError::EscrowKey(e.to_string())
                            })?;
                        if !escrow_key.verify(&code) {
                            return Err(ImportError::EscrowKey(format!(
                                "it is not the {field}'s hash"
                            )));
                        }
                        Ok(Some((code, escrow_key, created_at)))
                    }
                    (None, None, None) => Ok(None),
                    _ => Err(ImportError::MissingTime(field)),
                }
            };
        let server_code = match server_code_with(
            "server code",
            &self.server_code,
            &self.escrow_key,
            time("server_code_created_at", &self.server_code_created_at)?,
        )? {
            Some((code, escrow_key, created_at)) => {
                let state = match &self.server_code_state {
                    None => ServerCodeState::Created,
                    Some(name) => ServerCodeState::from_parts(
                        name,
                        time("server_code_state_at", &self.server_code_state_at)?,
                        self.server_code_status.as_deref(),
                    )
                    .filter(|s| !matches!(s, ServerCodeState::Accepted { .. }))
                    .ok_or_else(|| crate::StoreError::InvalidField {
                        field: "server_code_state",
                        reason: "expected created, sent (with its time) or refused (with its \
                                     time and status)"
                            .into(),
                    })?,
                };
                Some(ServerCode {
                    code,
                    escrow_key,
                    created_at,
                    state,
                })
            }
            None => None,
        };
        let accepted_server_code = match server_code_with(
            "accepted server code",
            &self.accepted_server_code,
            &self.accepted_escrow_key,
            time(
                "accepted_server_code_created_at",
                &self.accepted_server_code_created_at,
            )?,
        )? {
            Some((code, escrow_key, created_at)) => Some(ServerCode {
                code,
                escrow_key,
                created_at,
                state: ServerCodeState::Accepted {
                    at: time("accepted_at", &self.accepted_at)?
                        .ok_or(ImportError::MissingTime("accepted server code"))?,
                },
            }),
            None => None,
        };
        let unlock_token = match (
            &self.unlock_token,
            time("unlock_token_received_at", &self.unlock_token_received_at)?,
        ) {
            (Some(value), Some(received_at)) => {
                revealed("unlock token", value)?;
                let bytes =
                    hex::decode(value.as_str()).map_err(|_| crate::StoreError::InvalidField {
                        field: "unlock token",
                        reason: "not hexadecimal".into(),
                    })?;
                Some(StoredUnlockToken {
                    token: UnlockToken::new(bytes)?,
                    received_at,
                })
            }
            (None, None) => None,
            _ => return Err(ImportError::MissingTime("unlock token")),
        };
        let last_unlock = match &self.last_unlock {
            Some(a) => Some(UnlockAttempt {
                code: CodeKind::from_name(&a.code).ok_or_else(|| {
                    crate::StoreError::InvalidField {
                        field: "last_unlock.code",
                        reason: "expected device or server".into(),
                    }
                })?,
                outcome: AttemptOutcome::from_name(&a.outcome).ok_or_else(|| {
                    crate::StoreError::InvalidField {
                        field: "last_unlock.outcome",
                        reason: "expected unlocked, rejected or failed".into(),
                    }
                })?,
                at: Timestamp::parse("last_unlock.at", &a.at)?,
            }),
            None => None,
        };
        Ok(DeviceRecord {
            udid: Udid::new(&self.udid)?,
            identity,
            enrolled_at: time("enrolled_at", &self.enrolled_at)?,
            device_code,
            server_code,
            accepted_server_code,
            unlock_token,
            last_unlock,
            // What was asked of the device is the service's working state, not exported.
            commands: crate::Commands::default(),
            created_at: Timestamp::parse("created_at", &self.created_at)?,
            updated_at: Timestamp::parse("updated_at", &self.updated_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeviceRecord {
        let code = BypassCode::from_bytes([3; 16]);
        let t = Timestamp::from_unix(1_795_000_000);
        DeviceRecord {
            udid: Udid::new("UDID-9").unwrap(),
            identity: DeviceIdentity {
                serial_number: Some("SN1".into()),
                ..Default::default()
            },
            enrolled_at: Some(t),
            device_code: Some(DeviceCode {
                code: BypassCode::from_bytes([4; 16]),
                received_at: t,
            }),
            accepted_server_code: None,
            server_code: Some(ServerCode {
                escrow_key: code.escrow_key(),
                code,
                created_at: t,
                state: ServerCodeState::Created,
            }),
            unlock_token: Some(StoredUnlockToken {
                token: UnlockToken::new(vec![1, 2, 3]).unwrap(),
                received_at: t,
            }),
            last_unlock: Some(UnlockAttempt {
                code: CodeKind::Server,
                outcome: AttemptOutcome::Rejected,
                at: t,
            }),
            commands: crate::Commands::default(),
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn revealed_round_trip() {
        let record = sample();
        let line = RecordJson::from_record(&record, true).to_line();
        let back = RecordJson::from_line(&line).unwrap().into_record().unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn redacted_lines_hide_secrets_and_are_refused() {
        let record = sample();
        let line = RecordJson::from_record(&record, false).to_line();
        assert!(!line.contains(&record.device_code.as_ref().unwrap().code.to_string()));
        assert!(!line.contains("010203"));
        let err = RecordJson::from_line(&line)
            .unwrap()
            .into_record()
            .unwrap_err();
        assert!(matches!(err, ImportError::Redacted(_)), "{err}");
    }

    #[test]
    fn wrong_escrow_key_and_junk_are_refused() {
        let record = sample();
        let mut json = RecordJson::from_record(&record, true);
        json.escrow_key = Some(Zeroizing::new("00".repeat(32)));
        assert!(matches!(json.into_record(), Err(ImportError::EscrowKey(_))));
        assert!(RecordJson::from_line("{").is_err());
        assert!(RecordJson::from_line(r#"{"udid":"A","bogus":1}"#).is_err());
    }
}
