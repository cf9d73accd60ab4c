#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::{borrow::Cow, string::String};
use core::fmt::{self, Write as _};

/// Whether `c` must be escaped before it is printed: see the crate documentation for the rule.
///
/// ```
/// assert!(alb_printable::needs_escape('\u{1b}'));
/// assert!(alb_printable::needs_escape('\u{202e}'));
/// assert!(!alb_printable::needs_escape('\\') && !alb_printable::needs_escape('"'));
/// ```
#[must_use]
pub fn needs_escape(c: char) -> bool {
    match c {
        '\\' | '"' | '\'' => false,
        c if c.is_ascii() => c.is_ascii_control(),
        c => {
            // `str::escape_debug` after a space: std's printable tables, without the
            // start-of-string rule that escapes a leading combining mark.
            let mut buf = [b' '; 5];
            let len = 1 + c.encode_utf8(&mut buf[1..]).len();
            match core::str::from_utf8(buf.get(..len).unwrap_or_default()) {
                Ok(pair) => pair.escape_debug().nth(1) != Some(c),
                Err(_) => true,
            }
        }
    }
}

/// `text` with every character [`needs_escape`] selects written as its Rust escape (`\t`, `\n`,
/// `\u{1b}`); borrowed when nothing needs escaping.
///
/// ```
/// assert_eq!(alb_printable::escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
/// ```
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().any(needs_escape) {
        let mut out = String::with_capacity(text.len() + 8);
        // Writing into a `String` cannot fail.
        let _ = write!(out, "{}", Escaped(text));
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Displays the text it holds escaped as [`escape`] does, without allocating.
///
/// ```
/// use alb_printable::Escaped;
///
/// let key = "Name\u{9b}2J";
/// assert_eq!(format!("{}: duplicate key", Escaped(key)), "Name\\u{9b}2J: duplicate key");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            let (clean, tail) = rest.split_at(at);
            f.write_str(clean)?;
            write!(f, "{}", c.escape_debug())?;
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
        f.write_str(rest)
    }
}
