//! [`redact_url`]: a store URL with every password form hidden, for messages and `Debug`.
//!
//! The rule mirrors how `tokio-postgres` reads a `postgres://` URL, so that every password it
//! would send is hidden, and errs towards hiding more when the URL is ambiguous:
//!
//! - the user information (`user:password@`) shows the user and hides everything from the first
//!   `:` to the **last** `@` (a password with an unencoded `@` stays hidden);
//! - a query parameter whose name, percent-decoded, contains `password` (any case) has its value
//!   hidden (`?password=`, `&password=`, `?pass%77ord=`, `sslpassword=`);
//! - a URL with an `@` after a `?` (a password holding `?`, or an `@` in a query value) has
//!   no unambiguous structure: everything after the scheme is hidden;
//! - a string without `://` (a libpq `key=value` string) is cut at the first `password`.

use alloc::{borrow::ToOwned, string::String};

/// What stands for a hidden value.
const HIDDEN: &str = "***";

/// `url` with any password replaced by `***`, for messages.
///
/// ```
/// use code_store::redact_url;
///
/// assert_eq!(redact_url("postgres://alb:s3cret@db/alb"), "postgres://alb:***@db/alb");
/// assert_eq!(
///     redact_url("postgres://alb@db/alb?sslmode=verify-full&password=s3cret"),
///     "postgres://alb@db/alb?sslmode=verify-full&password=***"
/// );
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_key_values(url);
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str("://");
    let at = rest.rfind('@');
    if let (Some(at), Some(query)) = (at, rest.find('?'))
        && query < at
    {
        out.push_str(HIDDEN);
        return out;
    }
    let tail = match at.and_then(|at| Some((rest.get(..at)?, rest.get(at + 1..)?))) {
        Some((credentials, tail)) => {
            let (user, has_password) = match credentials.split_once(':') {
                Some((user, _)) => (user, true),
                None => (credentials, false),
            };
            // A `/` means the `@` is not where a user name ends: show nothing of it.
            out.push_str(if user.contains('/') { HIDDEN } else { user });
            if has_password {
                out.push(':');
                out.push_str(HIDDEN);
            }
            out.push('@');
            tail
        }
        None => rest,
    };
    let Some((base, query)) = tail.split_once('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(base);
    out.push('?');
    redact_query(query, &mut out);
    out
}

/// Appends `query` with the values of password parameters hidden, splitting it as
/// `tokio-postgres` does: a name runs to the next `=`, its value to the next `&`.
fn redact_query(mut query: &str, out: &mut String) {
    while !query.is_empty() {
        let Some((key, after)) = query.split_once('=') else {
            out.push_str(query);
            return;
        };
        let (value, next) = match after.split_once('&') {
            Some((value, next)) => (value, Some(next)),
            None => (after, None),
        };
        out.push_str(key);
        out.push('=');
        out.push_str(if names_a_password(key) { HIDDEN } else { value });
        match next {
            Some(next) => {
                out.push('&');
                query = next;
            }
            None => return,
        }
    }
}

/// Whether a (percent-encoded) parameter name names a password.
fn names_a_password(key: &str) -> bool {
    percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .to_ascii_lowercase()
        .contains("password")
}

/// A libpq `key=value` string, cut at the first `password`.
fn redact_key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    match lower.find("password") {
        Some(at) => {
            let mut out = text.get(..at).unwrap_or_default().to_owned();
            out.push_str("password=");
            out.push_str(HIDDEN);
            out
        }
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (URL, redacted form): every form of password in a URL.
    const TABLE: &[(&str, &str)] = &[
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
        ("postgres://u:@h/db", "postgres://u:***@h/db"),
        (
            "postgresql://u:p%40ss@h:5433/db",
            "postgresql://u:***@h:5433/db",
        ),
        ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
        ("postgres://u:p/ss@h/db", "postgres://u:***@h/db"),
        ("postgres://h/db@x", "postgres://***@x"),
        (
            "postgres://u@h/db?password=pw",
            "postgres://u@h/db?password=***",
        ),
        (
            "postgres://u@h/db?sslmode=disable&password=pw&connect_timeout=5",
            "postgres://u@h/db?sslmode=disable&password=***&connect_timeout=5",
        ),
        (
            "postgres://u@h/db?pass%77ord=pw",
            "postgres://u@h/db?pass%77ord=***",
        ),
        (
            "postgres://u@h/db?PASSWORD=pw",
            "postgres://u@h/db?PASSWORD=***",
        ),
        (
            "postgres://u@h/db?password=a%26b%3Dc",
            "postgres://u@h/db?password=***",
        ),
        (
            "postgres://u@h/db?password=a?b&x=1",
            "postgres://u@h/db?password=***&x=1",
        ),
        (
            "postgres://u@h/db?x&password=pw",
            "postgres://u@h/db?x&password=***",
        ),
        ("postgres://u@h/db?password=a@b", "postgres://***"),
        ("postgres://u:p?ss@h/db", "postgres://***"),
        ("postgres://u@h/db?password", "postgres://u@h/db?password"),
        (
            "postgres://u:pw@h/db?host=/run/pg&password=pw2",
            "postgres://u:***@h/db?host=/run/pg&password=***",
        ),
        ("mysql://u:pw@h/db", "mysql://u:***@h/db"),
        ("host=h password=pw dbname=d", "host=h password=***"),
        ("host=h PassWord = 'p w'", "host=h password=***"),
        ("sqlite:/tmp/a.db", "sqlite:/tmp/a.db"),
        ("", ""),
    ];

    #[test]
    fn table() {
        for (url, redacted) in TABLE {
            assert_eq!(redact_url(url), *redacted, "{url}");
        }
    }
}
