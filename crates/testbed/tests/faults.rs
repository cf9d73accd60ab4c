//! Scenario 4: faults. The escrow service answers `500` twice then `200`; it stalls past the
//! time limit; it resets the connection; PostgreSQL is stopped and restarted during ingest.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use alb_testbed::{Fault, SimulatedDevice};
use alb_workflow::device_report::IngestError;
use code_store::{AttemptOutcome, CodeStore, Event};
use escrow_client::{AttemptResult, CodeSource, Verdict};
use mdm_protocol::{Command, CommandRequest};

use crate::common::{Backend, Harness, on_both_backends};

/// An enrolled, locked device whose code the server holds; returns its serial number.
async fn locked_device(h: &Harness, n: u64) -> String {
    let serial = h.add_device(n);
    h.enroll(&serial).await;
    h.command(&serial, CommandRequest::ActivationLockBypassCode)
        .await;
    h.device(&serial, |d| d.lock());
    serial
}

async fn escrow_service_faults(h: Harness) {
    // 500, 500, then the service's own answer: retried to success, every try recorded.
    let serial = locked_device(&h, 10).await;
    h.service.inject([Fault::status(500), Fault::status(500)]);
    let outcome = h.unlock(&serial).await;
    let tries: Vec<_> = outcome
        .attempts
        .iter()
        .map(|a| (a.code, a.try_number, a.result.status()))
        .collect();
    assert_eq!(
        tries,
        [
            (CodeSource::Device, 1, Some(500)),
            (CodeSource::Device, 2, Some(500)),
            (CodeSource::Device, 3, Some(200)),
        ]
    );
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Device
        }
    );
    assert!(!h.device(&serial, |d| d.is_locked()));
    let udid = h.udid(&serial);
    let recorded: Vec<AttemptOutcome> = h
        .store
        .history(&udid)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::UnlockAttempted { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        recorded,
        [
            AttemptOutcome::Failed,
            AttemptOutcome::Failed,
            AttemptOutcome::Unlocked
        ]
    );

    // A stall past the time limit: a clear time-out, the device still locked, the failure
    // recorded; the next try (the service back) unlocks.
    let serial = locked_device(&h, 11).await;
    h.service.inject([Fault::Hang]);
    let limit = Duration::from_millis(400);
    let outcome = h.unlock_with(&serial, &h.settings(limit, 1)).await.unwrap();
    assert_eq!(
        outcome.verdict,
        Verdict::Unavailable {
            code: CodeSource::Device
        }
    );
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(
        outcome.attempts[0].result,
        AttemptResult::TimedOut { limit }
    );
    let report = alb_cli::UnlockReport::new(&outcome);
    let mut text = Vec::new();
    report.write(&mut text, false).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("no response within 400 ms"), "{text}");
    assert!(text.contains("unavailable"), "{text}");
    assert!(h.device(&serial, |d| d.is_locked()));
    let record = h.record(&h.udid(&serial)).await;
    assert_eq!(record.last_unlock.unwrap().outcome, AttemptOutcome::Failed);
    assert_eq!(
        h.unlock(&serial).await.verdict,
        Verdict::Unlocked {
            code: CodeSource::Device
        }
    );

    // Slow but within the limit, then a reset connection: both retried to success.
    let serial = locked_device(&h, 12).await;
    let code = h.device(&serial, |d| d.active_code().cloned()).unwrap();
    h.service.inject([
        Fault::delayed(Duration::from_millis(100), Fault::status(503)),
        Fault::Reset,
    ]);
    let outcome = h.unlock(&serial).await;
    assert_eq!(outcome.attempts.len(), 3, "{:?}", outcome.attempts);
    assert!(matches!(
        outcome.attempts[1].result,
        AttemptResult::Transport { .. }
    ));
    assert!(outcome.verdict.is_unlocked());
    // No attempt's report or the verdict ever shows the code.
    let report = alb_cli::UnlockReport::new(&outcome);
    let mut text = Vec::new();
    report.write(&mut text, true).unwrap();
    assert!(!String::from_utf8(text).unwrap().contains(&code.to_string()));
}

on_both_backends!(escrow_faults, super::escrow_service_faults);

/// PostgreSQL stopped and restarted while a writer ingests: the writer sees clear errors while
/// the database is down, keeps each message until it is stored, and no update is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_during_ingest_loses_nothing() {
    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: PostgreSQL scenario skipped");
        return;
    }
    const DEVICES: u64 = 120;
    let h = Arc::new(Harness::new(Backend::Postgres).await);
    let mut devices: Vec<SimulatedDevice> = (0..DEVICES)
        .map(|n| SimulatedDevice::new(100 + n))
        .collect();
    let ask = alb_cli::encode_command(
        &Command::new(CommandRequest::ActivationLockBypassCode),
        false,
    )
    .unwrap();
    let mut messages = Vec::new();
    for device in &mut devices {
        messages.push(device.authenticate());
        messages.push(device.token_update());
        messages.push(device.respond(&ask).unwrap());
    }

    let stored = Arc::new(AtomicUsize::new(0));
    let writer = {
        let h = Arc::clone(&h);
        let stored = Arc::clone(&stored);
        tokio::spawn(async move {
            let mut errors = Vec::new();
            for message in &messages {
                // The MDM server keeps a message until the store took it (the device would
                // resend it otherwise).
                loop {
                    match h.ingest(message).await {
                        Ok(_) => break,
                        Err(IngestError::Store(e)) => {
                            assert!(errors.len() < 600, "the store never came back: {e}");
                            errors.push(e.to_string());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(other) => panic!("not a store failure: {other}"),
                    }
                }
                stored.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            errors
        })
    };

    while stored.load(Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let postgres = h.postgres.as_ref().unwrap();
    postgres.stop().unwrap();
    // While it is down a reader gets a clear error too.
    let down = h.store.record(&h.udid_of(&devices[0])).await.unwrap_err();
    eprintln!("while PostgreSQL is down: {down}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres.start_again().unwrap();

    let errors = writer.await.unwrap();
    assert!(!errors.is_empty(), "the writer never saw the outage");
    eprintln!(
        "{} store errors during the outage, e.g.: {}",
        errors.len(),
        errors[0]
    );
    for error in [&errors[0], &down.to_string()] {
        let lower = error.to_lowercase();
        assert!(
            ["connect", "closed", "database", "postgres"]
                .iter()
                .any(|word| lower.contains(word)),
            "unclear error: {error}"
        );
    }

    let records = h.store.records().await.unwrap();
    assert_eq!(records.len(), devices.len());
    for device in &devices {
        let record = h.store.record(&h.udid_of(device)).await.unwrap().unwrap();
        assert_eq!(record.identity.serial_number.as_ref(), Some(&device.serial));
        assert!(record.enrolled_at.is_some());
        assert_eq!(
            record.unlock_token.as_ref().map(|t| t.token.as_bytes()),
            Some(device.unlock_token())
        );
        assert!(record.device_code.as_ref().map(|d| &d.code) == device.active_code());
    }
}
