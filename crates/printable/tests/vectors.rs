//! The rule as a table, and its properties over arbitrary text.

use alb_printable::{Escaped, escape, needs_escape};
use proptest::prelude::*;

/// (input, printed form).
const VECTORS: &[(&str, &str)] = &[
    ("", ""),
    ("00008020-000915083C80012E", "00008020-000915083C80012E"),
    ("Zoë's \"iPad\" C:\\dir", "Zoë's \"iPad\" C:\\dir"),
    ("e\u{301}", "e\u{301}"),
    ("日本語のiPad", "日本語のiPad"),
    ("\u{1b}]0;pwned\u{7}", "\\u{1b}]0;pwned\\u{7}"),
    ("\u{1b}[2J", "\\u{1b}[2J"),
    ("a\tb\nc\rd\0", "a\\tb\\nc\\rd\\0"),
    ("\u{7f}", "\\u{7f}"),
    ("\u{80}\u{85}\u{9b}\u{9f}", "\\u{80}\\u{85}\\u{9b}\\u{9f}"),
    ("abc\u{202e}fed", "abc\\u{202e}fed"),
    (
        "\u{61c}\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}",
        "\\u{61c}\\u{200e}\\u{200f}\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
    ),
    (
        "\u{2066}\u{2067}\u{2068}\u{2069}",
        "\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
    ),
    ("zero\u{200b}width\u{feff}", "zero\\u{200b}width\\u{feff}"),
    ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
    ("private\u{e000}", "private\\u{e000}"),
    ("tag\u{e0001}", "tag\\u{e0001}"),
    ("soft\u{ad}hyphen", "soft\\u{ad}hyphen"),
];

#[test]
fn the_table() {
    for (input, printed) in VECTORS {
        assert_eq!(escape(input), *printed, "{input:?}");
        assert_eq!(Escaped(input).to_string(), *printed, "{input:?}");
    }
}

#[test]
fn clean_text_is_borrowed() {
    assert!(matches!(escape("iPad8,12"), std::borrow::Cow::Borrowed(_)));
    assert!(matches!(escape("a\u{1b}"), std::borrow::Cow::Owned(_)));
}

#[test]
fn every_control_character_is_escaped() {
    for c in (0..=0x1f_u32).chain(0x7f..=0x9f).filter_map(char::from_u32) {
        assert!(needs_escape(c), "{:#x}", u32::from(c));
    }
    for c in (0x20..0x7f_u32).filter_map(char::from_u32) {
        assert!(!needs_escape(c), "{c:?}");
    }
}

proptest! {
    #[test]
    fn no_escaped_character_is_left_and_escaping_is_idempotent(text in "\\PC*|[\\x00-\\x{9f}\\x{2000}-\\x{206f}]*") {
        let once = escape(&text);
        prop_assert!(!once.chars().any(needs_escape));
        prop_assert_eq!(escape(&once), once.clone());
        prop_assert_eq!(Escaped(&text).to_string(), once.into_owned());
    }

}
