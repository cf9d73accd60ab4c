//! `alb serve`'s webhook intake under load: a load generator posts real `mdm.Connect` results of
//! `ActivationLockBypassCode` commands over HTTP (NanoMDM's JSON), `IN_FLIGHT` at a time on
//! keep-alive connections, each acknowledged only after the group commit that holds it is durable
//! — on SQLite (`synchronous=FULL`) and PostgreSQL (`fsync=on`), as the `ingest` benchmark of the
//! same run does one transaction per response.
//!
//! `cargo xtask bench` prints `serve webhook <backend>: <n> events/s, <ratio>x ingest, p99 <ms>`:
//! the latency percentiles are written by this benchmark next to criterion's results
//! (`latency.json`), over every request of the measurement.

use core::time::Duration;
use std::{sync::Mutex, time::Instant};

use alb_serve::{Access, ApiKeys, Service, ServiceConfig};
use base64::Engine as _;
use code_store::{CodeStore, KeyRing, PostgresStore, Protection, SqliteStore, StoreKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use mdm_protocol::{BypassCode, CommandResponse, Identity, ResponsePayload, Status};
use tokio::{runtime::Runtime, task::JoinSet};

/// Events per iteration (distinct devices), and how many are in flight at once.
const EVENTS: usize = 256;
const IN_FLIGHT: usize = 64;
const KEY: &str = "bench-key-0123456789";

fn protection() -> Protection {
    Protection::encrypted(KeyRing::new(
        StoreKey::new("bench", [7; 32]).unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// Two webhook bodies per device, with different codes: iterations alternate between them.
fn events() -> [Vec<Bytes>; 2] {
    let make = |round: u8| {
        (0..EVENTS)
            .map(|device| {
                let mut raw = [round; 16];
                raw[..8].copy_from_slice(&(device as u64).to_le_bytes());
                let udid = format!("00008101-{device:016X}");
                let response = CommandResponse {
                    identity: Identity {
                        udid: Some(udid.clone()),
                        ..Identity::default()
                    },
                    payload: ResponsePayload::ActivationLockBypassCode {
                        code: Some(BypassCode::from_bytes(raw)),
                    },
                    ..CommandResponse::new(Some(format!("cmd-{device}")), Status::Acknowledged)
                };
                let payload = response.to_xml().unwrap_or_default();
                Bytes::from(
                    serde_json::to_vec(&serde_json::json!({
                        "topic": "mdm.Connect",
                        "event_id": "",
                        "created_at": "2026-12-02T05:00:00.000000001Z",
                        "acknowledge_event": {
                            "udid": udid,
                            "status": "Acknowledged",
                            "command_uuid": format!("cmd-{device}"),
                            "url_params": null,
                            "raw_payload": base64::engine::general_purpose::STANDARD.encode(payload),
                        },
                    }))
                    .unwrap_or_default(),
                )
            })
            .collect()
    };
    [make(1), make(2)]
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// Posts every event of one round, `IN_FLIGHT` at a time; records each latency.
async fn post_round(client: &Client, url: &str, round: &[Bytes], latencies: &Mutex<Vec<Duration>>) {
    let mut tasks = JoinSet::new();
    let per_task = round.len().div_ceil(IN_FLIGHT);
    for chunk in round.chunks(per_task) {
        let client = client.clone();
        let url = url.to_owned();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            let mut mine = Vec::with_capacity(chunk.len());
            for body in chunk {
                let request = hyper::Request::post(&url)
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("content-type", "application/json; charset=utf-8")
                    .body(Full::new(body))
                    .unwrap_or_else(|e| panic!("{e}"));
                let started = Instant::now();
                let response = client
                    .request(request)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let status = response.status();
                let _ = response.into_body().collect().await;
                mine.push(started.elapsed());
                assert_eq!(status, 200, "the service refused an event");
            }
            mine
        });
    }
    while let Some(done) = tasks.join_next().await {
        let mine = done.unwrap_or_else(|e| panic!("{e}"));
        latencies
            .lock()
            .unwrap_or_else(|e| panic!("{e}"))
            .extend(mine);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // The nearest-rank percentile: the smallest value with at least `p` of them at or below it.
    let len = sorted.len();
    let rank = (1..=len)
        .find(|&r| r as f64 >= p * len as f64)
        .unwrap_or(len);
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn bench_store<S: CodeStore + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &Runtime,
    id: &str,
    store: S,
) {
    let keys = ApiKeys::new([(KEY.to_owned(), Access::ReadWrite)]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (url, serving) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}/webhook",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let service: Service<S> = Service::new(store, ServiceConfig::new(keys));
        let serving = tokio::spawn(service.run(listener, None, async {
            let _ = stopped.await;
        }));
        (url, serving)
    });
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(IN_FLIGHT)
            .build_http();
    let rounds = events();
    let latencies = Mutex::new(Vec::new());
    let mut n = 0_usize;
    group.bench_function(id, |b| {
        b.iter(|| {
            n += 1;
            runtime.block_on(post_round(&client, &url, &rounds[n % 2], &latencies));
        });
    });
    let _ = stop.send(());
    let _ = runtime.block_on(serving);
    let mut all = latencies.into_inner().unwrap_or_else(|e| panic!("{e}"));
    all.sort_unstable();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/serve")
        .join(id);
    let _ = std::fs::create_dir_all(&dir);
    let summary = serde_json::json!({
        "requests": all.len(),
        "p50_ms": percentile(&all, 0.50),
        "p99_ms": percentile(&all, 0.99),
        "max_ms": percentile(&all, 1.0),
    });
    let _ = std::fs::write(dir.join("latency.json"), summary.to_string());
}

fn serve(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("serve");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sqlite = runtime
        .block_on(SqliteStore::open(
            dir.path().join("serve.sqlite3"),
            protection(),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    bench_store(&mut group, &runtime, "webhook-sqlite", sqlite);

    if alb_test_support::skip_requested() {
        eprintln!("ALB_SKIP_POSTGRES=1: no PostgreSQL serve figure");
    } else {
        let server =
            alb_test_support::TempPostgres::start_durable().unwrap_or_else(|e| panic!("{e}"));
        let postgres = runtime
            .block_on(async {
                let url = server
                    .create_database("serve")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                PostgresStore::connect(&url, protection()).await
            })
            .unwrap_or_else(|e| panic!("{e}"));
        bench_store(&mut group, &runtime, "webhook-postgres", postgres);
    }
    group.finish();
}

criterion_group!(benches, serve);
criterion_main!(benches);
