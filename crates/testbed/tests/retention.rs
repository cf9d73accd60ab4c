//! Scenario 3: a device that reports an empty code, then a code, then the same code, then
//! none, then (after an erase) a new code: the store follows the retention rule (SPEC.md
//! §1) and the history shows each step.

use alb_testbed::{CodeReporting, Format};
use code_store::{CodeStore as _, Event, Ignored};
use mdm_protocol::CommandRequest;

use crate::common::{Harness, on_both_backends};

async fn ask(h: &Harness, serial: &str) -> (bool, Vec<Ignored>) {
    let ingested = h
        .command(serial, CommandRequest::ActivationLockBypassCode)
        .await;
    let absent = h.device(serial, |d| {
        d.code_reporting == CodeReporting::Absent || d.active_code().is_none()
    });
    let expected = if absent {
        "Acknowledged response"
    } else {
        "ActivationLockBypassCode"
    };
    assert_eq!(ingested.message, expected);
    let changed = ingested.outcomes.iter().any(|o| o.changed());
    let ignored = ingested
        .outcomes
        .iter()
        .flat_map(|o| o.ignored.iter().copied())
        .collect();
    (changed, ignored)
}

async fn device_codes_follow_the_retention_rule(h: Harness) {
    let serial = h.add_device(6);
    let udid = h.udid(&serial);
    h.enroll(&serial).await;

    // 1. An empty code: nothing stored.
    h.device(&serial, |d| d.code_reporting = CodeReporting::Empty);
    assert_eq!(
        ask(&h, &serial).await,
        (false, vec![Ignored::EmptyDeviceCode])
    );
    assert!(h.record(&udid).await.device_code.is_none());

    // 2. The code (as a binary property list this time): stored.
    h.device(&serial, |d| {
        d.code_reporting = CodeReporting::Current;
        d.format = Format::Binary;
    });
    let first = h.device(&serial, |d| d.active_code().cloned()).unwrap();
    assert_eq!(ask(&h, &serial).await, (true, vec![]));
    let stored = h.record(&udid).await.device_code.unwrap();
    assert!(stored.code == first);

    // 3. The same code again: nothing changes, not even the time it was received.
    assert_eq!(
        ask(&h, &serial).await,
        (false, vec![Ignored::SameDeviceCode])
    );
    let again = h.record(&udid).await.device_code.unwrap();
    assert!(again.code == first);
    assert_eq!(again.received_at, stored.received_at);

    // 4. The key left out, then an empty string: the stored code stays.
    // (Without the key the response cannot be told from any other acknowledgement: `alb
    // ingest` reads it as one, and changes nothing.)
    h.device(&serial, |d| d.code_reporting = CodeReporting::Absent);
    assert_eq!(ask(&h, &serial).await, (false, vec![]));
    h.device(&serial, |d| d.code_reporting = CodeReporting::Empty);
    assert_eq!(
        ask(&h, &serial).await,
        (false, vec![Ignored::EmptyDeviceCode])
    );
    assert!(h.record(&udid).await.device_code.unwrap().code == first);

    // 5. Erased: a new, different code replaces it.
    h.device(&serial, |d| {
        d.erase();
        d.code_reporting = CodeReporting::Current;
        d.format = Format::Xml;
    });
    let second = h.device(&serial, |d| d.active_code().cloned()).unwrap();
    assert!(second != first);
    assert_eq!(ask(&h, &serial).await, (true, vec![]));
    assert!(h.record(&udid).await.device_code.unwrap().code == second);

    // The history: two stores, the second replacing the first, nothing for the ignored ones.
    let stores: Vec<(bool, bool)> = h
        .store
        .history(&udid)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|entry| match entry.event {
            Event::DeviceCodeStored { code, replaced } => Some((code == first, replaced)),
            _ => None,
        })
        .collect();
    assert_eq!(stores, [(true, false), (false, true)]);
    let names = h.history(&udid).await;
    assert_eq!(names.iter().filter(|n| **n == "device_code").count(), 2);

    // The device clears its code (`ClearActivationLockBypassCode`) and reports none: kept.
    h.command(&serial, CommandRequest::ClearActivationLockBypassCode)
        .await;
    assert!(h.device(&serial, |d| d.active_code().is_none()));
    assert_eq!(ask(&h, &serial).await, (false, vec![]));
    assert!(h.record(&udid).await.device_code.unwrap().code == second);
}

on_both_backends!(retention, super::device_codes_follow_the_retention_rule);
