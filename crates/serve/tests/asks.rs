//! The asks' rules, end to end with the stand-in: an `Error` answer is asked again after the
//! backoff, at most the policy's tries; a bypass-code answer without a code is "no code".

use core::time::Duration;
use std::sync::Arc;

use alb_nanomdm::{ApiKey, NanoMdmClient, NanoMdmConfig};
use alb_serve::{AskPolicy, ServiceConfig};
use alb_testbed::{CodeReporting, Fleet, NanoMdm, SimulatedDevice};
use code_store::{AnswerStatus, CodeStore, MemoryStore, Protection, Udid};

use crate::common::{Running, WRITER, bearer, call, connect_event, eventually, keys};

const NANOMDM_KEY: &str = "nanomdm-api-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_asked_again_with_backoff_and_no_code_is_said() {
    let fleet = Fleet::new();
    let mut device = SimulatedDevice::new(41);
    device.code_reporting = CodeReporting::Absent;
    let udid = device.udid.clone();
    fleet.add(device);
    let nanomdm = NanoMdm::start(fleet.clone(), NANOMDM_KEY).await.unwrap();
    let store = Arc::new(MemoryStore::new(Protection::Cleartext));
    let mut config = ServiceConfig::new(keys());
    config.nanomdm = Some(
        NanoMdmClient::new(NanoMdmConfig::new(
            nanomdm.url(),
            ApiKey::new(NANOMDM_KEY.to_owned()),
        ))
        .unwrap(),
    );
    config.ask = AskPolicy {
        interval: Duration::from_millis(50),
        backoff: Duration::from_secs(1),
        max_tries: 2,
        ..AskPolicy::default()
    };
    let running = Running::start(store.clone(), config).await;
    let host = running.url.trim_start_matches("http://");
    nanomdm
        .set_webhook(&format!("http://nanomdm:{WRITER}@{host}/webhook"))
        .unwrap();
    nanomdm.enroll(&udid).await.unwrap();
    eventually("the first try", || nanomdm.enqueued().len() >= 2).await;
    // The device answers the bypass-code request with an Error.
    let first = nanomdm.enqueued()[0].clone();
    assert_eq!(first.request_type, "ActivationLockBypassCode");
    let error = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict>\
         <key>UDID</key><string>{udid}</string><key>CommandUUID</key><string>{}</string>\
         <key>Status</key><string>Error</string></dict></plist>",
        first.command_uuid
    );
    let event = connect_event(&udid, "Error", &first.command_uuid, error.as_bytes());
    let (status, _) = call(
        "POST",
        &format!("{}/webhook", running.url),
        bearer(WRITER),
        event,
    )
    .await;
    assert_eq!(status, 200);
    let record = store
        .record(&Udid::new(&udid).unwrap())
        .await
        .unwrap()
        .unwrap();
    let ask = record.commands.ask.unwrap();
    assert_eq!(
        ask.code_answer().map(|(s, _)| s.clone()),
        Some(AnswerStatus::Error)
    );
    assert!(ask.due_at.is_some(), "asked again later");
    // Not before the backoff; then a second try (the last the policy allows).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(nanomdm.enqueued().len(), 2, "not before the backoff");
    eventually("the second try", || nanomdm.enqueued().len() >= 4).await;
    // The device answers without a code: "no code", and it is not asked again.
    let delivery = nanomdm.deliver().await.unwrap();
    assert!(delivery.delivered.iter().all(|d| d.webhook_status == 200));
    let record = store
        .record(&Udid::new(&udid).unwrap())
        .await
        .unwrap()
        .unwrap();
    let history: Vec<String> = store
        .history(&record.udid)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.to_string())
        .collect();
    let ask = record.commands.ask.unwrap();
    assert_eq!(ask.tries, 2, "{history:#?}");
    assert_eq!(
        ask.code_answer().map(|(s, _)| s.clone()),
        Some(AnswerStatus::NoCode)
    );
    assert_eq!(ask.due_at, None);
    let (_, missing) = call(
        "GET",
        &format!("{}/v1/missing", running.url),
        bearer(WRITER),
        "",
    )
    .await;
    assert_eq!(
        missing["missing"][0]["asked"]["answer"], "Acknowledged (no code)",
        "{missing}"
    );
    assert_eq!(missing["missing"][0]["asked"]["tries"], 2, "{missing}");
    running.stop().await;
}
