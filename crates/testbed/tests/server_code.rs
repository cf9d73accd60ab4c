//! Scenario 2: the server-created code. `alb generate` for the device, its escrow key
//! registered with Apple → the device is erased (a new device code; the stored one now fails
//! with 404) → the unlock falls back to the server code. Then the device reports its new code
//! and that one unlocks first.

use code_store::{AttemptOutcome, CodeKind, CodeStore as _, Event};
use escrow_client::{AttemptResult, CodeSource, Verdict};
use mdm_protocol::CommandRequest;

use crate::common::{Harness, on_both_backends};

fn statuses(outcome: &escrow_client::UnlockOutcome) -> Vec<(CodeSource, Option<u16>)> {
    outcome
        .attempts
        .iter()
        .map(|a| (a.code, a.result.status()))
        .collect()
}

async fn erased_device_unlocks_with_the_server_code(h: Harness) {
    let serial = h.add_device(4);
    let udid = h.udid(&serial);
    h.enroll(&serial).await;
    h.command(&serial, CommandRequest::ActivationLockBypassCode)
        .await;
    let first_code = h.device(&serial, |d| d.active_code().cloned()).unwrap();

    // `alb generate`: committed before anything else sees it; then registered with Apple
    // (the device enrolment service's `escrow_key`, here the fleet's record of it).
    let issued = h.generate(&serial, Some(&udid)).await;
    assert_eq!(issued.udid, udid);
    assert!(issued.code.matches(&issued.escrow_key));
    h.fleet()
        .register_escrow_key(&serial, issued.escrow_key.clone());
    let record = h.record(&udid).await;
    let server = record.server_code.as_ref().unwrap();
    assert!(server.code == issued.code);
    assert_eq!(server.escrow_key.to_string(), issued.escrow_key.to_string());
    assert!(record.device_code.as_ref().unwrap().code == first_code);

    // Erased: the device made a new code; the stored device code is stale.
    h.device(&serial, |d| {
        d.erase();
        d.lock();
    });
    assert!(h.device(&serial, |d| d.active_code().cloned()).unwrap() != first_code);

    let outcome = h.unlock(&udid.to_string()).await;
    assert_eq!(
        statuses(&outcome),
        [
            (CodeSource::Device, Some(404)),
            (CodeSource::Server, Some(200))
        ]
    );
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Server
        }
    );
    assert!(!h.device(&serial, |d| d.is_locked()));
    let attempts: Vec<_> = h
        .store
        .history(&udid)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|entry| match entry.event {
            Event::UnlockAttempted { code, outcome } => Some((code, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (CodeKind::Device, AttemptOutcome::Rejected),
            (CodeKind::Server, AttemptOutcome::Unlocked)
        ]
    );

    // The device reports its new code: stored (replacing the stale one); it unlocks first.
    h.command(&serial, CommandRequest::ActivationLockBypassCode)
        .await;
    let new_code = h.device(&serial, |d| d.active_code().cloned()).unwrap();
    let record = h.record(&udid).await;
    assert!(record.device_code.as_ref().unwrap().code == new_code);
    assert!(
        record.server_code.as_ref().unwrap().code == issued.code,
        "kept"
    );
    h.device(&serial, |d| d.lock());
    let outcome = h.unlock(&serial).await;
    assert_eq!(statuses(&outcome), [(CodeSource::Device, Some(200))]);
    assert!(!h.device(&serial, |d| d.is_locked()));

    // A device whose code was never retrieved: a clear error, and nothing is sent.
    let other = h.add_device(5);
    h.device(&other, |d| d.lock());
    h.enroll(&other).await;
    let sent = h.service.request_count();
    let refused = h
        .unlock_with(&other, &h.settings(core::time::Duration::from_secs(5), 1))
        .await;
    assert!(
        matches!(refused, Err(alb_workflow::unlock::UnlockError::NoCodes)),
        "{refused:?}"
    );
    assert_eq!(h.service.request_count(), sent);
    assert!(h.device(&other, |d| d.is_locked()));
    assert!(matches!(
        outcome.attempts[0].result,
        AttemptResult::Response { status: 200, .. }
    ));
}

on_both_backends!(
    server_code_fallback,
    super::erased_device_unlocks_with_the_server_code
);
