//! Untrusted text made fit for a message: shortened, escaped.

/// How many characters of input text a message shows.
pub(crate) const SHOWN: usize = 64;

/// At most [`SHOWN`] characters of `text`, escaped ([`printable::Escaped`]), `…` when cut.
pub(crate) fn shown(text: &str) -> String {
    shown_up_to(text, SHOWN)
}

/// At most `limit` characters of `text`, escaped, `…` when cut.
pub(crate) fn shown_up_to(text: &str, limit: usize) -> String {
    let cut = text
        .char_indices()
        .nth(limit)
        .and_then(|(at, _)| text.get(..at))
        .unwrap_or(text);
    let mut out = printable::Escaped(cut).to_string();
    if cut.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_and_escapes() {
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown_up_to("ééé", 2), "éé…");
        assert_eq!(shown_up_to("ab", 2), "ab");
    }
}
