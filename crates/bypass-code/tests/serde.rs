//! The `serde` feature: codes and escrow keys as their canonical strings.
#![cfg(feature = "serde")]

use bypass_code::{BypassCode, EscrowKey};

#[test]
fn code_and_key_serialize_as_strings_and_parse_strictly() {
    let code: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
    let json = serde_json::to_string(&code).unwrap();
    assert_eq!(json, "\"A8QK7-GFG21-6RHT-V0U9-756P-L7E3\"");
    assert_eq!(serde_json::from_str::<BypassCode>(&json).unwrap(), code);
    let error = serde_json::from_str::<BypassCode>("\"a8qk7-gfg21-6rht-v0u9-756p-l7e3\"")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("invalid symbol 'a' at position 1"),
        "{error}"
    );

    let key = code.escrow_key();
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(
        json,
        "\"821A819614C0238129F699179285086BC250F95183B8FC0CF2EC8E8A1A3909B6\""
    );
    assert_eq!(
        serde_json::from_str::<EscrowKey>(&json.to_lowercase()).unwrap(),
        key
    );
}
