//! One JSON object per line: the output form of every `alb ... --json`.

use std::io::{self, Write};

use serde::Serialize;

use alb_workflow::SecretBuffer;

/// The bytes a line starts with room for; longer lines grow through [`SecretBuffer`].
const LINE_CAPACITY: usize = 256;

/// Writes `value` as one JSON object followed by a newline.
///
/// The text is built in a [`SecretBuffer`], zeroized afterwards and whenever it grows, so a line
/// that carries a secret (`--reveal`, a freshly generated code) leaves no copy behind in freed
/// memory, however long it is.
///
/// Strings are safe on a terminal: besides what JSON escapes (`"`, `\`, C0 controls), every
/// character [`printable::needs_escape`] selects (DEL, the C1 controls such as U+009B, the
/// bidirectional overrides, invisible characters) is written as a `\uXXXX` escape. The JSON
/// reads back to the same strings.
///
/// # Errors
/// When `value` cannot be serialised (not the case for the report types of this crate) or
/// writing fails.
pub fn write_json_line(out: &mut (impl Write + ?Sized), value: &impl Serialize) -> io::Result<()> {
    let mut line = SecretBuffer::with_capacity(LINE_CAPACITY);
    let mut serializer = serde_json::Serializer::with_formatter(&mut line, TerminalSafe);
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    line.extend_from_slice(b"\n");
    out.write_all(line.as_slice())
}

/// `serde_json`'s compact format, with non-printing characters escaped as `\uXXXX`.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest
            .char_indices()
            .find(|&(_, c)| printable::needs_escape(c))
        {
            let (clean, tail) = rest.split_at(at);
            writer.write_all(clean.as_bytes())?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = tail.get(c.len_utf8()..).unwrap_or_default();
        }
        writer.write_all(rest.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample<'a> {
        code: &'a str,
        n: u32,
    }

    #[test]
    fn one_object_and_one_newline() {
        let mut out = Vec::new();
        write_json_line(&mut out, &Sample { code: "a\"b", n: 7 }).unwrap();
        write_json_line(&mut out, &Sample { code: "", n: 0 }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"code\":\"a\\\"b\",\"n\":7}\n{\"code\":\"\",\"n\":0}\n"
        );
    }

    #[test]
    fn lines_longer_than_the_first_buffer_are_whole() {
        for len in [0, 200, 255, 256, 257, 1000, 70_000] {
            let code = "x".repeat(len);
            let mut out = Vec::new();
            write_json_line(&mut out, &Sample { code: &code, n: 1 }).unwrap();
            let expected = format!("{{\"code\":\"{code}\",\"n\":1}}\n");
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{len}");
        }
    }

    #[test]
    fn non_printing_characters_are_escaped_and_read_back() {
        let nasty = "\u{1b}]0;t\u{7}\u{7f}\u{9b}2J\u{202e}é\u{e0001}\\\"";
        let mut out = Vec::new();
        write_json_line(&mut out, &Sample { code: nasty, n: 0 }).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.trim_end().chars().any(printable::needs_escape),
            "{text:?}"
        );
        assert!(text.contains("\\u001b") && text.contains("\\u007f") && text.contains("\\u009b"));
        assert!(text.contains("\\u202e") && text.contains("\\udb40\\udc01") && text.contains('é'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["code"], nasty);
    }
}
