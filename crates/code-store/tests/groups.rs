//! Group commits: `commit_server_codes` and `apply_all` write a whole group in one transaction,
//! in order, all or nothing (part of the conformance suite, run on every backend).

use code_store::{
    Change, CodeStore, DeviceIdentity, Event, ServerCodeTarget, StoreError, Timestamp,
};

use crate::conformance::{code, udid};

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(1_700_000_000 + offset)
}

pub(crate) async fn group_commits(store: &impl CodeStore) {
    // An enrolled device with serial C02GROUP0, and two serial numbers not seen yet.
    let enrolled = udid("GROUP-DEVICE");
    store
        .apply(
            &enrolled,
            Change::Identity(DeviceIdentity {
                serial_number: Some("C02GROUP0".into()),
                ..DeviceIdentity::default()
            }),
            at(0),
        )
        .await
        .unwrap();
    let group = vec![
        (
            ServerCodeTarget::new("C02GROUP0", None).unwrap(),
            code(0x31),
            code(0x31).escrow_key(),
        ),
        (
            ServerCodeTarget::new("C02GROUP1", None).unwrap(),
            code(0x32),
            code(0x32).escrow_key(),
        ),
        (
            ServerCodeTarget::new("C02GROUP2", None).unwrap(),
            code(0x33),
            code(0x33).escrow_key(),
        ),
    ];
    let committed = store.commit_server_codes(group, at(1)).await.unwrap();
    assert_eq!(committed.len(), 3);
    assert_eq!(
        committed[0].udid, enrolled,
        "the enrolled device got its code"
    );
    for (serial, byte) in [
        ("C02GROUP0", 0x31),
        ("C02GROUP1", 0x32),
        ("C02GROUP2", 0x33),
    ] {
        let found = store.find(serial).await.unwrap();
        assert_eq!(found.len(), 1, "{serial}");
        let server = found[0].server_code.as_ref().unwrap();
        assert!(server.code == code(byte), "{serial} holds its own code");
    }

    // All or nothing: the last target of a group is refused (its UDID has another serial),
    // so the two before it get nothing either.
    let group = vec![
        (
            ServerCodeTarget::new("C02GROUP3", None).unwrap(),
            code(0x34),
            code(0x34).escrow_key(),
        ),
        (
            ServerCodeTarget::new("C02GROUP4", None).unwrap(),
            code(0x35),
            code(0x35).escrow_key(),
        ),
        (
            ServerCodeTarget::new("C02OTHER9", Some("GROUP-DEVICE")).unwrap(),
            code(0x36),
            code(0x36).escrow_key(),
        ),
    ];
    let err = store.commit_server_codes(group, at(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::SerialMismatch { .. }), "{err}");
    assert!(store.find("C02GROUP3").await.unwrap().is_empty());
    assert!(store.find("C02GROUP4").await.unwrap().is_empty());

    // Changes for several devices in one group, in order: each sees the ones before it.
    let second = udid("GROUP-SECOND");
    let outcomes = store
        .apply_all(
            vec![
                (enrolled.clone(), Change::DeviceCode(Some(code(0x41)))),
                (second.clone(), Change::DeviceCode(Some(code(0x42)))),
                (enrolled.clone(), Change::DeviceCode(Some(code(0x41)))),
            ],
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].changed() && outcomes[1].changed());
    assert!(
        !outcomes[2].changed(),
        "the same code again, after the first: unchanged"
    );
    let record = store.record(&second).await.unwrap().unwrap();
    assert!(record.device_code.unwrap().code == code(0x42));
    let history = store.history(&enrolled).await.unwrap();
    assert!(
        history
            .iter()
            .any(|entry| matches!(entry.event, Event::DeviceCodeStored { .. })),
        "{history:?}"
    );
    assert!(store.apply_all(Vec::new(), at(4)).await.unwrap().is_empty());
    assert!(
        store
            .commit_server_codes(Vec::new(), at(4))
            .await
            .unwrap()
            .is_empty()
    );
}
