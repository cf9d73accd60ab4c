//! The lock of a list of devices against the DEP stand-in (real TLS, OAuth session), through
//! `alb_workflow::lock::lock_devices` as `alb lock` runs it: fresh server codes hashed on every
//! core, each committed, marked sent, its escrow key sent (requests pipelined on one session)
//! and Apple's answer recorded — on the in-memory store and on SQLite (`synchronous=FULL`).
//!
//! The same group measures the batch escrow-key engine alone on as many codes
//! (`lock/hashing-only`), so `cargo xtask bench` prints `lock <store>: <n> devices/s` with its
//! ratio to the engine from one run: how far the lock of a list is bound by hashing.

use core::{
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use std::time::Instant;

use bypass_code::{BypassCode, EscrowKey, kdf};
use code_store::{
    CodeStore, KeyRing, MemoryStore, Protection, ServerCodeTarget, SqliteStore, StoreKey,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dep_client::{
    DepClient, DepConfig,
    testing::{StandIn, TestPki},
};
use tokio::runtime::Runtime;

/// Devices per iteration: a list of several batches, as an organisation locks them.
const DEVICES: usize = 1024;

fn protection() -> Protection {
    Protection::encrypted(KeyRing::new(
        StoreKey::new("bench", [7; 32]).unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// Batches of serial numbers handed out so far, by every store's run (the stand-in remembers
/// each device it locked: a serial is never used twice).
static BATCHES: AtomicU64 = AtomicU64::new(0);

/// `DEVICES` serial numbers never used before in this process.
fn fresh_targets() -> Vec<ServerCodeTarget> {
    let batch = BATCHES.fetch_add(1, Ordering::Relaxed);
    (0..DEVICES)
        .map(|i| {
            ServerCodeTarget::new(&format!("LB{batch:06}{i:04}"), None)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Locks `DEVICES` fresh devices per iteration and checks every one was locked.
fn bench_store<S: CodeStore>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &Runtime,
    id: &str,
    store: &S,
    client: &DepClient,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let targets = fresh_targets();
                let started = Instant::now();
                let mut locked = 0;
                runtime
                    .block_on(alb_workflow::lock::lock_devices(
                        store,
                        client,
                        &targets,
                        None,
                        |device| locked += usize::from(device.result.is_locked()),
                    ))
                    .unwrap_or_else(|e| panic!("{e}"));
                total += started.elapsed();
                assert_eq!(locked, DEVICES, "every device of the bench is locked");
            }
            total
        });
    });
}

fn lock(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let pki = TestPki::new();
    let stand_in = runtime
        .block_on(StandIn::start(&pki))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = DepConfig {
        base_url: stand_in
            .base_url()
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        roots: pki.trust_roots(),
        ..DepConfig::default()
    };
    let client = DepClient::new(config, stand_in.token()).unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("lock");
    group.throughput(Throughput::Elements(DEVICES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    let codes: Vec<BypassCode> = (0..DEVICES)
        .map(|i| BypassCode::from_bytes([u8::try_from(i).unwrap_or(0); 16]))
        .collect();
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); DEVICES];
    group.bench_function("hashing-only", |b| {
        b.iter(|| kdf::escrow_keys_parallel(black_box(&codes), &mut keys));
    });

    let memory = MemoryStore::new(protection());
    bench_store(&mut group, &runtime, "memory", &memory, &client);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sqlite = runtime
        .block_on(SqliteStore::open(
            dir.path().join("lock.sqlite3"),
            protection(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    bench_store(&mut group, &runtime, "sqlite", &sqlite, &client);
    group.finish();
}

criterion_group!(benches, lock);
criterion_main!(benches);
