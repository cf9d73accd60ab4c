//! Response parse throughput: one typical `ActivationLockBypassCode` response per iteration,
//! as an XML and as a binary property list.
//!
//! `cargo xtask bench` prints each as `parse <format>: <n> responses/s`.

use core::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mdm_protocol::{
    BypassCode, CommandResponse, Identity, Limits, RequestType, ResponsePayload, Status,
};

/// What a supervised iPad answers: envelope, identity and the code.
fn typical_response() -> CommandResponse {
    let code: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3"
        .parse()
        .unwrap_or_else(|_| BypassCode::from_bytes([0x5a; 16]));
    CommandResponse {
        identity: Identity {
            udid: Some("00008101-001A2B3C4D5E6F70".into()),
            ..Identity::default()
        },
        payload: ResponsePayload::ActivationLockBypassCode { code: Some(code) },
        ..CommandResponse::new(
            Some("3F1C9A52-7B1E-4E0D-8C55-0A9D2B6E4F11".into()),
            Status::Acknowledged,
        )
    }
}

fn parse(c: &mut Criterion) {
    let response = typical_response();
    let inputs = [
        ("xml", response.to_xml().unwrap_or_default()),
        ("binary", response.to_binary().unwrap_or_default()),
    ];
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    for (id, bytes) in &inputs {
        // The benchmark measures a successful parse, never an error path.
        let parsed = CommandResponse::parse_for(
            bytes,
            RequestType::ActivationLockBypassCode,
            &Limits::DEFAULT,
        );
        assert!(parsed.is_ok_and(|p| p == response), "{id} does not parse");
        group.bench_function(*id, |b| {
            b.iter(|| {
                CommandResponse::parse_for(
                    black_box(bytes),
                    RequestType::ActivationLockBypassCode,
                    &Limits::DEFAULT,
                )
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(core::time::Duration::from_secs(1))
        .measurement_time(core::time::Duration::from_secs(3));
    targets = parse
}
criterion_main!(benches);
