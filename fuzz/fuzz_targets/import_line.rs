//! `alb import` input from arbitrary bytes: `alb`'s bounded line reader, then `code-store`'s
//! export-line parser. Never a panic; lines are numbered 1, 2, … one per `\n` (and a last one
//! without), none holds a newline or exceeds the bound, a bad line is that line's error only;
//! a line that imports exports back to itself.
//!
//! Input layout: the line bound (2 bytes, big-endian, plus 1), then the input.
#![no_main]

use alb_workflow::input::{InputError, Lines};
use code_store::export::RecordJson;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((bound, input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let bound = usize::from(u16::from_be_bytes(*bound)) + 1;
    let mut expected = 1;
    for line in Lines::new("fuzz", input, bound) {
        let number = match &line {
            Ok(line) => line.number,
            Err(InputError::LineTooLong { line, .. } | InputError::NotUtf8 { line, .. }) => *line,
            Err(other) => panic!("reading a slice failed: {other}"),
        };
        assert_eq!(number, expected, "lines are numbered in order");
        expected += 1;
        let Ok(line) = line else {
            continue;
        };
        assert!(!line.text.contains('\n') && line.text.len() <= bound);
        if let Ok(json) = RecordJson::from_line(&line.text)
            && let Ok(record) = json.into_record()
        {
            let again = RecordJson::from_record(&record, true).to_line();
            let back = RecordJson::from_line(&again)
                .and_then(RecordJson::into_record)
                .unwrap_or_else(|e| panic!("an exported record does not import: {e}"));
            assert_eq!(back, record);
        }
    }
    let newlines = input.iter().filter(|&&b| b == b'\n').count();
    let last = usize::from(input.last().is_some_and(|&b| b != b'\n'));
    assert_eq!(
        expected - 1,
        newlines + last,
        "one line per newline, and a last one"
    );
});
