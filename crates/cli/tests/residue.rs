//! The library's secret-bearing buffers go back to the allocator zeroized: every heap block
//! freed while a secret is watched is checked for it (`heap-residue`).
//!
//! The watch sees every thread: each test watches its own secret, so what another test frees
//! while building its input is never counted here.

// Test code.
#![allow(clippy::unwrap_used)]

use alb_cli::{CodeReport, write_json_line};
use alb_workflow::{SecretBuffer, input::Lines};
use bypass_code::BypassCode;
use heap_residue::watch;
use serde::Serialize;
use zeroize::Zeroizing;

/// A secret for one test only (40 bytes).
fn secret(test: &str) -> String {
    format!("residue-SECRET-{test:<25}")
}

#[derive(Serialize)]
struct Line<'a> {
    secret: &'a str,
    padding: &'a str,
}

#[test]
fn a_json_line_longer_than_its_first_buffer_leaves_no_copy() {
    let secret = secret("json-line");
    let padding = "p".repeat(5_000);
    // Room for the whole line up front: only the writer's own buffers come and go.
    let mut out = Zeroizing::new(Vec::with_capacity(8_192));
    let watch = watch(secret.as_bytes());
    write_json_line(
        &mut *out,
        &Line {
            secret: &secret,
            padding: &padding,
        },
    )
    .unwrap();
    assert_eq!(
        watch.residues(),
        0,
        "a buffer the line outgrew was freed as it was"
    );
    drop(watch);
    assert!(out.len() > 5_000);
    assert!(out.starts_with(format!("{{\"secret\":\"{secret}\"").as_bytes()));
}

#[test]
fn a_code_report_leaves_no_copy_of_the_code_or_its_escrow_key() {
    let code = BypassCode::from_bytes(*b"residue-code-16b");
    let key = code.escrow_key();
    let mut key_text = Zeroizing::new([0u8; 64]);
    key.encode_upper(&mut key_text);
    let mut code_text = Zeroizing::new([0u8; 31]);
    code.encode(&mut code_text);
    for watched in [&key_text[..], &code_text[..]] {
        let watch = watch(watched);
        let mut out = Zeroizing::new(Vec::with_capacity(1_024));
        for json in [true, false] {
            CodeReport::with_key(&code, &key, true)
                .write(&mut *out, json)
                .unwrap();
        }
        assert!(out.windows(watched.len()).any(|w| w == watched));
        assert_eq!(watch.residues(), 0);
    }
}

#[test]
fn secret_buffers_and_read_lines_leave_no_copy() {
    let secret = secret("buffers-and-lines");
    let mut input = Zeroizing::new(Vec::with_capacity(100_100));
    input.extend_from_slice(secret.as_bytes());
    input.extend_from_slice(&[b'x'; 100_000]);
    input.extend_from_slice(b"\n");
    input.extend_from_slice(secret.as_bytes());
    input.extend_from_slice(b"\n");
    let watch = watch(secret.as_bytes());
    let mut buffer = SecretBuffer::with_capacity(16);
    for chunk in input.chunks(7) {
        buffer.extend_from_slice(chunk);
    }
    assert_eq!(buffer.as_slice(), &input[..]);
    drop(buffer);
    let mut read = SecretBuffer::default();
    read.read_from(&mut &input[..], input.len()).unwrap();
    assert_eq!(read.as_slice(), &input[..]);
    drop(read);
    let lines: Vec<_> = Lines::new("in", &input[..], 200_000)
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 2);
    drop(lines);
    assert_eq!(watch.residues(), 0);
}

#[test]
fn the_watch_sees_a_plain_vec_that_outgrew_its_buffer() {
    // The check can fail: the writer before the fix (a `Zeroizing<Vec>` that reallocates).
    let secret = secret("plain-vec");
    let watch = watch(secret.as_bytes());
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    line.extend_from_slice(secret.as_bytes());
    line.extend_from_slice(&[b'p'; 5_000]);
    drop(line);
    assert!(watch.residues() >= 1);
}
