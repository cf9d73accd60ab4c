//! The published test vectors (raw bytes, code, escrow key), from `shared/vectors/bypass-codes.txt`.
//! Rows 4-13 are the published vectors of two independent Go implementations.

use bypass_code::{BypassCode, EscrowKey, kdf};

/// `(raw bytes as hex, canonical code, escrow key in upper-case hex)`.
pub const VECTORS: &[(&str, &str, &str)] = &[
    (
        "00000000000000000000000000000000",
        "00000-00000-0000-0000-0000-0000",
        "DEAB860D28DEB5B7121D6D8FCF0F78E1471756D1B2C566C03277C23EA8930B4F",
    ),
    (
        "ffffffffffffffffffffffffffffffff",
        "ZZZZZ-ZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZ7",
        "ED6CFC1588B175D652D1DD6705BA7FEC058B5C76FACDD8FF41285CA0D341BD25",
    ),
    (
        "522f23bdcf104d886760d24e535a676b",
        "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
        "821A819614C0238129F699179285086BC250F95183B8FC0CF2EC8E8A1A3909B6",
    ),
    (
        "1ea841db5edfafe6075b5ae0d845d254",
        "3UM43-PUYVY-QYD1-UVCC-HEHJ-FKA4",
        "6AB40D5EABE7218EC04182F461005600C7E3426BDDD82CDB405BDE9A1E0014B5",
    ),
    (
        "44ebe63375969fec2da67e87e7317946",
        "8LNYD-DVNKU-GYRC-E6GU-3YFD-CT86",
        "C1968CB4C013EA893F1922BB5C39F81E35012C0BD9CE3C01CC2A05873A2499E6",
    ),
    (
        "cb84798c3ca85a674194550a2e96aed8",
        "TF27L-31WN1-E6FH-DMAM-52X5-NFV0",
        "23CF8B7873425FD8EFE31DC5B6AB9C357EB98A2A59C82EA1084CA8AF58CC480A",
    ),
    (
        "89195c9b79178736203bd9d591ea7c0f",
        "J4DNT-6VT2Y-3LD8-1VV7-AT3U-LW17",
        "59B9B3FA9EC4B806612B8B1FE6F12FCC3903156A58BCF4CAE53A8A78DAD563D3",
    ),
    (
        "60110f362c6f7a90dd1ef2845f32482f",
        "D08HY-EJDEX-X91Q-8YYA-25YD-K857",
        "4D19162B50DD61536D72C0662DCE9D533A1F46137D6DB97501CEB171FCBAE7DD",
    ),
    (
        "9653b0f9b495d8fab25e728ff041b0f1",
        "KT9V1-YEMKQ-DGND-KYFA-7Z0H-EHY1",
        "5893831AB50670E96F5D245A4F597C86EEFFD16AAC3EE5BB1C2251AFFB004A33",
    ),
    (
        "0de305a24090fc54b61ed7e9e39569fb",
        "1QJHC-8K0K3-Y59E-HYUZ-MY75-C9Z3",
        "1DB2F16AD21A135B9C2523725E836C0B0528FEC83C195C6ECDF8761FD877889A",
    ),
    (
        "f398ef9199e9f0aefea0e782ab8b61a9",
        "YFDFZ-4DTX7-RAXZ-N0WY-1AQ2-V1N1",
        "7C7715D092A5CFCD16A6037555E11E4FA53EDDA9CDA4D8464D58EF39BA9B5B0F",
    ),
    (
        "bd9e6a463a19ac706d379394bf97747a",
        "QPG6M-JJU36-P70V-9QKF-ACZ5-VMG2",
        "7CDF895759D090EB9D3ED833D0ED7D5D5B00A11A719293F44AA7741FFBE79F6A",
    ),
    (
        "b7608a5fd1fa8500c6095ee152ea4caf",
        "PXH8M-QYJZA-2H1J-H9CV-HN5U-KDN7",
        "6789C28A5A596746AF3E7E4D18FACB19C1161E4053CCCA02A3E65CE838938C0E",
    ),
];

fn raw(hex_bytes: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(hex_bytes, &mut bytes).expect("vector bytes are hex");
    bytes
}

#[test]
fn every_vector_encodes_to_its_code() {
    for &(raw_hex, code, _) in VECTORS {
        assert_eq!(
            BypassCode::from_bytes(raw(raw_hex)).to_string(),
            code,
            "{raw_hex}"
        );
    }
}

#[test]
fn every_vector_decodes_from_its_code_strictly_and_leniently() {
    for &(raw_hex, code, _) in VECTORS {
        let strict: BypassCode = code.parse().unwrap();
        assert_eq!(strict.as_bytes(), &raw(raw_hex), "{code}");
        let typed = code.to_ascii_lowercase().replace('-', " ");
        assert_eq!(
            BypassCode::parse_lenient(&typed).unwrap(),
            strict,
            "{typed}"
        );
    }
}

#[test]
fn every_vector_hashes_to_its_escrow_key_by_every_path() {
    for &(raw_hex, _, key) in VECTORS {
        let code = BypassCode::from_bytes(raw(raw_hex));
        let expected: EscrowKey = key.parse().unwrap();
        assert_eq!(kdf::reference(&code), expected, "reference, {raw_hex}");
        assert_eq!(code.escrow_key(), expected, "escrow_key(), {raw_hex}");
        assert_eq!(
            code.escrow_key().to_string(),
            key,
            "upper-case display, {raw_hex}"
        );
        assert!(code.matches(&expected) && expected.verify(&code));
    }
}

#[test]
fn a_code_does_not_match_another_codes_key() {
    let a = BypassCode::from_bytes(raw(VECTORS[0].0));
    let b_key: EscrowKey = VECTORS[1].2.parse().unwrap();
    assert!(!a.matches(&b_key));
}
