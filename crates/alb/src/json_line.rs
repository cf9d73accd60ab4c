//! One JSON object per line: the output form of every `alb ... --json`.

use std::io::{self, Write};

use serde::Serialize;
use zeroize::Zeroizing;

/// Writes `value` as one JSON object followed by a newline.
///
/// The text is built in a buffer that is zeroized afterwards, so a line that carries a secret
/// (`--reveal`, a freshly generated code) leaves no copy behind in freed memory.
///
/// # Errors
/// When `value` cannot be serialised (not the case for the report types of this crate) or
/// writing fails.
pub fn write_json_line(out: &mut (impl Write + ?Sized), value: &impl Serialize) -> io::Result<()> {
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    serde_json::to_writer(&mut *line, value).map_err(io::Error::from)?;
    line.push(b'\n');
    out.write_all(&line)
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
}
