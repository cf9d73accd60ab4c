//! Two services on one PostgreSQL database, every enrolment delivered to both (as two NanoMDM
//! instances, or a retrying proxy, do): nothing is lost, and each command is queued once.

use core::time::Duration;
use std::sync::Arc;

use alb_nanomdm::{ApiKey, NanoMdmClient, NanoMdmConfig};
use alb_serve::{AskPolicy, ServiceConfig};
use alb_testbed::{Fleet, NanoMdm, SimulatedDevice};
use code_store::{CodeStore, PostgresStore, Protection, Udid};

use crate::common::{Running, WRITER, eventually, keys};

const NANOMDM_KEY: &str = "nanomdm-api-key-0123456789";

async fn instance(url: &str, nanomdm: &NanoMdm) -> (Running, Arc<PostgresStore>) {
    let store = Arc::new(
        PostgresStore::connect(url, Protection::Cleartext)
            .await
            .unwrap(),
    );
    let mut config = ServiceConfig::new(keys());
    config.nanomdm = Some(
        NanoMdmClient::new(NanoMdmConfig::new(
            nanomdm.url(),
            ApiKey::new(NANOMDM_KEY.to_owned()),
        ))
        .unwrap(),
    );
    config.ask = AskPolicy {
        interval: Duration::from_millis(20),
        ..AskPolicy::default()
    };
    (Running::start(store.clone(), config).await, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_lose_nothing_and_queue_each_command_once() {
    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: the two-instance test is skipped");
        return;
    }
    let server = alb_test_support::TempPostgres::start().unwrap();
    let url = server.create_database("instances").await.unwrap();
    let fleet = Fleet::new();
    let nanomdm = NanoMdm::start(fleet.clone(), NANOMDM_KEY).await.unwrap();
    let (a, store) = instance(&url, &nanomdm).await;
    let (b, _) = instance(&url, &nanomdm).await;
    // Every event NanoMDM posts reaches both instances at once.
    let relay = crate::common::fan_out(vec![
        format!("{}/webhook", a.url),
        format!("{}/webhook", b.url),
    ])
    .await;
    let host = relay
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned();
    nanomdm
        .set_webhook(&format!("http://nanomdm:{WRITER}@{host}/webhook"))
        .unwrap();
    let mut devices = Vec::new();
    for n in 0..24 {
        let device = SimulatedDevice::new(100 + n);
        devices.push((device.udid.clone(), device.serial.clone()));
        fleet.add(device);
    }
    for (udid, _) in &devices {
        assert_eq!(nanomdm.enroll(udid).await.unwrap(), vec![200, 200]);
    }
    eventually("the asks", || nanomdm.enqueued().len() >= 2 * devices.len()).await;
    // Both askers keep looking for a while: nothing more may be queued.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let enqueued = nanomdm.enqueued();
    assert_eq!(
        enqueued.len(),
        2 * devices.len(),
        "each command queued once"
    );
    for (udid, _) in &devices {
        let mine: Vec<_> = enqueued.iter().filter(|e| e.id == *udid).collect();
        assert_eq!(mine.len(), 2, "{udid}");
        assert_ne!(mine[0].request_type, mine[1].request_type);
    }
    // The answers, to both instances too: every code is stored once.
    let delivery = nanomdm.deliver().await.unwrap();
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
        assert_eq!(record.device_code.map(|c| c.code), active);
        let history = store.history(&record.udid).await.unwrap();
        let recorded = history
            .iter()
            .filter(|e| {
                matches!(
                    &e.event,
                    code_store::Event::Command(code_store::CommandEvent::Recorded { .. })
                )
            })
            .count();
        assert_eq!(recorded, 1, "one ask recorded for {udid}");
    }
    a.stop().await;
    b.stop().await;
}
