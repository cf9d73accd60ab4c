//! OAuth 1.0a (RFC 5849) as the device enrollment service takes it: HMAC-SHA1 over the
//! request, the `Authorization: OAuth realm="ADM", …` header of `GET /session`.
//!
//! The signing key is `pct(consumer_secret)&pct(access_secret)`; the base string is
//! `METHOD&pct(base URI)&pct(sorted, encoded parameters)`; the realm is not signed; every value
//! in the header is percent-encoded inside its quotes.

use core::fmt::Write as _;

use base64ct::{Base64, Encoding as _};
use hmac::{Hmac, KeyInit as _, Mac as _};
use hyper::Uri;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha1::Sha1;
use zeroize::Zeroizing;

use crate::{secret::Secret, token::ServerToken};

/// What RFC 5849 §3.6 leaves unencoded: `A-Z a-z 0-9 - . _ ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The realm Apple's example sends (not signed).
pub const REALM: &str = "ADM";
/// The only signature method the service takes.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";

/// RFC 5849 §3.6 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`, upper-case hex.
#[must_use]
pub fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// The base string URI (RFC 5849 §3.4.1.2): lower-case scheme and host, the port only when
/// it is not the scheme's default, the path (`/` when empty), no query.
#[must_use]
pub fn base_string_uri(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let mut out = format!("{scheme}://{host}");
    if let Some(port) = uri.port_u16()
        && Some(port) != default_port
    {
        let _ = write!(out, ":{port}");
    }
    let path = uri.path();
    out.push_str(if path.is_empty() { "/" } else { path });
    out
}

/// Decodes an `application/x-www-form-urlencoded` query or body into name/value pairs
/// (`+` is a space), as RFC 5849 §3.4.1.3.1 reads them.
#[must_use]
pub fn form_pairs(encoded: &str) -> Vec<(String, String)> {
    encoded
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// The signature base string (RFC 5849 §3.4.1): `METHOD&pct(base URI)&pct(parameters)`, the
/// parameters being the URI's query pairs plus `params` (decoded values), each name and value
/// encoded, sorted by name then value, joined as `name=value` with `&`.
#[must_use]
pub fn signature_base_string(method: &str, uri: &Uri, params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = uri.query().map(form_pairs).unwrap_or_default();
    pairs.extend(
        params
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned())),
    );
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    encoded.sort();
    let normalized = encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(&base_string_uri(uri)),
        percent_encode(&normalized)
    )
}

/// HMAC-SHA1 of the base string with key `pct(consumer_secret)&pct(token_secret)`, base64.
#[must_use]
pub fn hmac_sha1_signature(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = Zeroizing::new(format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    ));
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(base_string.as_bytes());
    Base64::encode_string(&mac.finalize().into_bytes())
}

/// A fresh nonce: 16 bytes from the operating system's CSPRNG, as 32 hex digits.
///
/// # Errors
/// The random source failed.
pub fn nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().fold(String::with_capacity(32), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    }))
}

/// The per-request values of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequest<'a> {
    /// The HTTP method (`GET`).
    pub method: &'a str,
    /// The full request URI.
    pub uri: &'a Uri,
    /// `oauth_timestamp`: Unix seconds.
    pub timestamp: u64,
    /// `oauth_nonce`: unique per request.
    pub nonce: &'a str,
    /// The realm to send (not signed); `None` leaves it out.
    pub realm: Option<&'a str>,
}

/// The `Authorization` header value for `request` signed with `token`'s credentials:
/// `OAuth realm="ADM", oauth_consumer_key="…", oauth_token="…",
/// oauth_signature_method="HMAC-SHA1", oauth_timestamp="…", oauth_nonce="…",
/// oauth_version="1.0", oauth_signature="…"`. It holds the access token: a [`Secret`].
#[must_use]
pub fn authorization_header(token: &ServerToken, request: &OAuthRequest<'_>) -> Secret {
    let timestamp = request.timestamp.to_string();
    let params = [
        ("oauth_consumer_key", token.consumer_key()),
        ("oauth_token", token.access_token().expose()),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_nonce", request.nonce),
        ("oauth_version", "1.0"),
    ];
    let base = Zeroizing::new(signature_base_string(request.method, request.uri, &params));
    let signature = hmac_sha1_signature(
        &base,
        token.consumer_secret().expose(),
        token.access_secret().expose(),
    );
    let mut header = Zeroizing::new(String::from("OAuth "));
    let mut first = true;
    let mut field = |name: &str, value: &str| {
        if !first {
            header.push_str(", ");
        }
        first = false;
        let _ = write!(header, "{name}=\"{}\"", percent_encode(value));
    };
    if let Some(realm) = request.realm {
        field("realm", realm);
    }
    for (name, value) in params {
        field(name, value);
    }
    field("oauth_signature", &signature);
    Secret::new(core::mem::take(&mut *header))
}

/// Why an `Authorization` header is not OAuth.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderParseError {
    /// The header does not start with `OAuth `.
    #[error("the Authorization header is not `OAuth …`")]
    NotOAuth,
    /// A parameter is not `name="value"`.
    #[error("the OAuth parameter {index} is not name=\"value\"")]
    BadParameter {
        /// Its position (from 0).
        index: usize,
    },
    /// A parameter appears twice.
    #[error("the OAuth parameter {name} appears twice")]
    Duplicate {
        /// Its name.
        name: String,
    },
}

/// Reads an `OAuth …` header into its parameters, values percent-decoded (what a server does
/// before it verifies the signature).
///
/// # Errors
/// [`HeaderParseError`] naming the parameter.
pub fn parse_authorization(header: &str) -> Result<Vec<(String, String)>, HeaderParseError> {
    let rest = header
        .strip_prefix("OAuth ")
        .ok_or(HeaderParseError::NotOAuth)?;
    let mut params: Vec<(String, String)> = Vec::new();
    for (index, part) in rest.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, quoted) = part
            .split_once('=')
            .ok_or(HeaderParseError::BadParameter { index })?;
        let value = quoted
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or(HeaderParseError::BadParameter { index })?;
        let name = name.trim().to_owned();
        if params.iter().any(|(known, _)| *known == name) {
            return Err(HeaderParseError::Duplicate { name });
        }
        let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
        params.push((name, value));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_per_rfc_5849() {
        assert_eq!(percent_encode("abcABC123-._~"), "abcABC123-._~");
        assert_eq!(percent_encode("a b+c/d=e&f%"), "a%20b%2Bc%2Fd%3De%26f%25");
        assert_eq!(percent_encode("é"), "%C3%A9");
        let uri: Uri = "HTTPS://MdmEnrollment.Apple.com:443/session?x=1"
            .parse()
            .unwrap();
        assert_eq!(
            base_string_uri(&uri),
            "https://mdmenrollment.apple.com/session"
        );
        let uri: Uri = "https://127.0.0.1:8443".parse().unwrap();
        assert_eq!(base_string_uri(&uri), "https://127.0.0.1:8443/");
        let uri: Uri = "http://example.com:80/r%20v".parse().unwrap();
        assert_eq!(base_string_uri(&uri), "http://example.com/r%20v");
    }

    #[test]
    fn parses_what_it_writes() {
        let parsed =
            parse_authorization(r#"OAuth realm="ADM", oauth_nonce="a%2Bb", oauth_x="""#).unwrap();
        assert_eq!(
            parsed,
            [
                ("realm".to_owned(), "ADM".to_owned()),
                ("oauth_nonce".to_owned(), "a+b".to_owned()),
                ("oauth_x".to_owned(), String::new())
            ]
        );
        assert_eq!(
            parse_authorization("Basic x"),
            Err(HeaderParseError::NotOAuth)
        );
        assert!(matches!(
            parse_authorization("OAuth a=b"),
            Err(HeaderParseError::BadParameter { index: 0 })
        ));
        assert!(matches!(
            parse_authorization(r#"OAuth a="1", a="2""#),
            Err(HeaderParseError::Duplicate { .. })
        ));
    }

    #[test]
    fn nonces_are_fresh_hex() {
        let (a, b) = (nonce().unwrap(), nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
