//! End to end with a NanoMDM stand-in and simulated devices: enrolment → commands queued → the
//! devices answer → codes stored → unlock through the API (directly, and through NanoMDM), on
//! SQLite and on PostgreSQL; re-enrolment, `NotNow`, `ClearPasscode`.

use core::time::Duration;
use std::sync::Arc;

use alb_nanomdm::{ApiKey, NanoMdmClient, NanoMdmConfig};
use alb_serve::{AskPolicy, ServiceConfig, UnlockSetup};
use alb_testbed::{EscrowService, Fleet, NanoMdm, SimulatedDevice, nanomdm::PUSH_TOPIC};
use alb_workflow::unlock::Requester;
use code_store::{AnswerStatus, CodeStore, Protection, Udid};
use escrow_client::{EscrowClient, EscrowConfig, Identity, NanoMdmRelay, TrustRoots};

use crate::common::{REVEALER, Running, WRITER, bearer, call, eventually, keys};

const NANOMDM_KEY: &str = "nanomdm-api-key-0123456789";

fn requester() -> Requester {
    Requester {
        org_name: "Example School".to_owned(),
        guid: "it@example.com".to_owned(),
    }
}

fn nanomdm_client(nanomdm: &NanoMdm) -> NanoMdmClient {
    NanoMdmClient::new(NanoMdmConfig::new(
        nanomdm.url(),
        ApiKey::new(NANOMDM_KEY.to_owned()),
    ))
    .unwrap()
}

fn policy() -> AskPolicy {
    AskPolicy {
        interval: Duration::from_millis(100),
        backoff: Duration::from_secs(1),
        ..AskPolicy::default()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Apple,
    NanoMdm,
}

async fn journey<S: CodeStore + 'static>(store: Arc<S>, via: Via) {
    let fleet = Fleet::new();
    let devices: Vec<(String, String)> = (30..33)
        .map(|n| {
            let device = SimulatedDevice::new(n);
            let ids = (device.udid.clone(), device.serial.clone());
            fleet.add(device);
            ids
        })
        .collect();
    let nanomdm = NanoMdm::start(fleet.clone(), NANOMDM_KEY).await.unwrap();
    let escrow = EscrowService::start(fleet.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (identity, ca) = escrow.write_client_files(dir.path()).unwrap();
    let mut config = ServiceConfig::new(keys());
    config.nanomdm = Some(nanomdm_client(&nanomdm));
    config.ask = policy();
    let client = match via {
        Via::Apple => EscrowClient::new(
            EscrowConfig {
                endpoint: escrow.url().parse().unwrap(),
                roots: TrustRoots::from_pem_file(&ca).unwrap(),
                ..EscrowConfig::default()
            },
            &Identity::from_file(&identity, None).unwrap(),
        )
        .unwrap(),
        Via::NanoMdm => EscrowClient::through_nanomdm(
            EscrowConfig::default(),
            NanoMdmRelay::new(
                nanomdm.url(),
                zeroize::Zeroizing::new(NANOMDM_KEY.to_owned()),
                PUSH_TOPIC,
            ),
        )
        .unwrap(),
    };
    config.unlock = Some(UnlockSetup {
        client,
        requester: requester(),
    });
    let running = Running::start(store.clone(), config).await;
    let host = running.url.trim_start_matches("http://");
    nanomdm
        .set_webhook(&format!("http://nanomdm:{WRITER}@{host}/webhook"))
        .unwrap();

    // Enrolment: every event taken; both commands queued once per device.
    for (udid, _) in &devices {
        assert_eq!(nanomdm.enroll(udid).await.unwrap(), vec![200, 200]);
    }
    eventually("the asks", || nanomdm.enqueued().len() == 2 * devices.len()).await;
    let delivery = nanomdm.deliver().await.unwrap();
    assert_eq!(delivery.delivered.len(), 2 * devices.len());
    assert!(delivery.delivered.iter().all(|d| d.webhook_status == 200));
    for (udid, serial) in &devices {
        let record = store
            .record(&Udid::new(udid).unwrap())
            .await
            .unwrap()
            .unwrap();
        let active = fleet
            .with_device(serial, |d| d.active_code().cloned())
            .unwrap();
        assert_eq!(record.device_code.as_ref().map(|c| c.code.clone()), active);
        assert_eq!(
            record.identity.serial_number.as_deref(),
            Some(serial.as_str())
        );
        assert!(record.identity.product_type.is_some());
        let ask = record.commands.ask.as_ref().unwrap();
        assert_eq!(ask.tries, 1);
        assert_eq!(
            ask.code_answer().map(|(s, _)| s.clone()),
            Some(AnswerStatus::Acknowledged)
        );
    }
    let (status, missing) = call(
        "GET",
        &format!("{}/v1/missing", running.url),
        bearer(WRITER),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        missing["missing"].as_array().map(Vec::len),
        Some(0),
        "{missing}"
    );

    // Unlock through the API: the device code, every attempt in the history.
    let (udid, serial) = &devices[0];
    fleet.with_device(serial, SimulatedDevice::lock);
    let (status, unlocked) = call(
        "POST",
        &format!("{}/v1/devices/{serial}/unlock", running.url),
        bearer(WRITER),
        "",
    )
    .await;
    assert_eq!(status, 200, "{unlocked}");
    assert_eq!(unlocked["unlocked"], true, "{unlocked}");
    assert!(!fleet.with_device(serial, |d| d.is_locked()).unwrap());
    let (_, history) = call(
        "GET",
        &format!("{}/v1/devices/{udid}/history", running.url),
        bearer(WRITER),
        "",
    )
    .await;
    assert!(history.to_string().contains("unlock_attempt"), "{history}");
    if via == Via::NanoMdm {
        assert_eq!(nanomdm.unlock_requests().len(), 1);
        assert_eq!(escrow.request_count(), 0);
    }

    // A new enrolment of a known device (erased: a new code) is asked again; NotNow waits.
    let (udid, serial) = &devices[1];
    fleet.with_device(serial, SimulatedDevice::erase);
    nanomdm.set_busy(udid, 1);
    // Enrolment times have one-second resolution: an erase and a new enrolment take longer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(nanomdm.enroll(udid).await.unwrap(), vec![200, 200]);
    eventually("the second ask", || {
        nanomdm.enqueued().len() == 2 * devices.len() + 2
    })
    .await;
    let first = nanomdm.deliver().await.unwrap();
    assert!(first.delivered.iter().any(|d| d.status == "NotNow"));
    nanomdm.deliver().await.unwrap();
    let record = store
        .record(&Udid::new(udid).unwrap())
        .await
        .unwrap()
        .unwrap();
    let active = fleet
        .with_device(serial, |d| d.active_code().cloned())
        .unwrap();
    assert_eq!(record.device_code.map(|c| c.code), active);
    assert_eq!(
        record.commands.ask.unwrap().tries,
        1,
        "a new ask for the new enrolment"
    );

    // ClearPasscode with the stored token: queued, answered through the webhook.
    let (udid, _) = &devices[2];
    let (status, queued) = call(
        "POST",
        &format!("{}/v1/devices/{udid}/clear-passcode", running.url),
        bearer(WRITER),
        "",
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let uuid = queued["command_uuid"].as_str().unwrap().to_owned();
    assert!(
        nanomdm
            .enqueued()
            .iter()
            .any(|e| e.command_uuid == uuid && e.request_type == "ClearPasscode")
    );
    nanomdm.deliver().await.unwrap();
    let (_, device) = call(
        "GET",
        &format!("{}/v1/devices/{udid}", running.url),
        bearer(REVEALER),
        "",
    )
    .await;
    assert_eq!(
        device["commands"]["clear_passcode"]["answer"][0], "acknowledged",
        "{device}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_unlocking_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = code_store::SqliteStore::open(dir.path().join("s.db"), Protection::Cleartext)
        .await
        .unwrap();
    journey(Arc::new(store), Via::Apple).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_unlocking_through_nanomdm() {
    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: the PostgreSQL journey is skipped");
        return;
    }
    let server = alb_test_support::TempPostgres::start().unwrap();
    let url = server.create_database("journey").await.unwrap();
    let store = code_store::PostgresStore::connect(&url, Protection::Cleartext)
        .await
        .unwrap();
    journey(Arc::new(store), Via::NanoMdm).await;
}
