//! Scenario 5: load. Many simulated devices ingested (identity, unlock token, bypass code)
//! by several concurrent writers, on SQLite and on PostgreSQL; every final record is checked.
//!
//! `ALB_LOAD_DEVICES` sets the number of devices (default 2,000; the full run is 100,000:
//! `ALB_LOAD_DEVICES=100000 cargo test -p alb-testbed --test tests load -- --nocapture`),
//! `ALB_LOAD_WRITERS` the number of writers (default 4).

use std::{sync::Arc, time::Instant};

use alb_testbed::SimulatedDevice;
use code_store::CodeStore;
use mdm_protocol::{Command, CommandRequest, DeviceInformation};

use crate::common::{Harness, on_both_backends};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// The messages of one device, in the order it sends them: `Authenticate`, `TokenUpdate`,
/// then its answers to `DeviceInformation` and `ActivationLockBypassCode`.
const MESSAGES_PER_DEVICE: usize = 4;

fn message(device: &mut SimulatedDevice, kind: usize, commands: &[Vec<u8>; 2]) -> Vec<u8> {
    match kind {
        0 => device.authenticate(),
        1 => device.token_update(),
        k => device.respond(&commands[k - 2]).unwrap(),
    }
}

async fn many_devices_many_writers(h: Harness) {
    let count = setting("ALB_LOAD_DEVICES", 2_000);
    let writers = setting("ALB_LOAD_WRITERS", 4);
    let devices: Arc<Vec<std::sync::Mutex<SimulatedDevice>>> = Arc::new(
        (0..count as u64)
            .map(|n| std::sync::Mutex::new(SimulatedDevice::new(1_000_000 + n)))
            .collect(),
    );
    let commands = Arc::new([
        alb_cli::encode_command(
            &Command::new(CommandRequest::DeviceInformation(
                DeviceInformation::for_unlock(),
            )),
            false,
        )
        .unwrap(),
        alb_cli::encode_command(
            &Command::new(CommandRequest::ActivationLockBypassCode),
            false,
        )
        .unwrap(),
    ]);
    let h = Arc::new(h);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let (h, devices, commands) = (Arc::clone(&h), Arc::clone(&devices), Arc::clone(&commands));
        tasks.spawn(async move {
            // Writer `w` takes message `k` of device `i` when (i + k) % writers == w: the
            // messages of one device reach the store through different writers at once.
            let mut ingested = 0usize;
            for i in 0..devices.len() {
                for kind in 0..MESSAGES_PER_DEVICE {
                    if (i + kind) % writers != writer {
                        continue;
                    }
                    let bytes = message(&mut devices[i].lock().unwrap(), kind, &commands);
                    h.ingest(&bytes).await.unwrap();
                    ingested += 1;
                }
            }
            ingested
        });
    }
    let mut ingested = 0;
    while let Some(result) = tasks.join_next().await {
        ingested += result.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(ingested, count * MESSAGES_PER_DEVICE);
    println!(
        "load {:?}: {count} devices, {ingested} messages, {writers} writers in {:.1} s: \
         {:.0} messages/s, {:.0} devices/s",
        h.backend,
        elapsed.as_secs_f64(),
        ingested as f64 / elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
    );

    // Every record, read back in one pass, against each device's own state.
    let records = h.store.records().await.unwrap();
    assert_eq!(records.len(), count);
    let by_udid: std::collections::HashMap<&str, &code_store::DeviceRecord> =
        records.iter().map(|r| (r.udid.as_str(), r)).collect();
    for device in devices.iter() {
        let device = device.lock().unwrap();
        let record = by_udid[device.udid.as_str()];
        let identity = &record.identity;
        assert_eq!(identity.serial_number.as_ref(), Some(&device.serial));
        assert_eq!(identity.product_type.as_ref(), Some(&device.product_type));
        assert_eq!(identity.imei, device.imei, "{}", device.serial);
        assert_eq!(identity.imei2, device.imei2, "{}", device.serial);
        assert_eq!(identity.meid, device.meid, "{}", device.serial);
        assert!(record.enrolled_at.is_some());
        assert_eq!(
            record.unlock_token.as_ref().map(|t| t.token.as_bytes()),
            Some(device.unlock_token())
        );
        assert!(
            record.device_code.as_ref().map(|d| &d.code) == device.active_code(),
            "{}",
            device.serial
        );
        assert!(record.server_code.is_none());
    }
}

on_both_backends!(load, super::many_devices_many_writers);
