//! Response parse throughput, one response per iteration, as an XML and as a binary property
//! list:
//! - `xml`, `binary`: a typical `ActivationLockBypassCode` response (the hand-written view);
//! - `device-information-*`: a large `DeviceInformation` response, every `QueryResponses` key
//!   of the schema present (87 keys, 11.7 KB as XML, 6.3 KB binary), every key typed
//!   (`parse_schema`);
//! - `profile-list-*`: a `ProfileList` response of 20 profiles with every key of the schema
//!   (55 KB as XML, 18 KB binary).
//!
//! `cargo xtask bench` prints each as `parse <id>: <n> responses/s`.

use core::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mdm_protocol::{
    BypassCode, CommandResponse, CommandType, Identity, Limits, RequestType, ResponsePayload,
    Status,
    plist::Value,
    sample::{Sampler, Seeded},
    schema::Kind,
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
    for (name, command_type, value) in [
        (
            "device-information",
            CommandType::DeviceInformation,
            large_device_information(),
        ),
        ("profile-list", CommandType::ProfileList, profile_list(20)),
    ] {
        for (format, bytes) in encodings(&value) {
            let id = format!("{name}-{format}");
            let parsed = CommandResponse::parse_schema(&bytes, command_type, &Limits::DEFAULT);
            assert!(
                parsed.is_ok_and(|p| p.to_value() == value),
                "{id} does not parse back to itself"
            );
            group.bench_function(&id, |b| {
                b.iter(|| {
                    CommandResponse::parse_schema(black_box(&bytes), command_type, &Limits::DEFAULT)
                });
            });
        }
    }
    group.finish();
}

fn encodings(value: &Value) -> [(&'static str, Vec<u8>); 2] {
    let mut xml = Vec::new();
    let mut binary = Vec::new();
    let written = value
        .to_writer_xml(&mut xml)
        .and_then(|()| value.to_writer_binary(&mut binary));
    assert!(written.is_ok(), "the sample writes");
    [("xml", xml), ("binary", binary)]
}

/// A sampler for large, fixed messages: every optional key, no unknown keys.
fn full_sampler() -> Sampler<Seeded> {
    let mut sampler = Sampler::new(Seeded(2026));
    sampler.full = true;
    sampler.unknown_keys = false;
    sampler.unlisted_values = false;
    sampler
}

/// A `DeviceInformation` response with every key of the schema.
fn large_device_information() -> Value {
    full_sampler().response(CommandType::DeviceInformation)
}

/// A `ProfileList` response with `profiles` profiles, every key of the schema.
fn profile_list(profiles: usize) -> Value {
    let mut sampler = full_sampler();
    let mut value = sampler.response(CommandType::ProfileList);
    let spec = CommandType::ProfileList.spec().response_key("ProfileList");
    if let (Some(dict), Some(Kind::Array(item))) = (value.as_dictionary_mut(), spec.map(|s| s.kind))
    {
        let items = (0..profiles).map(|_| sampler.value(item)).collect();
        dict.insert("ProfileList".to_owned(), Value::Array(items));
    }
    value
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
