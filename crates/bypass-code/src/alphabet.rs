//! Apple's 32-symbol alphabet, converted in constant time.
//!
//! The alphabet is `0123456789ACDEFGHJKLMNPQRTUVWXYZ` (no `B`, `I`, `O`, `S`). Both directions are
//! written as branch-free arithmetic over the alphabet's ASCII ranges, in the manner of
//! `RustCrypto`'s `base32ct`, so that neither the timing nor the memory access pattern depends on a
//! secret symbol.

#![forbid(unsafe_code)]

/// The 32 symbols in value order.
pub const ALPHABET: &[u8; 32] = b"0123456789ACDEFGHJKLMNPQRTUVWXYZ";

/// `1` when `a >= b`, else `0`, without a branch (both below 2^15).
#[inline(always)]
const fn ge(a: i32, b: i32) -> i32 {
    // `b - a - 1` is negative exactly when `a >= b`; the arithmetic shift spreads its sign bit.
    ((b - a - 1) >> 31) & 1
}

/// Mask of all ones when `lo <= c <= hi`, else zero, without a branch.
#[inline(always)]
const fn in_range(c: i32, lo: i32, hi: i32) -> i32 {
    // Both `lo - 1 - c` and `c - hi - 1` are negative exactly inside the range.
    ((lo - 1 - c) & (c - hi - 1)) >> 31
}

/// The ASCII character of a symbol value (`0..32`; higher bits are ignored).
#[inline]
#[must_use]
// The result is an ASCII code in 48..=90 by construction: the casts cannot truncate.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub const fn encode_symbol(value: u8) -> u8 {
    let v = (value & 31) as i32;
    // The six runs and their offsets: 0-9 (values 0-9, +48), A (10, +55), C-H (11-16, +56),
    // J-N (17-21, +57), P-R (22-24, +58), T-Z (25-31, +59).
    let c = v + 48 + 7 * ge(v, 10) + ge(v, 11) + ge(v, 17) + ge(v, 22) + ge(v, 25);
    c as u8
}

/// The value of an upper-case symbol, or `None` for any other byte.
#[inline]
#[must_use]
// `v` is in -1..=31 and only cast when non-negative: the cast cannot truncate.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub const fn decode_symbol(c: u8) -> Option<u8> {
    let c = c as i32;
    // Start from -1 and add `value + 1` for the one run that matches, if any.
    let mut v = -1;
    v += in_range(c, 48, 57) & (c - 48 + 1);
    v += in_range(c, 65, 65) & (c - 55 + 1);
    v += in_range(c, 67, 72) & (c - 56 + 1);
    v += in_range(c, 74, 78) & (c - 57 + 1);
    v += in_range(c, 80, 82) & (c - 58 + 1);
    v += in_range(c, 84, 90) & (c - 59 + 1);
    if v < 0 { None } else { Some(v as u8) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_the_alphabet_table() {
        for (value, &symbol) in ALPHABET.iter().enumerate() {
            assert_eq!(
                encode_symbol(u8::try_from(value).unwrap()),
                symbol,
                "value {value}"
            );
        }
    }

    #[test]
    fn decode_inverts_encode_and_rejects_everything_else() {
        for byte in 0..=255u8 {
            let expected = ALPHABET
                .iter()
                .position(|&s| s == byte)
                .map(|p| u8::try_from(p).unwrap());
            assert_eq!(decode_symbol(byte), expected, "byte {byte:#04x}");
        }
    }
}
