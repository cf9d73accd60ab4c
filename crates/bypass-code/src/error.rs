//! Errors of the bypass-code and escrow-key parsers.

#![forbid(unsafe_code)]

use core::fmt;

/// Why a string is not a bypass code.
///
/// Every position is the **1-based character position** in the input as given (for the lenient
/// parser: in the untrimmed input), so that a person can find the character they mistyped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeError {
    /// The canonical form has exactly 31 characters.
    Length {
        /// How many characters the input has.
        found: usize,
    },
    /// A dash is required at this position (after the 5th, 10th, 14th, 18th and 22nd symbol).
    DashExpected {
        /// 1-based character position.
        position: usize,
        /// The character found instead.
        found: char,
    },
    /// A dash stands where a symbol is required.
    MisplacedDash {
        /// 1-based character position.
        position: usize,
    },
    /// A character that is not one of the 32 symbols `0-9 A C-H J-N P-R T-Z`.
    InvalidSymbol {
        /// 1-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The 26th symbol carries only 3 bits, so it must be `0`-`7`.
    LastSymbolOutOfRange {
        /// 1-based character position.
        position: usize,
        /// The offending symbol.
        found: char,
    },
    /// Lenient parsing: after removing spaces and dashes, a code has exactly 26 symbols.
    SymbolCount {
        /// How many symbols the input has.
        found: usize,
    },
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Length { found } => write!(
                f,
                "a bypass code has 31 characters (26 symbols and 5 dashes), found {found}"
            ),
            Self::DashExpected { position, found } => {
                write!(f, "expected '-' at position {position}, found {found:?}")
            }
            Self::MisplacedDash { position } => write!(
                f,
                "unexpected '-' at position {position}: dashes go after the 5th, 10th, 14th, 18th and 22nd symbol"
            ),
            Self::InvalidSymbol { position, found } => write!(
                f,
                "invalid symbol {found:?} at position {position}: the alphabet is 0-9 A C-H J-N P-R T-Z"
            ),
            Self::LastSymbolOutOfRange { position, found } => write!(
                f,
                "last symbol {found:?} at position {position} is out of range: it must be 0-7"
            ),
            Self::SymbolCount { found } => {
                write!(f, "a bypass code has 26 symbols, found {found}")
            }
        }
    }
}

impl core::error::Error for CodeError {}

/// Why a string is not an escrow key (64 hexadecimal digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EscrowKeyError {
    /// An escrow key has exactly 64 hexadecimal digits.
    Length {
        /// How many characters the input has.
        found: usize,
    },
    /// A character that is not a hexadecimal digit.
    InvalidDigit {
        /// 1-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
}

impl fmt::Display for EscrowKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Length { found } => write!(
                f,
                "an escrow key has 64 hexadecimal digits, found {found} characters"
            ),
            Self::InvalidDigit { position, found } => write!(
                f,
                "invalid hexadecimal digit {found:?} at position {position}"
            ),
        }
    }
}

impl core::error::Error for EscrowKeyError {}
