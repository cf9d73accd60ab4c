//! [`EscrowKey`]: the 32-byte hash of a bypass code, as Apple's enrollment service takes it.

#![forbid(unsafe_code)]

use core::{fmt, str::FromStr};

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{BypassCode, EscrowKeyError};

/// Number of bytes in an escrow key.
pub const ESCROW_KEY_BYTES: usize = 32;
/// Number of hexadecimal digits in the text form of an escrow key.
pub const ESCROW_KEY_HEX_LEN: usize = 64;

/// The buffer every text form of a key is written into here (`Display`, `{:x}`, `{:X}`,
/// `Serialize`): zeroized when dropped, so formatting leaves no copy of the key on the stack.
type HexBuffer = Zeroizing<[u8; ESCROW_KEY_HEX_LEN]>;

/// The escrow key of a bypass code: `PBKDF2-HMAC-SHA256(code bytes, 4 zero bytes, 50,000, 32)`.
///
/// It is what the server sends Apple when it turns Activation Lock on, so it is treated as
/// sensitive: zeroized on drop, compared in constant time, and redacted from `Debug`.
/// `Display` (and `{:X}`) write 64 upper-case hexadecimal digits, as in Apple's sample; `{:x}` and
/// [`EscrowKey::encode_lower`] write lower case, as the Go peers do. Parsing accepts either case.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EscrowKey {
    bytes: [u8; ESCROW_KEY_BYTES],
}

impl EscrowKey {
    /// An escrow key holding the given hash bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; ESCROW_KEY_BYTES]) -> Self {
        Self { bytes }
    }

    /// The hash bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; ESCROW_KEY_BYTES] {
        &self.bytes
    }

    /// Whether `code` hashes to this key, compared in constant time.
    #[must_use]
    pub fn verify(&self, code: &BypassCode) -> bool {
        code.matches(self)
    }

    /// Writes 64 upper-case hexadecimal digits into `buf`.
    ///
    /// The buffer then holds the key: zeroize it when done (see [`zeroize::Zeroizing`]).
    pub fn encode_upper<'a>(&self, buf: &'a mut [u8; ESCROW_KEY_HEX_LEN]) -> &'a str {
        self.encode_hex(buf, 0)
    }

    /// Writes 64 lower-case hexadecimal digits into `buf`.
    ///
    /// The buffer then holds the key: zeroize it when done (see [`zeroize::Zeroizing`]).
    pub fn encode_lower<'a>(&self, buf: &'a mut [u8; ESCROW_KEY_HEX_LEN]) -> &'a str {
        self.encode_hex(buf, 0x20)
    }

    /// Calls `use_text` with the key's 64 hexadecimal digits (`case` `0` upper, `0x20` lower)
    /// written in a [`HexBuffer`], zeroized when this returns.
    fn with_hex<R>(&self, case: u8, use_text: impl FnOnce(&str) -> R) -> R {
        let mut buf = HexBuffer::new([0; ESCROW_KEY_HEX_LEN]);
        use_text(self.encode_hex(&mut buf, case))
    }

    /// Branch-free hex encoding; `case` is `0` for upper and `0x20` for lower case.
    fn encode_hex<'a>(&self, buf: &'a mut [u8; ESCROW_KEY_HEX_LEN], case: u8) -> &'a str {
        for (pair, byte) in buf.chunks_exact_mut(2).zip(self.bytes) {
            pair[0] = hex_digit(byte >> 4) | (case & letter_mask(byte >> 4));
            pair[1] = hex_digit(byte & 15) | (case & letter_mask(byte & 15));
        }
        match core::str::from_utf8(buf) {
            Ok(s) => s,
            Err(_) => unreachable!("the encoder writes only ASCII"),
        }
    }
}

/// Upper-case digit of a nibble, without a branch.
#[inline(always)]
// The result is an ASCII code in 48..=70 by construction: the cast cannot truncate.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
const fn hex_digit(nibble: u8) -> u8 {
    // 0-9 → '0'-'9' (48+), 10-15 → 'A'-'F' (55+): add 7 when the nibble is 10 or more.
    let n = nibble as i16;
    (n + 48 + (((9 - n) >> 8) & 7)) as u8
}

/// `0xFF` when the nibble is a letter digit (10-15), else `0`.
#[inline(always)]
// Keeps the low byte of a sign-extended mask (0 or -1): truncation is the intent.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
const fn letter_mask(nibble: u8) -> u8 {
    ((9 - nibble as i16) >> 8) as u8
}

/// The value of one hexadecimal digit of either case, without a branch; `None` otherwise.
#[inline(always)]
// `v` is in -1..=15 and only cast when non-negative: the cast cannot truncate.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
const fn hex_value(c: u8) -> Option<u8> {
    let c = c as i16;
    let mut v: i16 = -1;
    v += (((47 - c) & (c - 58)) >> 8) & (c - 48 + 1);
    v += (((64 - c) & (c - 71)) >> 8) & (c - 55 + 1);
    v += (((96 - c) & (c - 103)) >> 8) & (c - 87 + 1);
    if v < 0 { None } else { Some(v as u8) }
}

impl FromStr for EscrowKey {
    type Err = EscrowKeyError;

    /// Exactly 64 hexadecimal digits, upper or lower case.
    fn from_str(input: &str) -> Result<Self, EscrowKeyError> {
        let found = input.chars().count();
        if found != ESCROW_KEY_HEX_LEN {
            return Err(EscrowKeyError::Length { found });
        }
        let mut key = Self::from_bytes([0; ESCROW_KEY_BYTES]);
        // Every character is ASCII here: a multi-byte one would have made the byte and
        // character counts differ, caught by the digit check below.
        for (index, c) in input.chars().enumerate() {
            let byte = if c.is_ascii() { c as u8 } else { 0 };
            let value = hex_value(byte).ok_or(EscrowKeyError::InvalidDigit {
                position: index + 1,
                found: c,
            })?;
            key.bytes[index / 2] |= value << (4 * (1 - index % 2));
        }
        Ok(key)
    }
}

impl From<[u8; ESCROW_KEY_BYTES]> for EscrowKey {
    fn from(bytes: [u8; ESCROW_KEY_BYTES]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl fmt::UpperHex for EscrowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_hex(0, |text| f.write_str(text))
    }
}

impl fmt::LowerHex for EscrowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_hex(0x20, |text| f.write_str(text))
    }
}

impl fmt::Display for EscrowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(self, f)
    }
}

impl fmt::Debug for EscrowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EscrowKey(<redacted>)")
    }
}

impl ConstantTimeEq for EscrowKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for EscrowKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for EscrowKey {}

#[cfg(feature = "serde")]
impl serde::Serialize for EscrowKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_hex(0, |text| serializer.serialize_str(text))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EscrowKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EscrowKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an escrow key as 64 hexadecimal digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EscrowKey, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    const UPPER: &str = "821A819614C0238129F699179285086BC250F95183B8FC0CF2EC8E8A1A3909B6";

    #[test]
    fn hex_digit_tables() {
        for nibble in 0..16u8 {
            let expected = b"0123456789ABCDEF"[usize::from(nibble)];
            assert_eq!(hex_digit(nibble), expected);
            assert_eq!(letter_mask(nibble) != 0, nibble >= 10);
        }
        for byte in 0..=255u8 {
            let expected = (byte as char)
                .to_digit(16)
                .map(|d| u8::try_from(d).unwrap());
            assert_eq!(hex_value(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn both_cases_round_trip() {
        let key: EscrowKey = UPPER.parse().unwrap();
        assert_eq!(format!("{key}"), UPPER);
        assert_eq!(format!("{key:X}"), UPPER);
        assert_eq!(format!("{key:x}"), UPPER.to_ascii_lowercase());
        assert_eq!(
            UPPER.to_ascii_lowercase().parse::<EscrowKey>().unwrap(),
            key
        );
    }

    #[test]
    fn parse_errors_name_position() {
        assert_eq!(
            "abc".parse::<EscrowKey>(),
            Err(EscrowKeyError::Length { found: 3 })
        );
        let mut bad = String::from(UPPER);
        bad.replace_range(9..10, "g");
        assert_eq!(
            bad.parse::<EscrowKey>(),
            Err(EscrowKeyError::InvalidDigit {
                position: 10,
                found: 'g'
            })
        );
        let mut wide = String::from(&UPPER[..63]);
        wide.push('é');
        assert_eq!(
            wide.parse::<EscrowKey>(),
            Err(EscrowKeyError::InvalidDigit {
                position: 64,
                found: 'é'
            })
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key: EscrowKey = UPPER.parse().unwrap();
        assert_eq!(format!("{key:?}"), "EscrowKey(<redacted>)");
    }

    /// What can be tested of stack hygiene: every text form goes through `with_hex`, whose
    /// buffer type zeroizes on drop (a stack frame cannot be inspected after it is gone
    /// without `unsafe`; this pins the type, and the text it hands out).
    #[test]
    fn text_forms_are_written_in_a_buffer_zeroized_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        zeroized_on_drop(&HexBuffer::new([0; ESCROW_KEY_HEX_LEN]));
        let key: EscrowKey = UPPER.parse().unwrap();
        assert_eq!(key.with_hex(0, |t| String::from(t)), UPPER);
        assert_eq!(
            key.with_hex(0x20, |t| String::from(t)),
            UPPER.to_ascii_lowercase()
        );
        let mut buf = Zeroizing::new([0; ESCROW_KEY_HEX_LEN]);
        assert_eq!(key.encode_upper(&mut buf), UPPER);
    }
}
