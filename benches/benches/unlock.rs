//! The escrow-key unlock request: building it, and whole round trips over loopback mutual TLS
//! (a kept connection, and a fresh client with a full handshake each time).

use alb_test_support::{RecordingServer, Reply, TestPki};
use core::{hint::black_box, time::Duration};

use bypass_code::BypassCode;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use escrow_client::{EscrowClient, EscrowConfig, Identity, RetryPolicy, TrustRoots, UnlockRequest};

fn request() -> UnlockRequest {
    UnlockRequest::builder()
        .serial("DMPXK0ABCD12")
        .product_type("iPhone10,3")
        .imei("490154203237518")
        .org_name("Example & Sons, Ltd.")
        .guid("j.doe+mdm@example.com")
        .build()
        .unwrap_or_else(|error| panic!("bench request: {error}"))
}

fn unlock(c: &mut Criterion) {
    let mut group = c.benchmark_group("unlock");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    let code = BypassCode::from_bytes([0x52; 16]);
    let request = request();

    group.bench_function("request_encode", |b| {
        b.iter(|| {
            (
                black_box(&request).query(),
                request.form_body(black_box(&code)),
            )
        });
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("runtime: {error}"));
    let pki = TestPki::new();
    let server = runtime
        .block_on(RecordingServer::start(&pki, []))
        .unwrap_or_else(|error| panic!("server: {error}"));
    server.set_after_script(Reply::status(200));
    let identity = Identity::from_pem(pki.client.identity_pem().as_bytes())
        .unwrap_or_else(|error| panic!("identity: {error}"));
    let config = EscrowConfig {
        endpoint: server
            .url()
            .parse()
            .unwrap_or_else(|error| panic!("endpoint: {error}")),
        roots: TrustRoots::from_pem(pki.server_ca.cert_pem.as_bytes())
            .unwrap_or_else(|error| panic!("roots: {error}")),
        retry: RetryPolicy::no_retry(),
        ..EscrowConfig::default()
    };
    let client = EscrowClient::new(config.clone(), &identity)
        .unwrap_or_else(|error| panic!("client: {error}"));

    group.bench_function("round_trip_kept_connection", |b| {
        b.iter(|| {
            let outcome = runtime.block_on(client.unlock(&request, &code));
            assert!(outcome.is_unlocked());
        });
    });
    group.bench_function("round_trip_new_handshake", |b| {
        b.iter(|| {
            let fresh = EscrowClient::new(config.clone(), &identity)
                .unwrap_or_else(|error| panic!("client: {error}"));
            let outcome = runtime.block_on(fresh.unlock(&request, &code));
            assert!(outcome.is_unlocked());
        });
    });
    group.finish();
}

criterion_group!(benches, unlock);
criterion_main!(benches);
