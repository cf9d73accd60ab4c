//! Removing Activation Lock: the device's identity and both codes from the store, the codes
//! sent to Apple in order (the device's own code first, then the code the server created),
//! moving on whenever one does not unlock, and every attempt written to the device's history as
//! soon as it ends.
//!
//! Everything about the request itself (its shape, how a status maps to an outcome, retries)
//! lives in `escrow-client`; the identity and the codes, in `code-store`. This module owns the
//! order: [`plan`] then [`unlock`].

use bypass_code::BypassCode;
use code_store::{
    AttemptOutcome, Change, CodeKind, CodeStore, DeviceIdentity, DeviceRecord, StoreError,
    Timestamp, Udid,
};
use escrow_client::{
    AttemptReport, AttemptResult, CodeSource, EscrowClient, Field, RequestError, StatusClass,
    UnlockOutcome, UnlockRequest, check_typed_imei,
};

/// Why an unlock could not be tried at all (a refused unlock is an [`UnlockOutcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// The device or requester fields are not valid.
    #[error("invalid request: {0}")]
    Request(#[from] RequestError),
    /// A code given is not valid (the code is not repeated).
    #[error("code #{index}: {source}")]
    Code {
        /// Its position among the codes given, from 1.
        index: usize,
        /// What is wrong.
        source: bypass_code::CodeError,
    },
    /// Neither the overrides nor a record give the device's serial number and product type.
    #[error("no device to unlock: its serial number and product type are needed")]
    NoDevice,
    /// The store has no record of the device named, and the overrides do not describe it.
    #[error(
        "the store has no record of {device}: its serial number, product type and a code are needed"
    )]
    UnknownDevice {
        /// The UDID or serial number given.
        device: String,
    },
    /// Neither the codes given nor a record give a code to try.
    #[error("no code to try")]
    NoCodes,
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Several records match the UDID or serial number given.
    #[error("{count} devices match {device}; give the UDID")]
    AmbiguousDevice {
        /// What was given.
        device: String,
        /// How many records match.
        count: usize,
    },
}

/// Who asks, for Apple's audit: the organisation and the person (`orgName`, `guid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The organisation's name.
    pub org_name: String,
    /// Who asks: e-mail, LDAP id or name.
    pub guid: String,
}

/// What to unlock: the request and the codes in the order they are tried, and the record whose
/// history gets every attempt (none when the device is not in the store).
#[derive(Debug, Clone)]
pub struct UnlockPlan {
    /// The request (everything but the code).
    pub request: UnlockRequest,
    /// The codes, in order, each with where it came from.
    pub codes: Vec<(CodeSource, BypassCode)>,
    /// The device's record, when it has one.
    pub udid: Option<Udid>,
}

/// Parses codes given by an operator, in order, labelled `code #1`, `code #2`...
///
/// # Errors
/// [`UnlockError::Code`] for the first code that is not a canonical bypass code (by position,
/// never by value).
pub fn parse_codes(
    codes: &[impl AsRef<str>],
) -> Result<Vec<(CodeSource, BypassCode)>, UnlockError> {
    codes
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let code = text
                .as_ref()
                .trim()
                .parse::<BypassCode>()
                .map_err(|source| UnlockError::Code {
                    index: i + 1,
                    source,
                })?;
            let label = u32::try_from(i + 1).unwrap_or(u32::MAX);
            Ok((CodeSource::Supplied(label), code))
        })
        .collect()
}

/// The one record of a UDID or serial number; `None` when there is none.
///
/// # Errors
/// The store fails, or several devices share the serial number.
pub async fn find_record(
    store: &impl CodeStore,
    udid_or_serial: &str,
) -> Result<Option<DeviceRecord>, UnlockError> {
    let mut found = store.find(udid_or_serial).await?;
    match found.len() {
        0 | 1 => Ok(found.pop()),
        count => Err(UnlockError::AmbiguousDevice {
            device: udid_or_serial.to_owned(),
            count,
        }),
    }
}

/// The plan for a device: its record's identity with `overrides` taken over it
/// ([`DeviceIdentity::merge`]: a field given replaces the stored one), and the codes — those
/// `given`, in their order (labelled as the stored code they equal, so the history says which),
/// else the stored device code, then the server code Apple accepted, then a server code whose
/// answer is unknown ([`DeviceRecord::server_codes`]).
///
/// IMEIs in `overrides` are taken as typed by a person and checked (their Luhn check digit);
/// those the device reported are sent as they came (`escrow-client` removes the spaces).
///
/// # Errors
/// No serial number or product type anywhere, an invalid field, or no code anywhere.
pub fn plan(
    record: Option<&DeviceRecord>,
    overrides: &DeviceIdentity,
    requester: &Requester,
    given: Vec<(CodeSource, BypassCode)>,
) -> Result<UnlockPlan, UnlockError> {
    for (field, typed) in [
        (Field::Imei, &overrides.imei),
        (Field::Imei2, &overrides.imei2),
    ] {
        if let Some(typed) = typed {
            check_typed_imei(field, typed)?;
        }
    }
    let mut identity = record.map(|r| r.identity.clone()).unwrap_or_default();
    identity.merge(overrides);
    let (Some(serial), Some(product_type)) = (&identity.serial_number, &identity.product_type)
    else {
        return Err(UnlockError::NoDevice);
    };
    let mut builder = UnlockRequest::builder()
        .serial(serial)
        .product_type(product_type)
        .org_name(&requester.org_name)
        .guid(&requester.guid);
    if let Some(imei) = &identity.imei {
        builder = builder.imei(imei);
    }
    if let Some(imei2) = &identity.imei2 {
        builder = builder.imei2(imei2);
    }
    if let Some(meid) = &identity.meid {
        builder = builder.meid(meid);
    }
    let request = builder.build()?;

    let stored_device = record.and_then(|r| r.device_code.as_ref()).map(|d| &d.code);
    // The server code Apple accepted first, then one whose answer is unknown.
    let stored_server: Vec<&BypassCode> = record
        .map(|r| r.server_codes().into_iter().map(|c| &c.code).collect())
        .unwrap_or_default();
    let codes: Vec<(CodeSource, BypassCode)> = if given.is_empty() {
        stored_device
            .map(|code| (CodeSource::Device, code.clone()))
            .into_iter()
            .chain(
                stored_server
                    .iter()
                    .map(|code| (CodeSource::Server, (*code).clone())),
            )
            .collect()
    } else {
        given
            .into_iter()
            .map(|(source, code)| {
                if stored_device == Some(&code) {
                    (CodeSource::Device, code)
                } else if stored_server.contains(&&code) {
                    (CodeSource::Server, code)
                } else {
                    (source, code)
                }
            })
            .collect()
    };
    if codes.is_empty() {
        return Err(UnlockError::NoCodes);
    }
    Ok(UnlockPlan {
        request,
        codes,
        udid: record.map(|r| r.udid.clone()),
    })
}

/// [`find_record`] and [`plan`] for a device named by UDID or serial number in `store`; a
/// device the store does not know must be described by `overrides` and `given`.
///
/// # Errors
/// As [`plan`]; [`UnlockError::UnknownDevice`] when the store does not know the device and the
/// overrides do not describe it.
pub async fn plan_for(
    store: &impl CodeStore,
    device: &str,
    overrides: &DeviceIdentity,
    requester: &Requester,
    given: Vec<(CodeSource, BypassCode)>,
) -> Result<UnlockPlan, UnlockError> {
    let record = find_record(store, device).await?;
    match plan(record.as_ref(), overrides, requester, given) {
        Err(UnlockError::NoDevice | UnlockError::NoCodes) if record.is_none() => {
            Err(UnlockError::UnknownDevice {
                device: device.to_owned(),
            })
        }
        other => other,
    }
}

/// What an unlock came to, and whether its attempts were recorded.
#[derive(Debug)]
pub struct Unlocked {
    /// Every attempt and the verdict.
    pub outcome: UnlockOutcome,
    /// How many attempts went to the device's history, or the first error recording them (the
    /// outcome stands either way: the operator must learn it).
    pub recorded: Result<usize, StoreError>,
}

/// Tries the plan's codes in order over `client` (moving on whenever a code does not unlock;
/// see [`EscrowClient::unlock_with_fallback`]) and, when the device has a record, writes each
/// attempt with one of its stored codes to its history **as soon as the attempt ends** (so the
/// trail survives a crash mid-way).
pub async fn unlock<S: CodeStore>(
    client: &EscrowClient,
    plan: &UnlockPlan,
    store: Option<&S>,
) -> Unlocked {
    let borrowed: Vec<(CodeSource, &BypassCode)> = plan
        .codes
        .iter()
        .map(|(source, code)| (*source, code))
        .collect();
    let (Some(store), Some(udid)) = (store, plan.udid.as_ref()) else {
        return Unlocked {
            outcome: client.unlock_with_fallback(&plan.request, &borrowed).await,
            recorded: Ok(0),
        };
    };
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<AttemptReport>();
    let unlocking = async move {
        client
            .unlock_with_observer(&plan.request, &borrowed, |attempt| {
                // The receiver lives until the sender is dropped, unless recording failed.
                let _ = sender.send(attempt.clone());
            })
            .await
    };
    let recording = async {
        let mut recorded = 0;
        while let Some(attempt) = receiver.recv().await {
            if record_attempt(store, udid, &attempt).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    };
    let (outcome, recorded) = tokio::join!(unlocking, recording);
    Unlocked { outcome, recorded }
}

/// Appends one attempt to the device's history when it used a stored code: unlocked
/// ([`StatusClass::Unlocked`]), rejected ([`StatusClass::NotFound`]) or failed (anything
/// else). Returns whether it was recorded (attempts with codes the store does not hold are not:
/// its history is about its own codes).
async fn record_attempt(
    store: &impl CodeStore,
    udid: &Udid,
    attempt: &AttemptReport,
) -> Result<bool, StoreError> {
    let code = match attempt.code {
        CodeSource::Device => CodeKind::Device,
        CodeSource::Server => CodeKind::Server,
        _ => return Ok(false),
    };
    let how = match &attempt.result {
        AttemptResult::Response {
            class: StatusClass::Unlocked,
            ..
        } => AttemptOutcome::Unlocked,
        AttemptResult::Response {
            class: StatusClass::NotFound,
            ..
        } => AttemptOutcome::Rejected,
        _ => AttemptOutcome::Failed,
    };
    tracing::info!(%udid, code = ?code, outcome = ?how, "unlock attempt recorded");
    store
        .apply(
            udid,
            Change::UnlockAttempt { code, outcome: how },
            Timestamp::now(),
        )
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_parsed_in_order_and_errors_do_not_repeat_them() {
        let codes = parse_codes(&[
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            " A8QK7-GFG21-6RHT-V0U9-756P-L7E3 ",
        ])
        .unwrap();
        assert_eq!(codes[0].0, CodeSource::Supplied(1));
        assert_eq!(codes[1].0, CodeSource::Supplied(2));
        let error = parse_codes(&[
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            "A8QK7-GFB21-6RHT-V0U9-756P-L7E3",
        ])
        .unwrap_err();
        assert!(matches!(error, UnlockError::Code { index: 2, .. }));
        assert!(!error.to_string().contains("A8QK7"));
    }

    fn requester() -> Requester {
        Requester {
            org_name: "Example".to_owned(),
            guid: "ops@example.com".to_owned(),
        }
    }

    fn stored_record() -> DeviceRecord {
        let mut record = DeviceRecord::new(
            Udid::new("00008030-001A2B3C4D5E6F70").unwrap(),
            Timestamp::now(),
        );
        record.identity.serial_number = Some("DMPXK0ABCD12".to_owned());
        record.identity.product_type = Some("iPad4,1".to_owned());
        record.identity.imei = Some("490154203237518".to_owned());
        record
    }

    #[test]
    fn plan_takes_the_device_code_first_then_the_server_code() {
        let mut record = stored_record();
        let device: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
        let server = BypassCode::from([7; 16]);
        record.apply(
            Change::ServerCode {
                code: server.clone(),
                escrow_key: server.escrow_key(),
            },
            Timestamp::now(),
        );
        record.apply(Change::DeviceCode(Some(device.clone())), Timestamp::now());
        let none = DeviceIdentity::default();
        let planned = plan(Some(&record), &none, &requester(), Vec::new()).unwrap();
        assert_eq!(planned.request.serial(), "DMPXK0ABCD12");
        assert_eq!(planned.request.imei(), Some("490154203237518"));
        assert_eq!(
            planned.codes,
            vec![
                (CodeSource::Device, device.clone()),
                (CodeSource::Server, server.clone())
            ]
        );
        assert_eq!(planned.udid.as_ref(), Some(&record.udid));

        // Codes given are tried in their order, labelled when the store knows them.
        let other = BypassCode::from([9; 16]);
        let given = vec![
            (CodeSource::Supplied(1), server.clone()),
            (CodeSource::Supplied(2), other.clone()),
        ];
        let planned = plan(Some(&record), &none, &requester(), given).unwrap();
        assert_eq!(
            planned.codes,
            vec![
                (CodeSource::Server, server),
                (CodeSource::Supplied(2), other)
            ]
        );

        // Overrides win over stored fields; a typed IMEI is checked.
        let overriding = DeviceIdentity {
            product_type: Some("iPad5,1".to_owned()),
            ..DeviceIdentity::default()
        };
        let planned = plan(Some(&record), &overriding, &requester(), Vec::new()).unwrap();
        assert_eq!(planned.request.product_type(), "iPad5,1");
        let mistyped = DeviceIdentity {
            imei: Some("490154203237517".to_owned()),
            ..DeviceIdentity::default()
        };
        assert!(matches!(
            plan(Some(&record), &mistyped, &requester(), Vec::new()),
            Err(UnlockError::Request(_))
        ));
    }

    #[test]
    fn plan_without_record_needs_overrides() {
        let none = DeviceIdentity::default();
        assert!(matches!(
            plan(None, &none, &requester(), Vec::new()),
            Err(UnlockError::NoDevice)
        ));
        let device = DeviceIdentity {
            serial_number: Some("DMPXK0ABCD12".to_owned()),
            product_type: Some("iPad4,1".to_owned()),
            ..DeviceIdentity::default()
        };
        assert!(matches!(
            plan(None, &device, &requester(), Vec::new()),
            Err(UnlockError::NoCodes)
        ));
        assert!(matches!(
            plan(Some(&stored_record()), &none, &requester(), Vec::new()),
            Err(UnlockError::NoCodes)
        ));
    }

    #[tokio::test]
    async fn attempts_with_stored_codes_go_to_the_history() {
        use escrow_client::BodyExcerpt;
        let store = code_store::MemoryStore::new(code_store::Protection::Cleartext);
        let record = stored_record();
        store
            .apply(
                &record.udid,
                Change::Identity(record.identity.clone()),
                Timestamp::now(),
            )
            .await
            .unwrap();
        let attempt = |code, status| AttemptReport {
            code,
            try_number: 1,
            result: AttemptResult::from_response(status, BodyExcerpt::new(0)),
            duration: core::time::Duration::from_millis(5),
        };
        let mut recorded = 0;
        for report in [
            attempt(CodeSource::Device, 404),
            attempt(CodeSource::Supplied(3), 404),
            attempt(CodeSource::Server, 500),
            attempt(CodeSource::Server, 200),
        ] {
            if record_attempt(&store, &record.udid, &report).await.unwrap() {
                recorded += 1;
            }
        }
        assert_eq!(recorded, 3);
        let stored = find_record(&store, "DMPXK0ABCD12").await.unwrap().unwrap();
        let last = stored.last_unlock.unwrap();
        assert_eq!(
            (last.code, last.outcome),
            (CodeKind::Server, AttemptOutcome::Unlocked)
        );
    }
}
