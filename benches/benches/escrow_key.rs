//! One escrow key by each path, and the single-chain floor, measured in the same run.
//!
//! `cargo xtask bench` reads the results of the `escrow_key` group and prints each path as
//! `escrow_key <path-name>: <ms> ms/key, <ratio>x floor`.

use std::hint::black_box;

use bypass_code::{BypassCode, kdf};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Sha256, block_api::compress256};

/// The floor: 100,000 SHA-256 compressions (what 50,000 HMAC iterations cost) in one call.
fn floor(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let blocks = vec![[0x5au8; 64]; 100_000];
    group.bench_function("floor", |b| {
        b.iter(|| {
            let mut state = [0u32; 8];
            compress256(&mut state, black_box(&blocks));
            state
        });
    });
}

fn escrow_key(c: &mut Criterion) {
    let code = BypassCode::from_bytes(
        *b"\x52\x2f\x23\xbd\xcf\x10\x4d\x88\x67\x60\xd2\x4e\x53\x5a\x67\x6b",
    );
    let mut group = c.benchmark_group("escrow_key");
    group.sample_size(20);
    floor(&mut group);
    group.bench_function("pbkdf2-crate", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(black_box(code.as_bytes()), &[0; 4], 50_000, &mut out);
            out
        });
    });
    group.bench_function("specialised", |b| {
        b.iter(|| kdf::specialised(black_box(&code)))
    });
    group.finish();
}

criterion_group!(benches, escrow_key);
criterion_main!(benches);
