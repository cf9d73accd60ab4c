//! Scenario 1: enrol → identity and unlock token stored → bypass code asked for before
//! Activation Lock → device code stored → the device locks → unlock with the device code.

use code_store::{AttemptOutcome, CodeKind, CodeStore as _};
use escrow_client::{AttemptResult, CodeSource, Verdict};
use mdm_protocol::{CommandRequest, DeviceInformation};

use crate::common::{Harness, on_both_backends};

async fn enroll_then_unlock_with_the_device_code(h: Harness) {
    let serial = h.add_device(3); // cellular: the request carries IMEI and MEID
    let udid = h.udid(&serial);

    h.enroll(&serial).await;
    let record = h.record(&udid).await;
    assert_eq!(
        record.identity.serial_number.as_deref(),
        Some(serial.as_str())
    );
    assert_eq!(record.identity.product_type.as_deref(), Some("iPhone12,1"));
    assert!(record.enrolled_at.is_some());
    let token = h.device(&serial, |d| d.unlock_token().to_vec());
    assert_eq!(
        record.unlock_token.as_ref().map(|t| t.token.as_bytes()),
        Some(token.as_slice())
    );
    assert!(record.device_code.is_none(), "no code asked for yet");
    assert_eq!(
        h.store
            .missing(code_store::Timestamp::now())
            .await
            .unwrap()
            .len(),
        1,
        "listed as missing"
    );

    // Before Activation Lock: the code, and what the unlock request needs.
    let ingested = h
        .command(&serial, CommandRequest::ActivationLockBypassCode)
        .await;
    assert_eq!(ingested.message, "ActivationLockBypassCode");
    assert!(ingested.outcomes.iter().any(|o| o.changed()));
    h.command(
        &serial,
        CommandRequest::DeviceInformation(DeviceInformation::for_unlock()),
    )
    .await;
    let record = h.record(&udid).await;
    let active = h.device(&serial, |d| d.active_code().cloned()).unwrap();
    assert!(
        record
            .device_code
            .as_ref()
            .is_some_and(|d| d.code == active)
    );
    assert!(
        h.store
            .missing(code_store::Timestamp::now())
            .await
            .unwrap()
            .is_empty()
    );
    let imei = h.device(&serial, |d| d.imei.clone());
    assert_eq!(record.identity.imei, imei);

    h.device(&serial, |d| d.lock());
    let outcome = h.unlock(&serial).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Device
        }
    );
    assert_eq!(outcome.attempts.len(), 1);
    assert!(matches!(
        outcome.attempts[0].result,
        AttemptResult::Response { status: 200, .. }
    ));
    assert!(!h.device(&serial, |d| d.is_locked()));

    // What went over the wire: the device fields in the query, the code in the body.
    let requests = h.service.requests();
    assert_eq!(requests.len(), 1);
    let query = requests[0].query.clone().unwrap();
    assert!(query.contains(&format!("serial={serial}")), "{query}");
    assert!(
        query.contains(&format!("imei={}", imei.unwrap())),
        "{query}"
    );
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    assert!(body.contains(&format!("escrowKey={active}")));

    let record = h.record(&udid).await;
    let last = record.last_unlock.unwrap();
    assert_eq!(
        (last.code, last.outcome),
        (CodeKind::Device, AttemptOutcome::Unlocked)
    );
    let history = h.history(&udid).await;
    assert_eq!(history.first(), Some(&"created"));
    for step in ["enrolled", "unlock_token", "device_code", "unlock_attempt"] {
        assert!(history.contains(&step), "{step} missing from {history:?}");
    }
    assert_eq!(history.last(), Some(&"unlock_attempt"));
}

on_both_backends!(
    enroll_then_unlock,
    super::enroll_then_unlock_with_the_device_code
);
