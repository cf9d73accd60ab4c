//! A device reports: its check-in messages and command responses (property lists, XML or
//! binary) parsed by `mdm-protocol`, and what they carry recorded in the store, which applies its
//! rules (the retention rule, the serial-number rule) atomically.

use code_store::{Change, CodeStore, DeviceIdentity, StoreError, Timestamp, Udid};

/// What one ingested message was and what the store did with it.
#[derive(Debug)]
pub struct Ingested {
    /// The message kind, e.g. `Authenticate`, `TokenUpdate`, `ActivationLockBypassCode`.
    pub message: String,
    /// The device, when the message names one.
    pub udid: Option<Udid>,
    /// What each change did (empty when the message carries nothing the store keeps).
    pub outcomes: Vec<code_store::Outcome>,
}

impl Ingested {
    /// Human-readable lines: what changed, what the rules kept, or that nothing applied.
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for outcome in &self.outcomes {
            for event in &outcome.events {
                lines.push(match event {
                    code_store::Event::Created => "new device".to_owned(),
                    code_store::Event::IdentityChanged { fields } => {
                        format!("identity updated: {}", fields.join(", "))
                    }
                    code_store::Event::Enrolled { at } => format!("enrolled at {at}"),
                    code_store::Event::DeviceCodeStored { replaced: true, .. } => {
                        "device code replaced by a different code".to_owned()
                    }
                    code_store::Event::DeviceCodeStored { .. } => "device code stored".to_owned(),
                    code_store::Event::UnlockTokenStored { replaced: true, .. } => {
                        "unlock token replaced".to_owned()
                    }
                    code_store::Event::UnlockTokenStored { .. } => "unlock token stored".to_owned(),
                    // A server code comes with a device's report only from its placeholder.
                    code_store::Event::ServerCodeStored { .. } => {
                        "server code made before enrolment attached".to_owned()
                    }
                    code_store::Event::PlaceholderMerged { .. } => continue,
                    other => other.to_string(),
                });
            }
            for ignored in &outcome.ignored {
                lines.push(
                    match ignored {
                        code_store::Ignored::EmptyDeviceCode => {
                            "no device code in the response: stored code kept"
                        }
                        code_store::Ignored::SameDeviceCode => "same device code: unchanged",
                        code_store::Ignored::EmptyUnlockToken => {
                            "no unlock token: stored token kept"
                        }
                        code_store::Ignored::SameUnlockToken => "same unlock token: unchanged",
                        code_store::Ignored::SerialTaken => {
                            "serial number refused: it belongs to another enrolled device"
                        }
                        _ => "nothing newer: unchanged",
                    }
                    .to_owned(),
                );
            }
        }
        if lines.is_empty() {
            lines.push("nothing to store".to_owned());
        }
        lines
    }
}

/// Why an ingested message was skipped. Never contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Not a valid MDM property list.
    #[error("{0}")]
    Parse(#[from] mdm_protocol::ParseError),
    /// A message about a device that names no device.
    #[error("{} names no device (no UDID or EnrollmentID)", printable::Escaped(.0))]
    NoDevice(String),
    /// An MDM command, not something a device sends.
    #[error("a command, not a device message: nothing to ingest")]
    Command,
    /// A value the store refuses (bad UDID, serial number, oversized token...).
    #[error("{0}")]
    Value(StoreError),
    /// The store failed (nothing was lost; the message can be ingested again).
    #[error("store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for IngestError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidField { .. } => Self::Value(error),
            other => Self::Store(other),
        }
    }
}

fn device(identity: &mdm_protocol::Identity, message: &str) -> Result<Udid, IngestError> {
    let id = identity
        .device_id()
        .ok_or_else(|| IngestError::NoDevice(message.to_owned()))?;
    checked_udid(id)
}

/// A UDID reported by a device; the `serial:` prefix is reserved for devices not enrolled yet.
fn checked_udid(id: &str) -> Result<Udid, IngestError> {
    let udid = Udid::new(id)?;
    if udid.is_placeholder() {
        return Err(IngestError::Value(StoreError::InvalidField {
            field: "UDID",
            reason: "the serial: prefix is reserved".to_owned(),
        }));
    }
    Ok(udid)
}

/// A device's message read into the changes it makes to its record, nothing applied yet: what
/// [`ingest`] applies one change at a time, and what a service commits for many messages in one
/// transaction ([`CodeStore::apply_all`]).
#[derive(Debug)]
pub struct Report {
    /// The message kind, e.g. `Authenticate`, `TokenUpdate`, `ActivationLockBypassCode`.
    pub message: String,
    /// The device, when the message names one.
    pub udid: Option<Udid>,
    /// The changes to its record, in order (their `Debug` form redacts codes and tokens).
    pub changes: Vec<Change>,
    /// A user-channel message (it names a user): never about the device's codes.
    pub user_channel: bool,
}

impl Report {
    /// Reads one device message (property list, XML or binary): `Authenticate` (identity, and
    /// the enrolment at `enrolled_at`), `TokenUpdate` (unlock token, device channel only),
    /// `DeviceInformation` responses (serial number, product type, IMEI/MEID per SIM slot) and
    /// `ActivationLockBypassCode` responses. Other messages make no change.
    ///
    /// # Errors
    /// [`IngestError`]: not an MDM message, a command, no device, a value the store refuses.
    pub fn read(bytes: &[u8], enrolled_at: Timestamp) -> Result<Self, IngestError> {
        use mdm_protocol::{CheckinMessage, MdmMessage, ResponsePayload};

        let message = MdmMessage::parse(bytes, &mdm_protocol::Limits::DEFAULT)?;
        let mut changes = Vec::new();
        let user_channel;
        let (kind, udid) = match &message {
            MdmMessage::Command(_) => return Err(IngestError::Command),
            MdmMessage::Checkin(checkin) => {
                let kind = checkin.message_type().to_owned();
                user_channel = checkin.identity().is_some_and(|i| i.user_id.is_some());
                match checkin {
                    CheckinMessage::Authenticate(a) => {
                        let udid = device(&a.identity, &kind)?;
                        changes.push(Change::Identity(DeviceIdentity {
                            serial_number: a.serial_number.clone(),
                            product_type: a.product_name.clone(),
                            imei: non_blank(a.imei.as_deref()),
                            imei2: None,
                            meid: non_blank(a.meid.as_deref()),
                        }));
                        changes.push(Change::Enrolled { at: enrolled_at });
                        (kind, Some(udid))
                    }
                    CheckinMessage::TokenUpdate(t) => {
                        let udid = device(&t.identity, &kind)?;
                        // The unlock token comes on the device channel only.
                        if t.identity.user_id.is_none() {
                            let token = match &t.unlock_token {
                                Some(token) if !token.is_empty() => {
                                    Some(code_store::UnlockToken::new(token.as_bytes().to_vec())?)
                                }
                                _ => None,
                            };
                            changes.push(Change::UnlockToken(token));
                        }
                        (kind, Some(udid))
                    }
                    _ => (
                        kind,
                        checkin
                            .identity()
                            .and_then(|i| i.device_id())
                            .and_then(|d| Udid::new(d).ok()),
                    ),
                }
            }
            MdmMessage::Response(response) => {
                user_channel = response.identity.user_id.is_some();
                match &response.payload {
                    ResponsePayload::ActivationLockBypassCode { code } => {
                        let kind = "ActivationLockBypassCode".to_owned();
                        let udid = device(&response.identity, &kind)?;
                        changes.push(Change::DeviceCode(code.clone()));
                        (kind, Some(udid))
                    }
                    ResponsePayload::DeviceInformation(info) => {
                        let kind = "DeviceInformation".to_owned();
                        let udid = match info.udid.as_deref() {
                            Some(id) if response.identity.device_id().is_none() => {
                                checked_udid(id)?
                            }
                            _ => device(&response.identity, &kind)?,
                        };
                        let cellular = info.cellular_identity();
                        changes.push(Change::Identity(DeviceIdentity {
                            serial_number: non_blank(info.serial_number.as_deref()),
                            product_type: non_blank(info.product_type()),
                            imei: cellular.imei,
                            imei2: cellular.imei2,
                            meid: cellular.meid,
                        }));
                        (kind, Some(udid))
                    }
                    _ => (
                        format!("{} response", response.status.as_str()),
                        response
                            .identity
                            .device_id()
                            .and_then(|d| Udid::new(d).ok()),
                    ),
                }
            }
        };
        Ok(Self {
            message: kind,
            udid,
            changes,
            user_channel,
        })
    }
}

/// Applies one device message (property list, XML or binary) to the store, as
/// [`Report::read`] reads it (an `Authenticate` enrols the device at `now`), one change at a
/// time. Other messages change nothing.
///
/// # Errors
/// [`IngestError`]: the message is skipped; nothing stored is lost.
pub async fn ingest(
    store: &impl CodeStore,
    bytes: &[u8],
    now: Timestamp,
) -> Result<Ingested, IngestError> {
    let Report {
        message: kind,
        udid,
        changes,
        ..
    } = Report::read(bytes, now)?;
    let mut outcomes = Vec::new();
    if let Some(udid) = &udid {
        // A reported serial number merges the device's placeholder, or is refused when another
        // enrolled device has it: the store's rule, inside the identity change.
        // Changes carry codes and tokens: their `Debug` form redacts them.
        tracing::debug!(%udid, message = %kind, ?changes, "applying a device's report");
        for change in changes {
            outcomes.push(store.apply(udid, change, now).await?);
        }
        tracing::info!(%udid, message = %kind, outcomes = ?outcomes, "device report stored");
    } else {
        tracing::info!(message = %kind, "message from no device: nothing stored");
    }
    Ok(Ingested {
        message: kind,
        udid,
        outcomes,
    })
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use code_store::Protection;

    fn response(udid: &str, code: &str) -> Vec<u8> {
        format!(
            "<plist version=\"1.0\"><dict><key>UDID</key><string>{udid}</string>\
             <key>CommandUUID</key><string>c</string><key>Status</key><string>Acknowledged</string>\
             <key>ActivationLockBypassCode</key><string>{code}</string></dict></plist>"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn ingest_refuses_reserved_udids_and_commands() {
        let store = code_store::MemoryStore::new(Protection::Cleartext);
        let code = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";
        let err = ingest(&store, &response("serial:C02X", code), Timestamp::now()).await;
        assert!(matches!(err, Err(IngestError::Value(_))), "{err:?}");
        let ok = ingest(&store, &response("UDID-OK", code), Timestamp::now())
            .await
            .unwrap();
        assert!(ok.outcomes[0].changed());
        let command = mdm_protocol::Command::new(mdm_protocol::CommandRequest::SecurityInfo)
            .to_xml()
            .unwrap();
        assert!(matches!(
            ingest(&store, &command, Timestamp::now()).await,
            Err(IngestError::Command)
        ));
        assert!(matches!(
            ingest(&store, b"not a plist", Timestamp::now()).await,
            Err(IngestError::Parse(_))
        ));
    }
}
