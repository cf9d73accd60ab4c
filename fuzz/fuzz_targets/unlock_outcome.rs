//! Outcome classification and bounded body handling from arbitrary status/body pairs.
//!
//! Input layout: status (2 bytes, big-endian), body limit (2 bytes, big-endian, mod 8193),
//! 16 raw bytes of a bypass code, a chunk size (1 byte, 0 = one chunk), then the body, in which
//! every `@@` stands for the code's dashed form (a server echoing the code).
#![no_main]

use escrow_client::{AttemptResult, BodyExcerpt, BypassCode, StatusClass};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 21 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let limit = usize::from(u16::from_be_bytes([data[2], data[3]])) % 8193;
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&data[4..20]);
    let code = BypassCode::from(raw);
    let secret = code.to_string();
    let chunk_size = match data[20] {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let mut body = Vec::with_capacity(data.len());
    let mut rest = &data[21..];
    while let Some(&first) = rest.first() {
        if rest.starts_with(b"@@") {
            body.extend_from_slice(secret.as_bytes());
            rest = &rest[2..];
        } else {
            body.push(first);
            rest = &rest[1..];
        }
    }

    let mut excerpt = BodyExcerpt::new(limit);
    let mut offered = 0usize;
    let mut stopped = false;
    for chunk in body.chunks(chunk_size.min(body.len().max(1))) {
        offered += chunk.len();
        if !excerpt.push(chunk) {
            stopped = true;
            break;
        }
    }
    // Bounded memory and an honest truncation flag.
    assert!(excerpt.as_bytes().len() <= limit);
    assert_eq!(excerpt.is_truncated(), stopped);
    assert_eq!(stopped, offered > limit);
    assert_eq!(excerpt.as_bytes(), &body[..body.len().min(limit)]);

    excerpt.redact(secret.as_bytes());
    // The code never survives redaction, whole or (when cut) as a trailing prefix.
    let kept = excerpt.as_bytes();
    assert!(!kept.windows(secret.len()).any(|w| w == secret.as_bytes()));
    if excerpt.is_truncated() {
        assert!((1..secret.len()).all(|n| !kept.ends_with(&secret.as_bytes()[..n])));
    }
    assert!(kept.len() <= limit + "[redacted]".len());
    let text = excerpt.to_text();
    assert!(!text.chars().any(char::is_control));
    assert!(!text.contains(&secret));

    let result = AttemptResult::from_response(status, excerpt);
    let class = StatusClass::of(status);
    match &result {
        AttemptResult::Response {
            status: s,
            class: c,
            ..
        } => {
            assert_eq!((*s, *c), (status, class));
        }
        other => panic!("a response classified as {other:?}"),
    }
    assert_eq!(result.is_retryable(), class == StatusClass::Retryable);
    assert_eq!(result.status(), Some(status));
    assert_eq!(class == StatusClass::Unlocked, status == 200);
    assert_eq!(class == StatusClass::NotFound, status == 404);
    assert!(!format!("{result:?}").contains(&secret));
    let _ = result.to_string();
});
