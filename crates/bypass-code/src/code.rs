//! [`BypassCode`]: the 16 secret bytes and their canonical 31-character form.

#![forbid(unsafe_code)]

use core::{fmt, str::FromStr};

use rand_core::{CryptoRng, TryCryptoRng};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{
    CodeError, EscrowKey,
    alphabet::{decode_symbol, encode_symbol},
};

/// Number of raw bytes in a bypass code.
pub const CODE_BYTES: usize = 16;
/// Number of symbols in a bypass code (25 of 5 bits and a last one of 3 bits).
pub const SYMBOLS: usize = 26;
/// Length of the canonical form: 26 symbols and 5 dashes.
pub const ENCODED_LEN: usize = 31;
/// 0-based character indices of the dashes in the canonical form (groups 5-5-4-4-4-4).
pub const DASH_INDICES: [usize; 5] = [5, 11, 16, 21, 26];

/// An Activation Lock bypass code: 128 secret bits.
///
/// The secret is zeroized when the value is dropped, compared in constant time, and never shown by
/// `Debug`. `Display` (and [`BypassCode::encode`]) write the canonical form, e.g.
/// `A8QK7-GFG21-6RHT-V0U9-756P-L7E3`; [`FromStr`] accepts only that form, and
/// [`BypassCode::parse_lenient`] accepts what people type.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct BypassCode {
    bytes: [u8; CODE_BYTES],
}

impl BypassCode {
    /// A code holding the given raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; CODE_BYTES]) -> Self {
        Self { bytes }
    }

    /// A fresh code from the caller's cryptographically secure generator.
    #[must_use]
    pub fn from_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut code = Self::from_bytes([0; CODE_BYTES]);
        rng.fill_bytes(&mut code.bytes);
        code
    }

    /// A fresh code from a fallible cryptographically secure generator.
    ///
    /// # Errors
    /// The generator's own error when it cannot produce bytes.
    pub fn try_from_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, R::Error> {
        let mut code = Self::from_bytes([0; CODE_BYTES]);
        rng.try_fill_bytes(&mut code.bytes)?;
        Ok(code)
    }

    /// A fresh code from the operating system's CSPRNG.
    ///
    /// # Errors
    /// When the operating system cannot provide random bytes.
    #[cfg(feature = "getrandom")]
    pub fn generate() -> Result<Self, getrandom::Error> {
        Self::try_from_rng(&mut getrandom::SysRng)
    }

    /// The raw secret bytes (the PBKDF2 password).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; CODE_BYTES] {
        &self.bytes
    }

    /// The escrow key of this code: PBKDF2-HMAC-SHA256 of the raw bytes, 4 zero bytes of salt,
    /// 50,000 iterations, 32 bytes.
    #[must_use]
    pub fn escrow_key(&self) -> EscrowKey {
        crate::kdf::escrow_key(self)
    }

    /// Whether this code hashes to `key`, compared in constant time.
    #[must_use]
    pub fn matches(&self, key: &EscrowKey) -> bool {
        bool::from(self.escrow_key().ct_eq(key))
    }

    /// Writes the canonical 31-character form into `buf` and returns it as a string.
    ///
    /// The buffer then holds the secret: zeroize it when done (see [`zeroize::Zeroizing`]).
    pub fn encode<'a>(&self, buf: &'a mut [u8; ENCODED_LEN]) -> &'a str {
        let n = u128::from_be_bytes(self.bytes);
        let mut out = 0;
        for symbol in 0..SYMBOLS {
            if DASH_INDICES.contains(&out) {
                buf[out] = b'-';
                out += 1;
            }
            let value = if symbol + 1 == SYMBOLS {
                (n & 7) as u8
            } else {
                ((n >> (123 - 5 * symbol)) & 31) as u8
            };
            buf[out] = encode_symbol(value);
            out += 1;
        }
        match core::str::from_utf8(buf) {
            Ok(s) => s,
            // Every byte written above is ASCII.
            Err(_) => unreachable!("the encoder writes only ASCII"),
        }
    }

    /// Parses what a person typed: surrounding white space, spaces and dashes anywhere, and lower
    /// case are accepted, and the look-alikes `O`→`0`, `I`→`1`, `S`→`5`, `B`→`8` are mapped. The
    /// result must still be exactly 26 symbols with a last symbol of `0`-`7`.
    ///
    /// # Errors
    /// [`CodeError::SymbolCount`], [`CodeError::InvalidSymbol`] or
    /// [`CodeError::LastSymbolOutOfRange`], with positions in the untrimmed input.
    pub fn parse_lenient(input: &str) -> Result<Self, CodeError> {
        let mut values = Zeroizing::new([0u8; SYMBOLS]);
        let mut count = 0;
        let mut last_position = 0;
        let mut last_char = '0';
        let leading = input.chars().take_while(|c| c.is_whitespace()).count();
        for (offset, c) in input.trim().chars().enumerate() {
            let position = leading + offset + 1;
            if c == ' ' || c == '-' {
                continue;
            }
            let mapped = match c.to_ascii_uppercase() {
                'O' => b'0',
                'I' => b'1',
                'S' => b'5',
                'B' => b'8',
                other if other.is_ascii() => other as u8,
                _ => 0,
            };
            let value =
                decode_symbol(mapped).ok_or(CodeError::InvalidSymbol { position, found: c })?;
            if count < SYMBOLS {
                values[count] = value;
            }
            count += 1;
            last_position = position;
            last_char = c;
        }
        if count != SYMBOLS {
            return Err(CodeError::SymbolCount { found: count });
        }
        if values[SYMBOLS - 1] > 7 {
            return Err(CodeError::LastSymbolOutOfRange {
                position: last_position,
                found: last_char,
            });
        }
        Ok(Self::from_values(&values))
    }

    /// Assembles the 128 bits from 26 checked symbol values.
    fn from_values(values: &[u8; SYMBOLS]) -> Self {
        let mut n = Zeroizing::new(0u128);
        for &value in &values[..SYMBOLS - 1] {
            *n = (*n << 5) | u128::from(value);
        }
        *n = (*n << 3) | u128::from(values[SYMBOLS - 1]);
        Self::from_bytes(n.to_be_bytes())
    }
}

impl FromStr for BypassCode {
    type Err = CodeError;

    /// The strict parser: only the canonical 31-character form.
    fn from_str(input: &str) -> Result<Self, CodeError> {
        let found = input.chars().count();
        if found != ENCODED_LEN {
            return Err(CodeError::Length { found });
        }
        let mut values = Zeroizing::new([0u8; SYMBOLS]);
        let mut symbol = 0;
        for (index, c) in input.chars().enumerate() {
            let position = index + 1;
            if DASH_INDICES.contains(&index) {
                if c != '-' {
                    return Err(CodeError::DashExpected { position, found: c });
                }
                continue;
            }
            if c == '-' {
                return Err(CodeError::MisplacedDash { position });
            }
            let byte = if c.is_ascii() { c as u8 } else { 0 };
            values[symbol] =
                decode_symbol(byte).ok_or(CodeError::InvalidSymbol { position, found: c })?;
            if symbol + 1 == SYMBOLS && values[symbol] > 7 {
                return Err(CodeError::LastSymbolOutOfRange { position, found: c });
            }
            symbol += 1;
        }
        Ok(Self::from_values(&values))
    }
}

impl From<[u8; CODE_BYTES]> for BypassCode {
    fn from(bytes: [u8; CODE_BYTES]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl fmt::Display for BypassCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Zeroizing::new([0u8; ENCODED_LEN]);
        f.write_str(self.encode(&mut buf))
    }
}

impl fmt::Debug for BypassCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BypassCode(<redacted>)")
    }
}

impl ConstantTimeEq for BypassCode {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for BypassCode {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for BypassCode {}

#[cfg(feature = "serde")]
impl serde::Serialize for BypassCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Zeroizing::new([0u8; ENCODED_LEN]);
        serializer.serialize_str(self.encode(&mut buf))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for BypassCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BypassCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a bypass code in its canonical 31-character form")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BypassCode, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";

    fn err(input: &str) -> CodeError {
        input.parse::<BypassCode>().unwrap_err()
    }

    #[test]
    fn strict_errors_name_kind_and_position() {
        assert_eq!(err(""), CodeError::Length { found: 0 });
        assert_eq!(err(&CODE[..30]), CodeError::Length { found: 30 });
        assert_eq!(
            err("A8QK7-GFG21-6RHT-V0U9-756P-L7E3 "),
            CodeError::Length { found: 32 }
        );
        // 31 characters, but the first dash moved one place to the right.
        assert_eq!(
            err("A8QK7G-FG21-6RHT-V0U9-756P-L7E3"),
            CodeError::DashExpected {
                position: 6,
                found: 'G'
            }
        );
        assert_eq!(
            err("A8QK7-GFG21-6RHT-V0U9-756PXL7E3"),
            CodeError::DashExpected {
                position: 27,
                found: 'X'
            }
        );
        assert_eq!(
            err("-8QK7-GFG21-6RHT-V0U9-756P-L7E3"),
            CodeError::MisplacedDash { position: 1 }
        );
        assert_eq!(
            err("A8QK7-GFB21-6RHT-V0U9-756P-L7E3"),
            CodeError::InvalidSymbol {
                position: 9,
                found: 'B'
            }
        );
        assert_eq!(
            err("a8QK7-GFG21-6RHT-V0U9-756P-L7E3"),
            CodeError::InvalidSymbol {
                position: 1,
                found: 'a'
            }
        );
        assert_eq!(
            err("A8QK7-GFG21-6RHT-V0U9-756P-L7Eé"),
            CodeError::InvalidSymbol {
                position: 31,
                found: 'é'
            }
        );
        assert_eq!(
            err("A8QK7-GFG21-6RHT-V0U9-756P-L7E8"),
            CodeError::LastSymbolOutOfRange {
                position: 31,
                found: '8'
            }
        );
    }

    #[test]
    fn lenient_accepts_what_people_type() {
        let canonical: BypassCode = CODE.parse().unwrap();
        for typed in [
            CODE,
            "  a8qk7-gfg21-6rht-v0u9-756p-l7e3\n",
            "A8QK7 GFG21 6RHT V0U9 756P L7E3",
            "A8QK7GFG216RHTV0U9756PL7E3",
            "A8QK7--GFG21-6RHT-VOU9-756P-L7E3",
            "-A8QK7-GFG21-6RHT-V0U9-756P-L7E3-",
        ] {
            assert_eq!(
                BypassCode::parse_lenient(typed).unwrap(),
                canonical,
                "{typed:?}"
            );
        }
        let look_alikes = BypassCode::parse_lenient("B0IS0-00000-0000-0000-0000-000o").unwrap();
        assert_eq!(
            look_alikes,
            "80150-00000-0000-0000-0000-0000".parse().unwrap()
        );
    }

    #[test]
    fn lenient_errors_name_kind_and_position() {
        assert_eq!(
            BypassCode::parse_lenient(""),
            Err(CodeError::SymbolCount { found: 0 })
        );
        assert_eq!(
            BypassCode::parse_lenient("A8QK7-GFG21-6RHT-V0U9-756P-L7E"),
            Err(CodeError::SymbolCount { found: 25 })
        );
        assert_eq!(
            BypassCode::parse_lenient("A8QK7-GFG21-6RHT-V0U9-756P-L7E33"),
            Err(CodeError::SymbolCount { found: 27 })
        );
        assert_eq!(
            BypassCode::parse_lenient("  A8QK7-GFG21-6RHT-V0U9-756P-L7E_"),
            Err(CodeError::InvalidSymbol {
                position: 33,
                found: '_'
            })
        );
        assert_eq!(
            BypassCode::parse_lenient("A8QK7\tGFG21-6RHT-V0U9-756P-L7E3"),
            Err(CodeError::InvalidSymbol {
                position: 6,
                found: '\t'
            })
        );
        assert_eq!(
            BypassCode::parse_lenient("A8QK7-GFG21-6RHT-V0U9-756P-L7E9 "),
            Err(CodeError::LastSymbolOutOfRange {
                position: 31,
                found: '9'
            })
        );
    }

    #[test]
    fn debug_never_shows_the_code() {
        let code: BypassCode = CODE.parse().unwrap();
        let debug = format!("{code:?}");
        assert_eq!(debug, "BypassCode(<redacted>)");
        assert!(!debug.contains("A8QK7"));
    }

    #[test]
    fn equality_is_by_value() {
        let a: BypassCode = CODE.parse().unwrap();
        let b = BypassCode::from_bytes(*a.as_bytes());
        assert_eq!(a, b);
        assert_ne!(a, BypassCode::from_bytes([0; 16]));
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn generated_codes_differ() {
        let a = BypassCode::generate().unwrap();
        let b = BypassCode::generate().unwrap();
        assert_ne!(a, b);
    }
}
