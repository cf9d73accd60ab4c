//! One escrow key by each path, the batch paths per key, and the single-chain floor, measured in
//! the same run.
//!
//! `cargo xtask bench` reads the results of the `escrow_key` group and prints each path as
//! `escrow_key <path-name>: <ms> ms/key, <ratio>x floor` (per key: the batch benchmarks declare
//! their number of keys as the throughput).

use core::hint::black_box;
use std::thread;

use bypass_code::{BypassCode, EscrowKey, kdf};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Sha256, block_api::compress256};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// The floor: 100,000 SHA-256 compressions (what 50,000 HMAC iterations cost) in one call.
fn floor(group: &mut Group<'_>) {
    let blocks = vec![[0x5au8; 64]; 100_000];
    group.bench_function("floor", |b| {
        b.iter(|| {
            let mut state = [0u32; 8];
            compress256(&mut state, black_box(&blocks));
            state
        });
    });
}

/// `n` distinct codes.
fn codes(n: usize) -> Vec<BypassCode> {
    (0..n)
        .map(|i| {
            let mut bytes = *b"\x52\x2f\x23\xbd\xcf\x10\x4d\x88\x67\x60\xd2\x4e\x53\x5a\x67\x6b";
            bytes[15] ^= u8::try_from(i % 256).unwrap_or(0);
            BypassCode::from_bytes(bytes)
        })
        .collect()
}

/// Batches: `kdf::batch_width()` keys interleaved on one core, and `LANES` keys per core on every core.
fn batches(group: &mut Group<'_>) {
    let one_core = codes(kdf::batch_width());
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); one_core.len()];
    group.throughput(Throughput::Elements(one_core.len() as u64));
    group.bench_function("batch-1-core", |b| {
        b.iter(|| kdf::escrow_keys(black_box(&one_core), &mut keys));
    });

    let cores = thread::available_parallelism().map_or(1, core::num::NonZero::get);
    let all_cores = codes(kdf::batch_width() * cores);
    let mut keys = vec![EscrowKey::from_bytes([0; 32]); all_cores.len()];
    group.throughput(Throughput::Elements(all_cores.len() as u64));
    group.bench_function("batch-all-cores", |b| {
        b.iter(|| kdf::escrow_keys_parallel(black_box(&all_cores), &mut keys));
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
        b.iter(|| kdf::specialised(black_box(&code)));
    });
    if kdf::sha_ni(&code).is_some() {
        group.bench_function("sha-ni", |b| b.iter(|| kdf::sha_ni(black_box(&code))));
    }
    group.sample_size(10);
    batches(&mut group);
    group.finish();
}

criterion_group!(benches, escrow_key);
criterion_main!(benches);
