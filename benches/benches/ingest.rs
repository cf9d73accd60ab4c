//! Ingest throughput of `ActivationLockBypassCode` responses: parse the property list and apply
//! it to the store (the retention rule, sealing, one durable transaction per response), as
//! `alb ingest` does, on SQLite (a file, `synchronous=FULL`) and on PostgreSQL (a throw-away
//! server on loopback started by the benchmark, `fsync=on`).
//!
//! Every response carries a code different from the stored one, so every response is a real
//! write. `cargo xtask bench` prints `ingest <backend>: <n> responses/s`.
//! `ALB_SKIP_POSTGRES=1` skips the PostgreSQL figure; missing PostgreSQL binaries fail.

extern crate alloc;

use alloc::sync::Arc;

use code_store::{CodeStore, KeyRing, PostgresStore, Protection, SqliteStore, StoreKey, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mdm_protocol::{BypassCode, CommandResponse, Identity, ResponsePayload, Status};
use tokio::{runtime::Runtime, task::JoinSet};

/// Responses per iteration (distinct devices), applied by this many concurrent tasks.
const RESPONSES: usize = 64;
const TASKS: usize = 8;

/// Two responses per device, with different codes: iterations alternate between them.
fn responses() -> [Vec<Arc<Vec<u8>>>; 2] {
    let make = |round: u8| {
        (0..RESPONSES)
            .map(|device| {
                let mut raw = [round; 16];
                raw[..8].copy_from_slice(&(device as u64).to_le_bytes());
                let response = CommandResponse {
                    identity: Identity {
                        udid: Some(format!("00008101-{device:016X}")),
                        ..Identity::default()
                    },
                    payload: ResponsePayload::ActivationLockBypassCode {
                        code: Some(BypassCode::from_bytes(raw)),
                    },
                    ..CommandResponse::new(Some(format!("cmd-{device}")), Status::Acknowledged)
                };
                Arc::new(response.to_xml().unwrap_or_default())
            })
            .collect()
    };
    [make(1), make(2)]
}

fn protection() -> Protection {
    Protection::encrypted(KeyRing::new(
        StoreKey::new("bench", [7; 32]).unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// Ingests every response of one round, `TASKS` at a time.
async fn ingest_round<S: CodeStore + 'static>(store: &Arc<S>, round: &[Arc<Vec<u8>>]) {
    let mut tasks = JoinSet::new();
    for chunk in round.chunks(RESPONSES.div_ceil(TASKS)) {
        let store = Arc::clone(store);
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for bytes in chunk {
                let ingested =
                    alb_workflow::device_report::ingest(&*store, &bytes, Timestamp::now()).await;
                assert!(ingested.is_ok_and(|i| i.outcomes.iter().all(|o| o.changed())));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap_or_else(|e| panic!("{e}"));
    }
}

fn bench_store<S: CodeStore + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &Runtime,
    id: &str,
    store: S,
) {
    let store = Arc::new(store);
    let rounds = responses();
    let mut n = 0_usize;
    group.bench_function(id, |b| {
        b.iter(|| {
            n += 1;
            runtime.block_on(ingest_round(&store, &rounds[n % 2]));
        });
    });
}

fn ingest(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(RESPONSES as u64));
    group.sample_size(10);
    group.measurement_time(core::time::Duration::from_secs(5));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sqlite = runtime
        .block_on(SqliteStore::open(
            dir.path().join("bench.sqlite3"),
            protection(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    bench_store(&mut group, &runtime, "sqlite", sqlite);

    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: no PostgreSQL ingest figure");
    } else {
        let server =
            alb_test_support::TempPostgres::start_durable().unwrap_or_else(|e| panic!("{e}"));
        let postgres = runtime
            .block_on(async {
                let url = server
                    .create_database("bench")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                PostgresStore::connect(&url, protection()).await
            })
            .unwrap_or_else(|e| panic!("{e}"));
        bench_store(&mut group, &runtime, "postgres", postgres);
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
