//! Bounded reads of what the operator hands `alb`: files and standard input are read up to a
//! limit (never to the end of `/dev/zero`), lines up to a length, and every byte that may be a
//! secret stays in zeroizing memory ([`SecretBuffer`]).

use std::{
    fs::File,
    io::{self, Read},
    path::Path,
};

use zeroize::Zeroizing;

use crate::SecretBuffer;

/// The largest store key file (`--key-file`): a key is one line of about 80 bytes.
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;
/// The largest serial-number list (`--serials`): about 300,000 devices.
pub const MAX_SERIAL_LIST_BYTES: usize = 16 * 1024 * 1024;
/// The longest `alb import` line: a record with the largest unlock token is about 9 KiB.
pub const MAX_IMPORT_LINE_BYTES: usize = 64 * 1024;
/// The largest secret file `alb command` reads (`--unlock-token-file`, `--password-file`).
pub const MAX_SECRET_FILE_BYTES: usize = 64 * 1024;

/// Why an input could not be read. Never contains the input's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input could not be opened or read.
    #[error("{source_name}: cannot read: {error}")]
    Read {
        /// What was read, e.g. `key file /etc/alb/store.key` or `standard input`.
        source_name: String,
        /// Why.
        error: io::Error,
    },
    /// The input is larger than its limit; reading stopped there.
    #[error("{source_name}: larger than {limit} bytes")]
    TooLarge {
        /// What was read.
        source_name: String,
        /// The limit.
        limit: usize,
    },
    /// One line is longer than its limit; it was skipped to its end.
    #[error("{source_name}:{line}: longer than {limit} bytes")]
    LineTooLong {
        /// What was read.
        source_name: String,
        /// The line, from 1.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// One line is not UTF-8 text.
    #[error("{source_name}:{line}: not UTF-8 (invalid byte at column {column})")]
    NotUtf8 {
        /// What was read.
        source_name: String,
        /// The line, from 1.
        line: usize,
        /// The first invalid byte, from 1.
        column: usize,
    },
}

impl InputError {
    /// Whether only one line is bad and the lines after it can still be read.
    #[must_use]
    pub const fn is_line_error(&self) -> bool {
        matches!(self, Self::LineTooLong { .. } | Self::NotUtf8 { .. })
    }
}

/// Opens `path`; `source_name` labels errors (`key file PATH`).
///
/// # Errors
/// [`InputError::Read`].
pub fn open(path: &Path, source_name: &str) -> Result<File, InputError> {
    File::open(path).map_err(|error| InputError::Read {
        source_name: source_name.to_owned(),
        error,
    })
}

/// Reads all of `reader`, at most `limit` bytes, into zeroizing memory.
///
/// # Errors
/// [`InputError::TooLarge`] as soon as more than `limit` bytes came; [`InputError::Read`].
pub fn read_all(
    source_name: &str,
    mut reader: impl Read,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let mut buffer = SecretBuffer::default();
    buffer
        .read_from(&mut reader, limit)
        .map_err(|error| InputError::Read {
            source_name: source_name.to_owned(),
            error,
        })?;
    if buffer.len() > limit {
        return Err(InputError::TooLarge {
            source_name: source_name.to_owned(),
            limit,
        });
    }
    Ok(buffer.into_inner())
}

/// Reads the file at `path`, at most `limit` bytes; a regular file larger than that is refused
/// before reading.
///
/// # Errors
/// As [`read_all`].
pub fn read_file(
    path: &Path,
    source_name: &str,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let file = open(path, source_name)?;
    if let Ok(metadata) = file.metadata()
        && metadata.is_file()
        && metadata.len() > u64::try_from(limit).unwrap_or(u64::MAX)
    {
        return Err(InputError::TooLarge {
            source_name: source_name.to_owned(),
            limit,
        });
    }
    read_all(source_name, file, limit)
}

/// The text of `bytes` read from `source_name`, or where it stops being UTF-8 (line and column).
///
/// # Errors
/// [`InputError::NotUtf8`].
pub fn utf8<'a>(source_name: &str, bytes: &'a [u8]) -> Result<&'a str, InputError> {
    core::str::from_utf8(bytes).map_err(|error| {
        let before = bytes.get(..error.valid_up_to()).unwrap_or_default();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        InputError::NotUtf8 {
            source_name: source_name.to_owned(),
            line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
            column: 1 + error.valid_up_to() - line_start,
        }
    })
}

/// One line of text, without its `\n` (a `\r` before it is kept), zeroized when dropped.
#[derive(Debug)]
pub struct Line {
    /// Its number, from 1.
    pub number: usize,
    /// Its text.
    pub text: Zeroizing<String>,
}

/// The lines of a reader, each at most `max_line` bytes: a longer one, or one that is not UTF-8,
/// is an error for that line alone (the next one is read after it). Bytes go through a
/// zeroizing buffer only (no `BufReader`).
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    source_name: String,
    max_line: usize,
    chunk: Zeroizing<Vec<u8>>,
    start: usize,
    end: usize,
    number: usize,
    done: bool,
}

impl<R: Read> Lines<R> {
    /// Reads `reader`'s lines; `source_name` labels errors.
    pub fn new(source_name: impl Into<String>, reader: R, max_line: usize) -> Self {
        Self {
            reader,
            source_name: source_name.into(),
            max_line,
            chunk: Zeroizing::new(vec![0; 8192]),
            start: 0,
            end: 0,
            number: 0,
            done: false,
        }
    }

    /// Refills the chunk; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, InputError> {
        loop {
            match self.reader.read(&mut self.chunk) {
                Ok(0) => return Ok(false),
                Ok(read) => {
                    self.start = 0;
                    self.end = read.min(self.chunk.len());
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(InputError::Read {
                        source_name: self.source_name.clone(),
                        error,
                    });
                }
            }
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = Result<Line, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = SecretBuffer::default();
        let mut too_long = false;
        let mut started = false;
        loop {
            if self.start >= self.end {
                match self.fill() {
                    Ok(true) => {}
                    Ok(false) => {
                        self.done = true;
                        if !started {
                            return None;
                        }
                        break;
                    }
                    Err(error) => {
                        self.done = true;
                        return Some(Err(error));
                    }
                }
            }
            started = true;
            let available = self.chunk.get(self.start..self.end).unwrap_or_default();
            let (piece, ends_line) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (available.get(..at).unwrap_or_default(), true),
                None => (available, false),
            };
            self.start += piece.len() + usize::from(ends_line);
            if !too_long {
                if line.len().saturating_add(piece.len()) > self.max_line {
                    too_long = true;
                    line.clear();
                } else {
                    line.extend_from_slice(piece);
                }
            }
            if ends_line {
                break;
            }
        }
        self.number += 1;
        if too_long {
            return Some(Err(InputError::LineTooLong {
                source_name: self.source_name.clone(),
                line: self.number,
                limit: self.max_line,
            }));
        }
        let bytes = line.into_inner();
        Some(match core::str::from_utf8(&bytes) {
            Ok(text) => Ok(Line {
                number: self.number,
                text: Zeroizing::new(text.to_owned()),
            }),
            Err(error) => Err(InputError::NotUtf8 {
                source_name: self.source_name.clone(),
                line: self.number,
                column: error.valid_up_to() + 1,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Result<(usize, String), String>> {
        Lines::new("in", input, max)
            .map(|line| {
                line.map(|l| (l.number, l.text.as_str().to_owned()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn lines_are_numbered_and_bad_ones_do_not_stop_the_rest() {
        assert_eq!(lines(b"", 8), []);
        assert_eq!(lines(b"a\n", 8), [Ok((1, "a".into()))]);
        assert_eq!(
            lines(b"a\n\nb", 8),
            [
                Ok((1, "a".into())),
                Ok((2, String::new())),
                Ok((3, "b".into()))
            ]
        );
        assert_eq!(
            lines(b"ok\n123456789\nok\xff\xfe\nc\r\n", 8),
            [
                Ok((1, "ok".into())),
                Err("in:2: longer than 8 bytes".into()),
                Err("in:3: not UTF-8 (invalid byte at column 3)".into()),
                Ok((4, "c\r".into())),
            ]
        );
        assert_eq!(lines(b"12345678\n", 8), [Ok((1, "12345678".into()))]);
    }

    #[test]
    fn a_long_line_across_many_chunks_is_skipped_in_bounded_memory() {
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b"\nafter\n");
        assert_eq!(
            lines(&input, 1000),
            [
                Err("in:1: longer than 1000 bytes".into()),
                Ok((2, "after".into()))
            ]
        );
    }

    #[test]
    fn read_all_stops_past_the_limit() {
        let zeros = io::repeat(0);
        let error = read_all("zeros", zeros, 1000).unwrap_err();
        assert_eq!(error.to_string(), "zeros: larger than 1000 bytes");
        assert_eq!(read_all("x", &b"abc"[..], 3).unwrap().as_slice(), b"abc");
        assert!(read_all("x", &b"abcd"[..], 3).is_err());
    }

    #[test]
    fn utf8_errors_name_line_and_column() {
        assert_eq!(utf8("f", b"ab\ncd").unwrap(), "ab\ncd");
        assert_eq!(
            utf8("f", b"ab\nc\xffd").unwrap_err().to_string(),
            "f:2: not UTF-8 (invalid byte at column 2)"
        );
    }
}
