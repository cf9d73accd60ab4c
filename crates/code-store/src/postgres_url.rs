//! A `postgres://` store URL read into what `tokio-postgres` connects with, and how the
//! connection is protected.
//!
//! `tokio-postgres` parses the URL (user information, hosts `h1,h2`, `?host=`, `?hostaddr=`,
//! `?password=`...), so the hosts checked here are exactly the ones it will contact. This module
//! takes out the TLS parameters first, which `tokio-postgres` does not understand as libpq does:
//!
//! | `sslmode` | what happens |
//! |---|---|
//! | `verify-full` | TLS (rustls), the certificate chains to `sslrootcert=PATH` (PEM) or, without it or with `sslrootcert=system`, to the Mozilla roots, and names the host |
//! | `disable` | plain text, to any host: the operator asked for it |
//! | absent | plain text, only when every host is loopback (`localhost`, `127.0.0.0/8`, `::1`) or a Unix socket; otherwise [`StoreError::PlainTextToRemoteHost`] before anything is contacted |
//! | `require`, `verify-ca`, `prefer`, `allow` | refused: each lets someone else pose as the server (no check, a check of the issuer only, or a silent fall back to plain text) |
//!
//! Without any host, the Unix sockets in `/run/postgresql`, `/var/run/postgresql` and `/tmp` are
//! tried, as before.

use alloc::{borrow::ToOwned, format, string::String, vec::Vec};
use core::{net::IpAddr, str::FromStr};
use std::path::PathBuf;

use tokio_postgres::config::{Config, Host, SslMode};

use crate::{StoreError, redact_url};

/// The directories holding the server's Unix socket when the URL names no host.
pub(crate) const DEFAULT_SOCKET_DIRS: [&str; 3] =
    ["/run/postgresql", "/var/run/postgresql", "/tmp"];

/// How the connection to the server is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// No TLS: loopback and Unix sockets, or `sslmode=disable`.
    Plain,
    /// TLS, verifying the server's certificate and name.
    Verified {
        /// The PEM file of the trusted roots, else the Mozilla roots.
        root_cert: Option<PathBuf>,
    },
}

/// A store URL, read.
#[derive(Debug)]
pub(crate) struct StoreUrl {
    /// What `tokio-postgres` connects with (its `Debug` hides the password).
    pub config: Config,
    /// How the connection is protected; `config`'s `sslmode` agrees.
    pub transport: Transport,
    /// The URL with any password hidden, for messages.
    pub redacted: String,
}

impl StoreUrl {
    /// Reads `url` (`postgres://` or `postgresql://`), deciding how it is protected.
    ///
    /// # Errors
    /// [`StoreError::Url`] for a URL `tokio-postgres` does not accept, an `sslmode` that does not
    /// verify the server, or `sslrootcert` without `sslmode=verify-full`;
    /// [`StoreError::PlainTextToRemoteHost`] for plain text to a host that is not loopback.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let redacted = redact_url(url);
        let error = |reason: String| StoreError::Url {
            url: redacted.clone(),
            reason,
        };
        let (scheme, rest) = ["postgres://", "postgresql://"]
            .into_iter()
            .find_map(|scheme| Some((scheme, url.strip_prefix(scheme)?)))
            .ok_or_else(|| {
                error(
                    "expected a postgres:// or postgresql:// URL (libpq key=value strings are \
                     not accepted)"
                        .to_owned(),
                )
            })?;
        let tls = TlsParameters::take(rest).map_err(error)?;
        let mut config = Config::from_str(&format!("{scheme}{}", tls.rest))
            .map_err(|e| error(with_causes(&e)))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            for dir in DEFAULT_SOCKET_DIRS {
                config.host_path(dir);
            }
        }
        let transport = match (tls.mode.as_deref(), tls.root_cert) {
            (Some("verify-full"), root) => Transport::Verified {
                root_cert: root.filter(|r| r != "system").map(PathBuf::from),
            },
            (None | Some("disable"), Some(_)) => {
                return Err(error("sslrootcert needs sslmode=verify-full".to_owned()));
            }
            (Some("disable"), None) => Transport::Plain,
            (None, None) => match first_remote(&config) {
                Some(host) => {
                    return Err(StoreError::PlainTextToRemoteHost {
                        url: redacted,
                        host,
                    });
                }
                None => Transport::Plain,
            },
            (Some(mode), _) => return Err(error(unverified(mode))),
        };
        config.ssl_mode(match transport {
            Transport::Plain => SslMode::Disable,
            Transport::Verified { .. } => SslMode::Require,
        });
        Ok(Self {
            config,
            transport,
            redacted,
        })
    }
}

/// Why an `sslmode` other than `verify-full` and `disable` is refused.
fn unverified(mode: &str) -> String {
    let why = match mode {
        "require" => {
            "sslmode=require encrypts without checking who answers, so anyone on the path \
                      can pose as the server and read the password and every query"
        }
        "verify-ca" => {
            "sslmode=verify-ca checks who issued the certificate but not that it names \
                        the host, so any certificate from that CA can pose as the server"
        }
        "prefer" | "allow" => {
            "sslmode=prefer and sslmode=allow fall back to plain text without \
                               saying so"
        }
        _ => {
            return format!(
                "unknown sslmode {mode:?}: use sslmode=verify-full (with sslrootcert=CA.pem for a \
                 private CA), or sslmode=disable for plain text"
            );
        }
    };
    format!(
        "{why}: use sslmode=verify-full (with sslrootcert=CA.pem for a private CA), or \
         sslmode=disable for plain text on purpose"
    )
}

/// `sslmode` and `sslrootcert`, taken out of a URL's query.
#[derive(Debug)]
struct TlsParameters {
    /// The URL after its scheme, without them.
    rest: String,
    mode: Option<String>,
    root_cert: Option<String>,
}

impl TlsParameters {
    /// Splits the query as `tokio-postgres` does (it starts at the first `?` after the user
    /// information, which ends at the first `@`; a name runs to `=`, a value to `&`), so the
    /// parameters kept mean to it what they meant in `rest`.
    fn take(rest: &str) -> Result<Self, String> {
        let credentials_end = rest.find('@').map_or(0, |at| at + 1);
        let query_start = rest
            .get(credentials_end..)
            .and_then(|after| after.find('?'))
            .map(|at| credentials_end + at);
        let Some((base, query)) =
            query_start.and_then(|at| Some((rest.get(..at)?, rest.get(at + 1..)?)))
        else {
            return Ok(Self {
                rest: rest.to_owned(),
                mode: None,
                root_cert: None,
            });
        };
        let (mut kept, mut mode, mut root_cert) = (Vec::new(), None, None);
        let mut query = query;
        while !query.is_empty() {
            let Some((key, after)) = query.split_once('=') else {
                // `tokio-postgres` says why.
                kept.push(query);
                break;
            };
            let (value, next) = after.split_once('&').unwrap_or((after, ""));
            let slot = match decode(key)?.as_str() {
                "sslmode" => &mut mode,
                "sslrootcert" => &mut root_cert,
                _ => {
                    kept.push(query.get(..key.len() + 1 + value.len()).unwrap_or(query));
                    query = next;
                    continue;
                }
            };
            if slot.replace(decode(value)?).is_some() {
                return Err(format!("{} is given more than once", decode(key)?));
            }
            query = next;
        }
        let mut rest = base.to_owned();
        if !kept.is_empty() {
            rest.push('?');
            rest.push_str(&kept.join("&"));
        }
        Ok(Self {
            rest,
            mode,
            root_cert,
        })
    }
}

/// A percent-decoded query name or value.
fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| "a query parameter is not UTF-8 once percent-decoded".to_owned())
}

/// The first address plain text would go to that is not loopback, if any.
///
/// `tokio-postgres` connects to `hostaddr[i]` when given (the host name then only names the
/// server for TLS), else to `host[i]`. When the two lists do not pair up it refuses to connect;
/// both are checked then.
fn first_remote(config: &Config) -> Option<String> {
    let (hosts, addrs) = (config.get_hosts(), config.get_hostaddrs());
    let addrs_replace_hosts = !addrs.is_empty() && (hosts.is_empty() || hosts.len() == addrs.len());
    let remote_addr = addrs.iter().find(|a| !is_loopback_ip(**a));
    if let Some(addr) = remote_addr {
        return Some(addr.to_string());
    }
    if addrs_replace_hosts {
        return None;
    }
    hosts
        .iter()
        .find(|h| !is_loopback_host(h))
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
}

/// Whether `host` stays on this machine: a Unix socket, `localhost`, or a loopback address.
///
/// Other names are not resolved (a resolver could say anything): `db` in `/etc/hosts` pointing
/// at `127.0.0.1` still needs `sslmode=disable`.
pub(crate) fn is_loopback_host(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(is_loopback_ip)
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

/// `127.0.0.0/8`, `::1`, and IPv4-mapped `::ffff:127.0.0.0/104`.
pub(crate) fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `error: cause: cause...` (`tokio-postgres` puts what is wrong in the causes), with control
/// characters escaped: a cause may quote a parameter name from the URL.
fn with_causes(error: &dyn core::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_default());
            let plain = (!c.is_control()).then_some(c);
            escaped.into_iter().flatten().chain(plain)
        })
        .collect()
}

#[cfg(test)]
mod tests;
