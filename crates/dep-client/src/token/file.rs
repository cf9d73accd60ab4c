//! The token file's outer form: S/MIME (MIME headers, blank line, base64), PEM
//! (`PKCS7` / `CMS`), bare base64 or raw BER/DER. What comes out is the CMS bytes.

use base64ct::{Base64, Encoding as _};

use super::TokenError;

/// The labels a PEM token file may carry.
const PEM_LABELS: [&str; 2] = ["PKCS7", "CMS"];

/// The CMS bytes of a token file, whatever its outer form.
pub(super) fn cms_bytes(input: &[u8]) -> Result<Vec<u8>, TokenError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let trimmed = trim_start(input);
    match trimmed.first() {
        None => {
            return Err(TokenError::NotSmime {
                reason: "the file is empty",
            });
        }
        // A SEQUENCE tag: raw BER or DER (a `.p7m` saved in binary form).
        Some(0x30) => return Ok(trimmed.to_vec()),
        Some(_) => {}
    }
    if trimmed.starts_with(b"-----BEGIN ") {
        return pem_body(trimmed);
    }
    if let Some((headers, body)) = split_headers(trimmed) {
        return smime_body(&headers, body);
    }
    if trimmed
        .iter()
        .all(|&b| is_base64_symbol(b) || b.is_ascii_whitespace())
    {
        return decode_base64(trimmed);
    }
    Err(TokenError::NotSmime {
        reason: "no MIME header block, no PEM markers, not base64 and not DER",
    })
}

fn trim_start(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(input.len());
    input.get(start..).unwrap_or_default()
}

const fn is_base64_symbol(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// One MIME header: name (as written) and value (folded lines joined).
pub(super) type Header = (String, String);

/// Splits `Name: value` lines up to the first blank line from the body. `None` when the
/// text does not open with a header line.
pub(super) fn split_headers(input: &[u8]) -> Option<(Vec<Header>, &[u8])> {
    let mut headers: Vec<Header> = Vec::new();
    let mut rest = input;
    loop {
        // A text that ends inside the header block has no body: not MIME.
        let end = rest.iter().position(|&b| b == b'\n')?;
        let (line, next) = (rest.get(..end)?, rest.get(end + 1..)?);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return (!headers.is_empty()).then_some((headers, next));
        }
        let text = core::str::from_utf8(line).ok()?;
        if text.starts_with([' ', '\t']) {
            // A folded continuation of the previous header.
            let (_, value) = headers.last_mut()?;
            value.push(' ');
            value.push_str(text.trim());
        } else {
            let (name, value) = text.split_once(':')?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return None;
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        rest = next;
    }
}

/// The value of the first header with this name (case-insensitive).
pub(super) fn header<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The media type of a `Content-Type` value, lower case, without parameters.
pub(super) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn smime_body(headers: &[Header], body: &[u8]) -> Result<Vec<u8>, TokenError> {
    if let Some(content_type) = header(headers, "Content-Type") {
        let media = media_type(content_type);
        if media != "application/pkcs7-mime" && media != "application/x-pkcs7-mime" {
            return Err(TokenError::NotSmimeContentType {
                content_type: printable(content_type),
            });
        }
    }
    let encoding = header(headers, "Content-Transfer-Encoding").map(str::to_ascii_lowercase);
    match encoding.as_deref() {
        None | Some("base64") => decode_base64(body),
        Some("binary" | "8bit") => Ok(body.to_vec()),
        Some(other) => Err(TokenError::UnsupportedTransferEncoding {
            encoding: printable(other),
        }),
    }
}

fn pem_body(input: &[u8]) -> Result<Vec<u8>, TokenError> {
    let text = core::str::from_utf8(input).map_err(|_| TokenError::NotSmime {
        reason: "the PEM text is not UTF-8",
    })?;
    let after_begin = text.get("-----BEGIN ".len()..).unwrap_or_default();
    let (label, rest) = after_begin
        .split_once("-----")
        .ok_or(TokenError::NotSmime {
            reason: "the PEM BEGIN line is not closed by `-----`",
        })?;
    if !PEM_LABELS.contains(&label) {
        return Err(TokenError::PemLabel {
            label: printable(label),
        });
    }
    let end = format!("-----END {label}-----");
    let body = rest
        .split_once(end.as_str())
        .map(|(body, _)| body)
        .ok_or(TokenError::NotSmime {
            reason: "the PEM text has no END line matching its BEGIN line",
        })?;
    decode_base64(body.as_bytes())
}

/// Decodes base64 text, ignoring line breaks and other white space.
fn decode_base64(text: &[u8]) -> Result<Vec<u8>, TokenError> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(TokenError::BadBase64 {
            reason: "the body is empty".to_owned(),
        });
    }
    if let Some(offset) = compact.iter().position(|&b| !is_base64_symbol(b)) {
        return Err(TokenError::BadBase64 {
            reason: format!("a character that is not base64 at symbol {offset}"),
        });
    }
    Base64::decode_vec(core::str::from_utf8(&compact).unwrap_or_default()).map_err(|error| {
        TokenError::BadBase64 {
            reason: error.to_string(),
        }
    })
}

/// At most 64 characters of untrusted text, control characters escaped.
pub(super) fn printable(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == 64 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_and_stop_at_the_blank_line() {
        let (headers, body) =
            split_headers(b"Content-Type: a;\r\n b=c\r\nX-Y: z\r\n\r\nBODY").unwrap();
        assert_eq!(header(&headers, "content-type"), Some("a; b=c"));
        assert_eq!(header(&headers, "x-y"), Some("z"));
        assert_eq!(body, b"BODY");
        assert!(split_headers(b"MIAGCSqG\n").is_none());
        assert!(split_headers(b"Content-Type: a").is_none());
        assert_eq!(
            media_type(" Application/PKCS7-MIME ; x=y"),
            "application/pkcs7-mime"
        );
    }

    #[test]
    fn every_outer_form_gives_the_same_bytes() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x00];
        let b64 = "MAMCAQA=";
        let smime = format!(
            "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        );
        let pem = format!("-----BEGIN PKCS7-----\n{b64}\n-----END PKCS7-----\n");
        let cms = format!("-----BEGIN CMS-----\n{b64}\n-----END CMS-----\n");
        for input in [
            smime.as_bytes(),
            pem.as_bytes(),
            cms.as_bytes(),
            b64.as_bytes(),
            &der,
        ] {
            assert_eq!(cms_bytes(input).unwrap(), der);
        }
    }

    #[test]
    fn bad_outer_forms_are_named() {
        assert!(matches!(cms_bytes(b""), Err(TokenError::NotSmime { .. })));
        assert!(matches!(
            cms_bytes(b"Content-Type: text/html\n\nMAMCAQA=\n"),
            Err(TokenError::NotSmimeContentType { .. })
        ));
        assert!(matches!(
            cms_bytes(b"Content-Transfer-Encoding: quoted-printable\n\nx\n"),
            Err(TokenError::UnsupportedTransferEncoding { .. })
        ));
        assert!(matches!(
            cms_bytes(b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n"),
            Err(TokenError::PemLabel { .. })
        ));
        assert!(matches!(
            cms_bytes(b"Content-Type: application/pkcs7-mime\n\nMAMC*QA=\n"),
            Err(TokenError::BadBase64 { .. })
        ));
        assert!(matches!(
            cms_bytes(b"Content-Type: application/pkcs7-mime\n\nMAMCAQA\n"),
            Err(TokenError::BadBase64 { .. })
        ));
        assert!(matches!(
            cms_bytes(b"hello, world"),
            Err(TokenError::NotSmime { .. })
        ));
        assert_eq!(printable("a\u{1b}b"), "a\\u{1b}b");
    }
}
