//! Differential tests of the escrow-key paths: the SHA-NI loop, the portable loop (the fallback,
//! run explicitly here even on a CPU with SHA-NI) and the `pbkdf2` crate agree on every
//! published vector and on random codes; the batch paths equal one-by-one derivation, in order.

use bypass_code::{BypassCode, EscrowKey, kdf};
use proptest::prelude::*;

/// `(raw bytes, escrow key)` of every row of `shared/vectors/bypass-codes.txt`.
const PUBLISHED: [(&str, &str); 13] = [
    (
        "00000000000000000000000000000000",
        "DEAB860D28DEB5B7121D6D8FCF0F78E1471756D1B2C566C03277C23EA8930B4F",
    ),
    (
        "ffffffffffffffffffffffffffffffff",
        "ED6CFC1588B175D652D1DD6705BA7FEC058B5C76FACDD8FF41285CA0D341BD25",
    ),
    (
        "522f23bdcf104d886760d24e535a676b",
        "821A819614C0238129F699179285086BC250F95183B8FC0CF2EC8E8A1A3909B6",
    ),
    (
        "1ea841db5edfafe6075b5ae0d845d254",
        "6AB40D5EABE7218EC04182F461005600C7E3426BDDD82CDB405BDE9A1E0014B5",
    ),
    (
        "44ebe63375969fec2da67e87e7317946",
        "C1968CB4C013EA893F1922BB5C39F81E35012C0BD9CE3C01CC2A05873A2499E6",
    ),
    (
        "cb84798c3ca85a674194550a2e96aed8",
        "23CF8B7873425FD8EFE31DC5B6AB9C357EB98A2A59C82EA1084CA8AF58CC480A",
    ),
    (
        "89195c9b79178736203bd9d591ea7c0f",
        "59B9B3FA9EC4B806612B8B1FE6F12FCC3903156A58BCF4CAE53A8A78DAD563D3",
    ),
    (
        "60110f362c6f7a90dd1ef2845f32482f",
        "4D19162B50DD61536D72C0662DCE9D533A1F46137D6DB97501CEB171FCBAE7DD",
    ),
    (
        "9653b0f9b495d8fab25e728ff041b0f1",
        "5893831AB50670E96F5D245A4F597C86EEFFD16AAC3EE5BB1C2251AFFB004A33",
    ),
    (
        "0de305a24090fc54b61ed7e9e39569fb",
        "1DB2F16AD21A135B9C2523725E836C0B0528FEC83C195C6ECDF8761FD877889A",
    ),
    (
        "f398ef9199e9f0aefea0e782ab8b61a9",
        "7C7715D092A5CFCD16A6037555E11E4FA53EDDA9CDA4D8464D58EF39BA9B5B0F",
    ),
    (
        "bd9e6a463a19ac706d379394bf97747a",
        "7CDF895759D090EB9D3ED833D0ED7D5D5B00A11A719293F44AA7741FFBE79F6A",
    ),
    (
        "b7608a5fd1fa8500c6095ee152ea4caf",
        "6789C28A5A596746AF3E7E4D18FACB19C1161E4053CCCA02A3E65CE838938C0E",
    ),
];

/// The published codes and their keys.
fn published() -> Result<Vec<(BypassCode, EscrowKey)>, String> {
    PUBLISHED
        .iter()
        .map(|(raw, key)| {
            let mut bytes = [0u8; 16];
            hex::decode_to_slice(raw, &mut bytes).map_err(|e| format!("{raw}: {e}"))?;
            let key = key
                .parse::<EscrowKey>()
                .map_err(|e| format!("{raw}: {e}"))?;
            Ok((BypassCode::from_bytes(bytes), key))
        })
        .collect()
}

/// `n` distinct codes (a counter in the first two bytes of a fixed pattern).
fn codes(n: usize) -> Vec<BypassCode> {
    (0..n)
        .map(|i| {
            let mut bytes = *b"\x9a\x3c\x51\x07\xee\x40\x12\x8d\x7b\x00\xc4\x36\x5f\xa9\x21\x6e";
            let counter = u64::try_from(i).unwrap_or_default();
            bytes[..8].copy_from_slice(&counter.to_be_bytes());
            BypassCode::from_bytes(bytes)
        })
        .collect()
}

/// Keys to overwrite: a value no code hashes to in practice.
fn blank(n: usize) -> Vec<EscrowKey> {
    vec![EscrowKey::from_bytes([0xee; 32]); n]
}

/// Whether this CPU has what the SHA-NI loop needs, by `std`'s own detection (independent of the
/// `cpufeatures` detection the crate uses).
fn cpu_has_sha_ni() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    false
}

#[test]
fn sha_ni_path_is_offered_exactly_when_the_cpu_has_it() {
    let code = BypassCode::from_bytes([0x11; 16]);
    assert_eq!(kdf::sha_ni(&code).is_some(), cpu_has_sha_ni());
}

#[test]
fn every_published_vector_by_every_path() {
    for (code, expected) in published().unwrap() {
        let hex = format!("{:02x?}", code.as_bytes());
        assert_eq!(kdf::reference(&code), expected, "pbkdf2 crate, {hex}");
        assert_eq!(kdf::specialised(&code), expected, "portable loop, {hex}");
        assert_eq!(kdf::escrow_key(&code), expected, "dispatch, {hex}");
        match kdf::sha_ni(&code) {
            Some(key) => assert_eq!(key, expected, "SHA-NI, {hex}"),
            None => assert!(!cpu_has_sha_ni(), "SHA-NI refused on a CPU that has it"),
        }
    }
}

#[test]
fn published_vectors_as_one_batch() {
    let (codes, expected): (Vec<_>, Vec<_>) = published().unwrap().into_iter().unzip();
    let mut keys = blank(codes.len());
    kdf::escrow_keys(&codes, &mut keys).unwrap();
    assert_eq!(keys, expected);
}

#[test]
fn batch_of_every_small_length_and_a_larger_one_equals_one_by_one_in_order() {
    for n in (0..=9).chain([15, 16, 17, 28, 33]) {
        let codes = codes(n);
        let mut keys = blank(n);
        kdf::escrow_keys(&codes, &mut keys).unwrap();
        for (i, (code, key)) in codes.iter().zip(&keys).enumerate() {
            assert_eq!(*key, kdf::escrow_key(code), "batch of {n}, key {i}");
        }
    }
}

#[test]
fn batch_writes_the_key_of_each_code_at_its_position() {
    // The same two codes at irregular positions across a full sixteen-lane group and a tail: a
    // mix-up between lanes or interleaved chains would put a key at the wrong place.
    let a = BypassCode::from_bytes([0xa5; 16]);
    let b = BypassCode::from_bytes([0x5a; 16]);
    let pattern = |i: usize| i % 3 == 1 || i.is_multiple_of(7);
    let codes: Vec<BypassCode> = (0..19)
        .map(|i| if pattern(i) { b.clone() } else { a.clone() })
        .collect();
    let mut keys = blank(codes.len());
    kdf::escrow_keys(&codes, &mut keys).unwrap();
    let (key_a, key_b) = (kdf::reference(&a), kdf::reference(&b));
    for (i, key) in keys.iter().enumerate() {
        let expected = if pattern(i) { &key_b } else { &key_a };
        assert_eq!(key, expected, "position {i}");
    }
}

#[test]
fn batch_refuses_slices_of_different_lengths() {
    let codes = codes(3);
    let mut keys = blank(4);
    let error = kdf::escrow_keys(&codes, &mut keys).unwrap_err();
    assert_eq!(error, kdf::BatchLengthError { codes: 3, keys: 4 });
    assert!(
        keys.iter()
            .all(|key| *key == EscrowKey::from_bytes([0xee; 32]))
    );
}

#[cfg(feature = "std")]
#[test]
fn all_cores_batch_equals_one_by_one_in_order() {
    let cores = std::thread::available_parallelism().map_or(1, core::num::NonZero::get);
    for n in (0..=9).chain([kdf::batch_width() * cores * 2 + 3]) {
        let codes = codes(n);
        let mut keys = blank(n);
        kdf::escrow_keys_parallel(&codes, &mut keys).unwrap();
        for (i, (code, key)) in codes.iter().zip(&keys).enumerate() {
            assert_eq!(
                *key,
                kdf::escrow_key(code),
                "parallel batch of {n}, key {i}"
            );
        }
    }
    let mut short = blank(1);
    assert_eq!(
        kdf::escrow_keys_parallel(&codes(2), &mut short),
        Err(kdf::BatchLengthError { codes: 2, keys: 1 })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_codes_agree_on_every_path(bytes in any::<[u8; 16]>()) {
        let code = BypassCode::from_bytes(bytes);
        let expected = kdf::reference(&code);
        prop_assert_eq!(kdf::specialised(&code), expected.clone());
        prop_assert_eq!(kdf::escrow_key(&code), expected.clone());
        if let Some(key) = kdf::sha_ni(&code) {
            prop_assert_eq!(key, expected);
        }
    }

    #[test]
    fn random_batches_equal_one_by_one(
        codes in proptest::collection::vec(any::<[u8; 16]>(), 0..7)
    ) {
        let codes: Vec<BypassCode> = codes.into_iter().map(BypassCode::from_bytes).collect();
        let mut keys = blank(codes.len());
        kdf::escrow_keys(&codes, &mut keys).unwrap();
        for (code, key) in codes.iter().zip(&keys) {
            prop_assert_eq!(key, &kdf::specialised(code));
        }
    }
}
