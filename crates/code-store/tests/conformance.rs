//! One conformance suite, run against every backend by `backends.rs`.

use std::{collections::HashMap, future::Future, sync::Arc};

use bypass_code::BypassCode;
use code_store::{
    AttemptOutcome, Change, CodeKind, CodeStore, DeviceIdentity, Event, Ignored, KeyRing,
    Protection, ServerCodeState, ServerCodeTarget, StoreError, StoreKey, Timestamp, Udid,
    UnlockToken, export::RecordJson,
};

pub(crate) fn code(byte: u8) -> BypassCode {
    BypassCode::from_bytes([byte; 16])
}

pub(crate) fn udid(s: &str) -> Udid {
    Udid::new(s).unwrap()
}

pub(crate) fn key(id: &str, byte: u8) -> StoreKey {
    StoreKey::new(id, [byte; 32]).unwrap()
}

pub(crate) fn encrypted(id: &str, byte: u8) -> Protection {
    Protection::encrypted(KeyRing::new(key(id, byte)))
}

const T0: i64 = 1_795_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(T0 + offset)
}

/// Opens stores of one backend. Every call to `fresh` gives an empty store; `reopen` opens the
/// store last made by `fresh` again with another protection (same data).
pub(crate) trait Backend {
    type Store: CodeStore + core::fmt::Debug + 'static;
    fn fresh(&mut self, protection: Protection) -> impl Future<Output = Self::Store>;
    fn reopen(&mut self, protection: Protection) -> impl Future<Output = Self::Store> {
        async move {
            self.try_reopen(protection)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    }
    fn try_reopen(
        &mut self,
        protection: Protection,
    ) -> impl Future<Output = Result<Self::Store, StoreError>>;
}

/// Runs every check against `backend`.
pub(crate) async fn suite<B: Backend>(backend: &mut B) {
    retention_rule(&backend.fresh(encrypted("k1", 1)).await).await;
    unlock_token_rule(&backend.fresh(encrypted("k1", 1)).await).await;
    server_code_and_lookup(&backend.fresh(encrypted("k1", 1)).await).await;
    placeholders_merge_into_the_first_enrolled_device(&backend.fresh(encrypted("k1", 1)).await)
        .await;
    serial_claims_race(Arc::new(backend.fresh(encrypted("k1", 1)).await)).await;
    server_code_lifecycle(&backend.fresh(encrypted("k1", 1)).await).await;
    store_secrets(&backend.fresh(encrypted("k1", 1)).await).await;
    missing_window(&backend.fresh(encrypted("k1", 1)).await).await;
    failed_unlocks(&backend.fresh(encrypted("k1", 1)).await).await;
    crate::groups::group_commits(&backend.fresh(encrypted("k1", 1)).await).await;
    let target = backend.fresh(encrypted("k9", 9)).await;
    export_import(&backend.fresh(encrypted("k1", 1)).await, &target).await;
    keys(backend).await;
    modes(backend).await;
    concurrency(Arc::new(backend.fresh(encrypted("k1", 1)).await)).await;
}

/// The suite for a backend that cannot be reopened (memory): everything but the key checks.
pub(crate) async fn suite_memory<B: Backend>(backend: &mut B) {
    retention_rule(&backend.fresh(encrypted("k1", 1)).await).await;
    unlock_token_rule(&backend.fresh(encrypted("k1", 1)).await).await;
    server_code_and_lookup(&backend.fresh(encrypted("k1", 1)).await).await;
    placeholders_merge_into_the_first_enrolled_device(&backend.fresh(encrypted("k1", 1)).await)
        .await;
    serial_claims_race(Arc::new(backend.fresh(encrypted("k1", 1)).await)).await;
    server_code_lifecycle(&backend.fresh(encrypted("k1", 1)).await).await;
    store_secrets(&backend.fresh(encrypted("k1", 1)).await).await;
    missing_window(&backend.fresh(encrypted("k1", 1)).await).await;
    failed_unlocks(&backend.fresh(encrypted("k1", 1)).await).await;
    crate::groups::group_commits(&backend.fresh(encrypted("k1", 1)).await).await;
    let target = backend.fresh(encrypted("k9", 9)).await;
    export_import(&backend.fresh(encrypted("k1", 1)).await, &target).await;
    concurrency(Arc::new(backend.fresh(encrypted("k1", 1)).await)).await;
}

async fn retention_rule(store: &impl CodeStore) {
    let d = udid("DEV-RET");
    assert!(store.record(&d).await.unwrap().is_none());
    // An empty response for an unknown device stores nothing.
    let o = store
        .apply(&d, Change::DeviceCode(None), at(0))
        .await
        .unwrap();
    assert!(!o.changed());
    assert!(store.record(&d).await.unwrap().is_none());

    let o = store
        .apply(&d, Change::DeviceCode(Some(code(1))), at(1))
        .await
        .unwrap();
    assert_eq!(
        o.events,
        vec![
            Event::Created,
            Event::DeviceCodeStored {
                code: code(1),
                replaced: false
            }
        ]
    );
    let o = store
        .apply(&d, Change::DeviceCode(None), at(2))
        .await
        .unwrap();
    assert_eq!(o.ignored, vec![Ignored::EmptyDeviceCode]);
    let o = store
        .apply(&d, Change::DeviceCode(Some(code(1))), at(3))
        .await
        .unwrap();
    assert_eq!(o.ignored, vec![Ignored::SameDeviceCode]);
    let r = store.record(&d).await.unwrap().unwrap();
    assert_eq!(r.device_code.as_ref().unwrap().code, code(1));
    assert_eq!(r.device_code.as_ref().unwrap().received_at, at(1));

    let o = store
        .apply(&d, Change::DeviceCode(Some(code(2))), at(4))
        .await
        .unwrap();
    assert_eq!(
        o.events,
        vec![Event::DeviceCodeStored {
            code: code(2),
            replaced: true
        }]
    );
    let r = store.record(&d).await.unwrap().unwrap();
    assert_eq!(r.device_code.unwrap().code, code(2));
    assert_eq!(r.created_at, at(1));
    assert_eq!(r.updated_at, at(4));

    let h = store.history(&d).await.unwrap();
    let events: Vec<_> = h.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        events,
        vec![
            Event::Created,
            Event::DeviceCodeStored {
                code: code(1),
                replaced: false
            },
            Event::DeviceCodeStored {
                code: code(2),
                replaced: true
            },
        ]
    );
    assert!(h.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(h[2].at, at(4));
}

async fn unlock_token_rule(store: &impl CodeStore) {
    let d = udid("DEV-TOKEN");
    let token = |b: u8| UnlockToken::new(vec![b; 32]).unwrap();
    assert!(
        store
            .apply(&d, Change::UnlockToken(Some(token(1))), at(0))
            .await
            .unwrap()
            .changed()
    );
    for change in [
        Change::UnlockToken(None),
        Change::UnlockToken(Some(token(1))),
    ] {
        assert!(!store.apply(&d, change, at(1)).await.unwrap().changed());
    }
    assert!(
        store
            .apply(&d, Change::UnlockToken(Some(token(2))), at(2))
            .await
            .unwrap()
            .changed()
    );
    let r = store.record(&d).await.unwrap().unwrap();
    assert_eq!(r.unlock_token.as_ref().unwrap().token, token(2));
    assert_eq!(r.unlock_token.unwrap().received_at, at(2));
    assert_eq!(store.history(&d).await.unwrap().len(), 3);
}

async fn server_code_and_lookup(store: &impl CodeStore) {
    let d = udid("DEV-SRV");
    let server = code(7);
    let escrow_key = server.escrow_key();
    let identity = DeviceIdentity {
        serial_number: Some("C02SERIAL1".into()),
        product_type: Some("iPhone14,2".into()),
        imei: Some("35 000000 000000 1".into()),
        imei2: Some("35 000000 000000 2".into()),
        meid: Some("35000000000000".into()),
    };
    store
        .apply(&d, Change::Identity(identity.clone()), at(0))
        .await
        .unwrap();
    let o = store
        .apply(
            &d,
            Change::ServerCode {
                code: server.clone(),
                escrow_key: escrow_key.clone(),
            },
            at(1),
        )
        .await
        .unwrap();
    assert!(o.changed());
    // A partial identity update never erases known fields.
    let partial = DeviceIdentity {
        product_type: Some("iPhone15,3".into()),
        ..Default::default()
    };
    let o = store
        .apply(&d, Change::Identity(partial), at(2))
        .await
        .unwrap();
    assert_eq!(
        o.events,
        vec![Event::IdentityChanged {
            fields: vec!["product_type".into()]
        }]
    );

    let found = store.find("C02SERIAL1").await.unwrap();
    assert_eq!(found.len(), 1);
    let r = &found[0];
    assert_eq!(r.udid, d);
    assert_eq!(r.identity.imei2, identity.imei2);
    assert_eq!(r.identity.product_type.as_deref(), Some("iPhone15,3"));
    let s = r.server_code.as_ref().unwrap();
    assert_eq!(s.code, server);
    assert_eq!(s.escrow_key, escrow_key);
    assert_eq!(s.created_at, at(1));
    assert_eq!(store.find("DEV-SRV").await.unwrap().len(), 1);
    assert!(store.find("NOPE").await.unwrap().is_empty());
    // A second server code replaces the first; both stay in the history.
    let newer = code(8);
    store
        .apply(
            &d,
            Change::ServerCode {
                escrow_key: newer.escrow_key(),
                code: newer.clone(),
            },
            at(3),
        )
        .await
        .unwrap();
    let codes: Vec<_> = store
        .history(&d)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::ServerCodeStored { code, .. } => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![server, newer]);
    // A device known only by serial number gets a placeholder key.
    let placeholder = Udid::for_serial("DEPONLY1").unwrap();
    store
        .apply(
            &placeholder,
            Change::Identity(DeviceIdentity {
                serial_number: Some("DEPONLY1".into()),
                ..Default::default()
            }),
            at(4),
        )
        .await
        .unwrap();
    assert_eq!(store.find("DEPONLY1").await.unwrap()[0].udid, placeholder);
}

fn identity_with_serial(serial: &str) -> Change {
    Change::Identity(DeviceIdentity {
        serial_number: Some(serial.into()),
        product_type: Some("iPad8,1".into()),
        ..Default::default()
    })
}

/// A server code made for a serial number before its device enrolled waits in a placeholder;
/// the first device that enrols with that serial number gets it, in one change that also
/// removes the placeholder (one device, one record, everywhere). A second device claiming the
/// same serial number is refused, and the refusal is in its history.
async fn placeholders_merge_into_the_first_enrolled_device(store: &impl CodeStore) {
    let target = ServerCodeTarget::new("C02EARLY1", None).unwrap();
    let server = code(0x21);
    let committed = store
        .commit_server_code(&target, server.clone(), server.escrow_key(), at(0))
        .await
        .unwrap();
    let placeholder = Udid::for_serial("C02EARLY1").unwrap();
    assert_eq!(committed.udid, placeholder);
    // The same serial again lands on the same placeholder (a new code replaces the old one).
    let again = store
        .commit_server_code(&target, code(0x22), code(0x22).escrow_key(), at(1))
        .await
        .unwrap();
    assert_eq!(again.udid, placeholder);
    assert_eq!(store.find("C02EARLY1").await.unwrap().len(), 1);
    // There is nobody to ask for a device code yet.
    assert!(
        store
            .missing(at(2))
            .await
            .unwrap()
            .iter()
            .all(|m| m.record.udid != placeholder)
    );

    let device = udid("EARLY-DEVICE");
    let outcome = store
        .apply(&device, identity_with_serial("C02EARLY1"), at(3))
        .await
        .unwrap();
    assert!(
        outcome.events.contains(&Event::PlaceholderMerged {
            placeholder: placeholder.clone()
        }),
        "{outcome:?}"
    );
    let found = store.find("C02EARLY1").await.unwrap();
    assert_eq!(found.len(), 1, "one device, one record");
    assert_eq!(found[0].udid, device);
    assert_eq!(found[0].server_code.as_ref().unwrap().code, code(0x22));
    assert!(store.record(&placeholder).await.unwrap().is_none());
    assert!(
        !store
            .records()
            .await
            .unwrap()
            .iter()
            .any(|r| r.udid == placeholder)
    );
    let trail: Vec<Event> = store
        .history(&placeholder)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        trail.last(),
        Some(&Event::MergedInto {
            udid: device.clone()
        })
    );
    // A server code for the serial number now goes to the enrolled device.
    let later = store
        .commit_server_code(&target, code(0x23), code(0x23).escrow_key(), at(4))
        .await
        .unwrap();
    assert_eq!(later.udid, device);

    // Another device claiming the serial number is refused and the refusal recorded.
    let intruder = udid("INTRUDER");
    let outcome = store
        .apply(&intruder, identity_with_serial("C02EARLY1"), at(5))
        .await
        .unwrap();
    assert!(outcome.ignored.contains(&Ignored::SerialTaken));
    let record = store.record(&intruder).await.unwrap().unwrap();
    assert_eq!(record.identity.serial_number, None);
    assert_eq!(record.identity.product_type.as_deref(), Some("iPad8,1"));
    assert!(record.server_code.is_none());
    assert!(
        store
            .history(&intruder)
            .await
            .unwrap()
            .iter()
            .any(|e| e.event
                == Event::SerialRefused {
                    serial: "C02EARLY1".into(),
                    holder: device.clone()
                })
    );
    let found = store.find("C02EARLY1").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].udid, device);
    assert_eq!(found[0].server_code.as_ref().unwrap().code, code(0x23));
    // Nor can a server code be made for the intruder under that serial number.
    let err = store
        .commit_server_code(
            &ServerCodeTarget::new("C02EARLY1", Some("INTRUDER")).unwrap(),
            code(0x24),
            code(0x24).escrow_key(),
            at(6),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SerialTaken { .. }), "{err}");
    // A UDID given with another device's serial number is a mismatch.
    let err = store
        .commit_server_code(
            &ServerCodeTarget::new("C02OTHER9", Some("EARLY-DEVICE")).unwrap(),
            code(0x25),
            code(0x25).escrow_key(),
            at(7),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SerialMismatch { .. }), "{err}");
}

/// Devices claiming one serial number at the same moment, one of them holding a placeholder's
/// code: exactly one gets the serial number and the code.
async fn serial_claims_race<S: CodeStore + 'static>(store: Arc<S>) {
    for round in 0..4 {
        let serial = format!("C02RACE{round}");
        let server = code(0x30 + round);
        store
            .commit_server_code(
                &ServerCodeTarget::new(&serial, None).unwrap(),
                server.clone(),
                server.escrow_key(),
                at(0),
            )
            .await
            .unwrap();
        let claims: Vec<_> = (0..6)
            .map(|n| {
                let store = Arc::clone(&store);
                let serial = serial.clone();
                tokio::spawn(async move {
                    let device = udid(&format!("RACE-{round}-{n}"));
                    let outcome = store
                        .apply(&device, identity_with_serial(&serial), at(1))
                        .await
                        .unwrap();
                    (device, outcome)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for claim in claims {
            let (device, outcome) = claim.await.unwrap();
            if !outcome.ignored.contains(&Ignored::SerialTaken) {
                winners.push(device);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let found = store.find(&serial).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].udid, winners[0]);
        assert_eq!(found[0].server_code.as_ref().unwrap().code, server);
    }
}

/// Created → sent → Apple's answer, kept in the store; a code Apple accepted is never replaced:
/// a new one is refused unless asked for beside it, and both survive a backup.
async fn server_code_lifecycle(store: &impl CodeStore) {
    let device = udid("LOCK-1");
    store
        .apply(&device, identity_with_serial("C02LOCK01"), at(0))
        .await
        .unwrap();
    let target = ServerCodeTarget::new("C02LOCK01", Some("LOCK-1")).unwrap();
    let first = code(0x41);
    store
        .commit_server_code(&target, first.clone(), first.escrow_key(), at(1))
        .await
        .unwrap();
    let sent = Change::ServerCodeSent {
        escrow_key: first.escrow_key(),
    };
    assert_eq!(
        store.apply(&device, sent, at(2)).await.unwrap().events,
        vec![Event::ServerCodeSent]
    );
    let record = store.record(&device).await.unwrap().unwrap();
    assert_eq!(
        record.server_code.unwrap().state,
        ServerCodeState::Sent { at: at(2) }
    );
    // An unaccepted code may be replaced.
    let second = code(0x42);
    store
        .commit_server_code(&target, second.clone(), second.escrow_key(), at(3))
        .await
        .unwrap();
    let answered = Change::ServerCodeAnswered {
        escrow_key: second.escrow_key(),
        status: "SUCCESS".into(),
    };
    store.apply(&device, answered, at(4)).await.unwrap();
    let record = store.record(&device).await.unwrap().unwrap();
    assert!(record.server_code.is_none());
    let accepted = record.accepted_server_code.clone().unwrap();
    assert_eq!(accepted.code, second);
    assert_eq!(accepted.state, ServerCodeState::Accepted { at: at(4) });
    // Accepted: a new code is refused, then allowed beside it when asked; both are tried.
    let third = code(0x43);
    let err = store
        .commit_server_code(&target, third.clone(), third.escrow_key(), at(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ServerCodeAccepted { .. }),
        "{err}"
    );
    store
        .commit_server_code(
            &target.clone().beside_accepted(),
            third.clone(),
            third.escrow_key(),
            at(6),
        )
        .await
        .unwrap();
    let record = store.record(&device).await.unwrap().unwrap();
    let tried: Vec<_> = record
        .server_codes()
        .iter()
        .map(|c| c.code.clone())
        .collect();
    assert_eq!(tried, vec![second.clone(), third.clone()]);
    let refused = Change::ServerCodeAnswered {
        escrow_key: third.escrow_key(),
        status: "DEVICE_ALREADY_LOCKED".into(),
    };
    store.apply(&device, refused, at(7)).await.unwrap();
    let record = store.record(&device).await.unwrap().unwrap();
    assert_eq!(record.accepted_server_code.as_ref().unwrap().code, second);
    assert_eq!(
        record.server_code.as_ref().unwrap().state.status(),
        Some("DEVICE_ALREADY_LOCKED")
    );
    // A backup keeps all of it.
    let line = RecordJson::from_record(&record, true).to_line();
    let back = RecordJson::from_line(&line).unwrap().into_record().unwrap();
    assert_eq!(back, record);
    let names: Vec<&str> = store
        .history(&device)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.name())
        .collect();
    assert!(names.contains(&"server_code_sent") && names.contains(&"server_code_answered"));
}

/// The store keeps its own secrets (the enrollment service's token) sealed like codes.
async fn store_secrets(store: &impl CodeStore) {
    assert!(store.secret("dep-token").await.unwrap().is_none());
    store
        .put_secret("dep-token", b"{\"consumer_key\":\"CK_x\"}", at(0))
        .await
        .unwrap();
    store
        .put_secret("dep-token", b"second", at(1))
        .await
        .unwrap();
    assert_eq!(
        store.secret("dep-token").await.unwrap().unwrap().as_slice(),
        b"second"
    );
    assert!(store.put_secret("bad name!", b"x", at(2)).await.is_err());
}

async fn missing_window(store: &impl CodeStore) {
    let now = at(10 * 86_400);
    for (name, enrolled) in [
        ("M-OLD", Some(0)),
        ("M-NEW", Some(9 * 86_400)),
        ("M-UNKNOWN", None),
    ] {
        let d = udid(name);
        store
            .apply(
                &d,
                Change::Identity(DeviceIdentity {
                    serial_number: Some(name.replace('-', "")),
                    ..Default::default()
                }),
                at(0),
            )
            .await
            .unwrap();
        if let Some(t) = enrolled {
            store
                .apply(&d, Change::Enrolled { at: at(t) }, at(t))
                .await
                .unwrap();
        }
    }
    let d = udid("M-HAS");
    store
        .apply(&d, Change::Enrolled { at: at(0) }, at(0))
        .await
        .unwrap();
    store
        .apply(&d, Change::DeviceCode(Some(code(3))), at(1))
        .await
        .unwrap();

    let missing = store.missing(now).await.unwrap();
    let summary: Vec<_> = missing
        .iter()
        .map(|m| (m.record.udid.to_string(), m.days_left))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("M-OLD".to_owned(), Some(5)),
            ("M-NEW".to_owned(), Some(14)),
            ("M-UNKNOWN".to_owned(), None),
        ]
    );
    assert_eq!(missing[0].deadline, Some(at(15 * 86_400)));
    // Past the window the days left are negative.
    assert_eq!(
        store.missing(at(20 * 86_400)).await.unwrap()[0].days_left,
        Some(-5)
    );
}

async fn failed_unlocks(store: &impl CodeStore) {
    let attempt = |code, outcome| Change::UnlockAttempt { code, outcome };
    let (a, b, c) = (udid("F-A"), udid("F-B"), udid("F-C"));
    store
        .apply(
            &a,
            attempt(CodeKind::Device, AttemptOutcome::Rejected),
            at(0),
        )
        .await
        .unwrap();
    store
        .apply(
            &a,
            attempt(CodeKind::Server, AttemptOutcome::Unlocked),
            at(1),
        )
        .await
        .unwrap();
    store
        .apply(
            &b,
            attempt(CodeKind::Server, AttemptOutcome::Rejected),
            at(0),
        )
        .await
        .unwrap();
    store
        .apply(&b, attempt(CodeKind::Device, AttemptOutcome::Failed), at(1))
        .await
        .unwrap();
    store
        .apply(&c, Change::DeviceCode(Some(code(5))), at(0))
        .await
        .unwrap();
    let failed = store.failed_unlocks().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].udid, b);
    let last = failed[0].last_unlock.unwrap();
    assert_eq!(
        (last.code, last.outcome, last.at),
        (CodeKind::Device, AttemptOutcome::Failed, at(1))
    );
    let attempts = store
        .history(&a)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event, Event::UnlockAttempted { .. }))
        .count();
    assert_eq!(attempts, 2);
}

async fn export_import(source: &impl CodeStore, target: &impl CodeStore) {
    let d = udid("EXP-1");
    let server = code(11);
    source
        .apply(&d, Change::Enrolled { at: at(0) }, at(0))
        .await
        .unwrap();
    source
        .apply(&d, Change::DeviceCode(Some(code(10))), at(1))
        .await
        .unwrap();
    source
        .apply(
            &d,
            Change::ServerCode {
                escrow_key: server.escrow_key(),
                code: server,
            },
            at(2),
        )
        .await
        .unwrap();
    source
        .apply(
            &d,
            Change::UnlockToken(Some(UnlockToken::new(vec![9; 40]).unwrap())),
            at(3),
        )
        .await
        .unwrap();
    source
        .apply(
            &d,
            Change::UnlockAttempt {
                code: CodeKind::Device,
                outcome: AttemptOutcome::Rejected,
            },
            at(4),
        )
        .await
        .unwrap();
    source
        .apply(&udid("EXP-2"), Change::Enrolled { at: at(5) }, at(5))
        .await
        .unwrap();

    let records = source.records().await.unwrap();
    assert_eq!(records.len(), 2);
    for record in &records {
        let line = RecordJson::from_record(record, true).to_line();
        let back = RecordJson::from_line(&line).unwrap().into_record().unwrap();
        assert!(
            target
                .apply(&back.udid.clone(), Change::Restore(Box::new(back)), at(100))
                .await
                .unwrap()
                .changed()
        );
    }
    let imported = target.records().await.unwrap();
    assert_eq!(imported.len(), 2);
    for (a, b) in records.iter().zip(&imported) {
        assert_eq!(a.udid, b.udid);
        assert_eq!(a.device_code, b.device_code);
        assert_eq!(a.server_code, b.server_code);
        assert_eq!(a.unlock_token, b.unlock_token);
        assert_eq!(a.last_unlock, b.last_unlock);
        assert_eq!(a.enrolled_at, b.enrolled_at);
        assert_eq!(a.created_at, b.created_at);
    }
    // Importing the same export again changes nothing.
    for record in records {
        let o = target
            .apply(
                &record.udid.clone(),
                Change::Restore(Box::new(record)),
                at(200),
            )
            .await
            .unwrap();
        assert!(!o.changed(), "{o:?}");
    }
}

async fn keys<B: Backend>(backend: &mut B) {
    let d = udid("KEYS-1");
    {
        let store = backend.fresh(Protection::NoKey).await;
        let err = store
            .apply(&d, Change::DeviceCode(Some(code(1))), at(0))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::KeyMissing { .. }), "{err}");
        assert!(
            store.record(&d).await.unwrap().is_none(),
            "a refused write leaves nothing"
        );
        // Non-secret changes need no key.
        store
            .apply(&d, Change::Enrolled { at: at(0) }, at(0))
            .await
            .unwrap();
    }
    let store = backend.reopen(encrypted("old", 1)).await;
    store
        .apply(&d, Change::DeviceCode(Some(code(1))), at(1))
        .await
        .unwrap();
    drop(store);

    let no_key = backend.reopen(Protection::NoKey).await;
    let err = no_key.record(&d).await.unwrap_err();
    assert!(matches!(err, StoreError::KeyRequired { .. }), "{err}");
    let wrong_id = backend.reopen(encrypted("other", 1)).await;
    let err = wrong_id.record(&d).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownKey { .. }), "{err}");
    assert!(err.to_string().contains("\"old\""), "{err}");
    let wrong_material = backend.reopen(encrypted("old", 2)).await;
    let err = wrong_material.record(&d).await.unwrap_err();
    assert!(matches!(err, StoreError::Authentication { .. }), "{err}");
    // Nor can a wrong key overwrite anything.
    assert!(
        wrong_material
            .apply(&d, Change::DeviceCode(Some(code(2))), at(2))
            .await
            .is_err()
    );

    // Rotation: the new key is current, the old one still reads; a write re-seals under the new.
    let ring = KeyRing::new(key("new", 3))
        .with_older(key("old", 1))
        .unwrap();
    let rotated = backend.reopen(Protection::encrypted(ring)).await;
    assert_eq!(
        rotated
            .record(&d)
            .await
            .unwrap()
            .unwrap()
            .device_code
            .unwrap()
            .code,
        code(1)
    );
    rotated
        .apply(&d, Change::DeviceCode(Some(code(4))), at(3))
        .await
        .unwrap();
    let only_new = backend.reopen(encrypted("new", 3)).await;
    assert_eq!(
        only_new
            .record(&d)
            .await
            .unwrap()
            .unwrap()
            .device_code
            .unwrap()
            .code,
        code(4)
    );
    // The old code, in the history, still needs the old key.
    assert!(only_new.history(&d).await.is_err());
}

/// Many tasks write different, equal and empty codes and tokens for the same devices at once.
/// A store keeps the mode it was made with: an encrypted store cannot be opened in cleartext
/// mode (which would write secrets in clear next to sealed ones).
async fn modes<B: Backend>(backend: &mut B) {
    let store = backend.fresh(encrypted("k1", 1)).await;
    let d = udid("MODE-1");
    store
        .apply(&d, Change::DeviceCode(Some(code(5))), at(0))
        .await
        .unwrap();
    drop(store);
    let err = backend.try_reopen(Protection::Cleartext).await.unwrap_err();
    assert!(matches!(err, StoreError::ModeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("encrypted"), "{err}");
    // Without a key: the record's secrets cannot be read, and nothing else goes wrong.
    let locked = backend.reopen(Protection::NoKey).await;
    let err = locked.record(&d).await.unwrap_err();
    assert!(matches!(err, StoreError::KeyRequired { .. }), "{err}");

    let clear = backend.fresh(Protection::Cleartext).await;
    clear
        .apply(&d, Change::DeviceCode(Some(code(6))), at(0))
        .await
        .unwrap();
    drop(clear);
    let err = backend.try_reopen(encrypted("k1", 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::ModeMismatch { .. }), "{err}");
    let reread = backend.reopen(Protection::Cleartext).await;
    assert_eq!(
        reread
            .record(&d)
            .await
            .unwrap()
            .unwrap()
            .device_code
            .unwrap()
            .code,
        code(6)
    );
}

async fn concurrency<S: CodeStore + 'static>(store: Arc<S>) {
    const DEVICES: usize = 3;
    const TASKS: usize = 48;
    const WRITES: usize = 6;
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for write in 0..WRITES {
                let device = udid(&format!("CONC-{}", (task + write) % DEVICES));
                // Values from a small set, so equal values race; every fourth write is empty.
                let pick = (task * 7 + write * 3) % 4;
                let value = (pick != 3).then(|| u8::try_from(pick).unwrap() + 1);
                let change = if write % 2 == 0 {
                    Change::DeviceCode(value.map(code))
                } else {
                    Change::UnlockToken(value.map(|v| UnlockToken::new(vec![v; 8]).unwrap()))
                };
                let outcome = store.apply(&device, change, at(0)).await.unwrap();
                seen.push((device, outcome));
            }
            seen
        }));
    }
    let mut reported: HashMap<Udid, Vec<Event>> = HashMap::new();
    for handle in handles {
        for (device, outcome) in handle.await.unwrap() {
            reported.entry(device).or_default().extend(outcome.events);
        }
    }
    for n in 0..DEVICES {
        let device = udid(&format!("CONC-{n}"));
        let history: Vec<Event> = store
            .history(&device)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        // Exactly the events the writers were told about: none lost, none invented.
        let mut told = reported.remove(&device).unwrap_or_default();
        assert_eq!(history.len(), told.len());
        for event in &history {
            let i = told
                .iter()
                .position(|e| e == event)
                .expect("history event reported");
            told.swap_remove(i);
        }
        assert_eq!(history.iter().filter(|e| **e == Event::Created).count(), 1);
        // The rule: each stored code differs from the one before; the first replaces nothing.
        let codes: Vec<_> = history
            .iter()
            .filter_map(|e| match e {
                Event::DeviceCodeStored { code, replaced } => Some((code.clone(), *replaced)),
                _ => None,
            })
            .collect();
        assert!(!codes.is_empty());
        assert!(!codes[0].1 && codes[1..].iter().all(|c| c.1));
        assert!(codes.windows(2).all(|w| w[0].0 != w[1].0));
        let tokens: Vec<_> = history
            .iter()
            .filter_map(|e| match e {
                Event::UnlockTokenStored { token, .. } => Some(token.clone()),
                _ => None,
            })
            .collect();
        assert!(tokens.windows(2).all(|w| w[0] != w[1]));
        // The final state is the last stored value.
        let record = store.record(&device).await.unwrap().unwrap();
        assert_eq!(record.device_code.unwrap().code, codes.last().unwrap().0);
        assert_eq!(&record.unlock_token.unwrap().token, tokens.last().unwrap());
    }
}
