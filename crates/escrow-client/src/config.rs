//! How the client reaches the service: endpoint, trusted roots, time limits, retries.

use core::{fmt, time::Duration};
use std::path::Path;

use hyper::Uri;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, pem::PemObject};

/// Apple's escrow-key unlock endpoint.
pub const DEFAULT_ENDPOINT: &str =
    "https://deviceservices-external.apple.com/deviceservicesworkers/escrowKeyUnlock";

/// The largest CA file [`TrustRoots::from_pem_file`] reads.
pub const MAX_CA_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Why a client configuration is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The endpoint is not a URL.
    #[error("the endpoint is not a valid URL: {reason}")]
    InvalidEndpoint {
        /// What the URL parser reported.
        reason: String,
    },
    /// The endpoint is not `https://`: the request carries a bypass code and must be encrypted.
    #[error(
        "the endpoint must use https:// (got {scheme}://): refusing to send a bypass code unencrypted"
    )]
    InsecureEndpoint {
        /// The scheme given.
        scheme: String,
    },
    /// The endpoint has no host.
    #[error("the endpoint has no host")]
    EndpointWithoutHost,
    /// The endpoint already carries a query or fragment: the request's query is ours to write.
    #[error("the endpoint must not carry a query or fragment")]
    EndpointWithQuery,
    /// The CA file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file is larger than [`MAX_CA_FILE_BYTES`]; reading stopped there.
    #[error("CA file {path} is larger than 4 MiB")]
    CaFileTooLarge {
        /// The file.
        path: String,
    },
    /// The CA PEM holds no usable certificate.
    #[error("the CA PEM holds no usable certificate{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    NoCaCertificate {
        /// What the parser reported, if anything.
        reason: Option<String>,
    },
    /// A retry policy or time limit makes no sense.
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
    /// rustls refused the TLS configuration.
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
}

/// An `https://` URL without query, checked when set.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(Uri);

impl Endpoint {
    /// Parses and checks an endpoint URL: `https://`, a host, no query or fragment.
    ///
    /// # Errors
    /// The [`ConfigError`] naming what is wrong; `http://` is refused here, before any connection.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if url.contains('#') {
            return Err(ConfigError::EndpointWithQuery);
        }
        let uri: Uri = url.parse().map_err(|error: hyper::http::uri::InvalidUri| {
            ConfigError::InvalidEndpoint {
                reason: error.to_string(),
            }
        })?;
        match uri.scheme_str() {
            Some("https") => {}
            Some(other) => {
                return Err(ConfigError::InsecureEndpoint {
                    scheme: other.to_owned(),
                });
            }
            None => {
                return Err(ConfigError::InvalidEndpoint {
                    reason: "no scheme (expected https://)".to_owned(),
                });
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(ConfigError::EndpointWithoutHost);
        }
        if uri.query().is_some() {
            return Err(ConfigError::EndpointWithQuery);
        }
        Ok(Self(uri))
    }

    /// The URL with a query appended.
    pub(crate) fn with_query(&self, query: &str) -> Result<Uri, hyper::http::Error> {
        let path = self.0.path();
        let mut parts = self.0.clone().into_parts();
        parts.path_and_query = Some(format!("{path}?{query}").parse()?);
        Ok(Uri::from_parts(parts)?)
    }

    /// The URL.
    #[must_use]
    pub fn as_uri(&self) -> &Uri {
        &self.0
    }
}

impl core::str::FromStr for Endpoint {
    type Err = ConfigError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Self(Uri::from_static(DEFAULT_ENDPOINT))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.0)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Which certificate authorities the client trusts for the server's certificate.
#[derive(Clone, Default)]
pub enum TrustRoots {
    /// The public web PKI roots (Mozilla's list, from `webpki-roots`): right for Apple.
    #[default]
    WebPki,
    /// Only these CA certificates (a test server, a proxy under your control).
    Custom(Vec<CertificateDer<'static>>),
}

impl TrustRoots {
    /// Trusts only the CA certificates in this PEM text.
    ///
    /// # Errors
    /// Malformed PEM, or no certificate in it.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ConfigError::NoCaCertificate {
                reason: Some(error.to_string()),
            })?;
        if certs.is_empty() {
            return Err(ConfigError::NoCaCertificate { reason: None });
        }
        Ok(Self::Custom(certs))
    }

    /// Trusts only the CA certificates in this PEM file (at most [`MAX_CA_FILE_BYTES`]).
    ///
    /// # Errors
    /// The file cannot be read, or as [`from_pem`](Self::from_pem).
    pub fn from_pem_file(path: &Path) -> Result<Self, ConfigError> {
        let ca_error = |source| ConfigError::CaFile {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(ca_error)?;
        let mut pem = Vec::new();
        let limit = u64::try_from(MAX_CA_FILE_BYTES).unwrap_or(u64::MAX);
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut pem)
            .map_err(ca_error)?;
        if pem.len() > MAX_CA_FILE_BYTES {
            return Err(ConfigError::CaFileTooLarge {
                path: path.display().to_string(),
            });
        }
        Self::from_pem(&pem)
    }

    pub(crate) fn store(&self) -> Result<RootCertStore, ConfigError> {
        match self {
            Self::WebPki => Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            Self::Custom(certs) => {
                let mut store = RootCertStore::empty();
                let (added, _ignored) = store.add_parsable_certificates(certs.iter().cloned());
                if added == 0 {
                    return Err(ConfigError::NoCaCertificate {
                        reason: Some("no certificate could be parsed".to_owned()),
                    });
                }
                Ok(store)
            }
        }
    }
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebPki => f.write_str("WebPki"),
            Self::Custom(certs) => write!(f, "Custom({} certificates)", certs.len()),
        }
    }
}

/// Bounded exponential backoff with jitter, per code.
///
/// Try `n` (from 1) that failed in a retryable way waits `min(initial × 2^(n-1), max)`, halved
/// and then increased by a random fraction of the other half ("equal jitter"), before try `n+1`;
/// at most `max_tries` tries per code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per code, the first included (at least 1).
    pub max_tries: u32,
    /// The wait after the first failed try, before jitter.
    pub initial_backoff: Duration,
    /// The longest wait between tries, before jitter.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// One try per code, no retry.
    #[must_use]
    pub const fn no_retry() -> Self {
        Self {
            max_tries: 1,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The wait after failed try `try_number` (from 1), given a random number for the jitter.
    #[must_use]
    pub fn backoff(&self, try_number: u32, random: u64) -> Duration {
        let exponent = try_number.saturating_sub(1).min(31);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = base / 2;
        let spread = u64::try_from((base - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            random % spread.saturating_add(1)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// Everything the client needs to know but the identity.
#[derive(Debug, Clone)]
pub struct EscrowConfig {
    /// Where to send the request (default: Apple's).
    pub endpoint: Endpoint,
    /// Which CAs to trust for the server (default: public roots).
    pub roots: TrustRoots,
    /// The longest one exchange (connect, TLS, request, bounded body) may take.
    pub attempt_timeout: Duration,
    /// The longest the whole unlock may take, every code, retry and wait included.
    pub deadline: Duration,
    /// Retries of retryable failures, per code.
    pub retry: RetryPolicy,
    /// How many bytes of each response body to keep for diagnostics.
    pub max_body_bytes: usize,
    /// The HTTPS proxy, if any (default: none, every connection direct; the environment's
    /// with [`alb_proxy::ProxyConfig::from_env`]).
    pub proxy: alb_proxy::ProxyConfig,
}

impl Default for EscrowConfig {
    fn default() -> Self {
        Self {
            endpoint: Endpoint::default(),
            roots: TrustRoots::default(),
            attempt_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            max_body_bytes: 4096,
            proxy: alb_proxy::ProxyConfig::none(),
        }
    }
}

impl EscrowConfig {
    /// Checks the settings that can be wrong: at least one try, non-zero time limits.
    ///
    /// # Errors
    /// [`ConfigError::InvalidSetting`] naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.retry.max_tries == 0 {
            return Err(ConfigError::InvalidSetting(
                "retry.max_tries must be at least 1",
            ));
        }
        if self.attempt_timeout.is_zero() {
            return Err(ConfigError::InvalidSetting(
                "attempt_timeout must not be zero",
            ));
        }
        if self.deadline.is_zero() {
            return Err(ConfigError::InvalidSetting("deadline must not be zero"));
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            return Err(ConfigError::InvalidSetting(
                "retry.initial_backoff must not exceed retry.max_backoff",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_must_be_https_without_query() {
        assert!(Endpoint::parse(DEFAULT_ENDPOINT).is_ok());
        assert!(matches!(
            Endpoint::parse("http://127.0.0.1:1/x"),
            Err(ConfigError::InsecureEndpoint { scheme }) if scheme == "http"
        ));
        assert!(matches!(
            Endpoint::parse("https://example.com/x?a=b"),
            Err(ConfigError::EndpointWithQuery)
        ));
        assert!(matches!(
            Endpoint::parse("https://example.com/x#f"),
            Err(ConfigError::EndpointWithQuery)
        ));
        assert!(matches!(
            Endpoint::parse("not a url"),
            Err(ConfigError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            Endpoint::parse("/relative"),
            Err(ConfigError::InvalidEndpoint { .. })
        ));
        let endpoint = Endpoint::parse("https://127.0.0.1:8443/a/b").unwrap();
        assert_eq!(
            endpoint.with_query("serial=X").unwrap().to_string(),
            "https://127.0.0.1:8443/a/b?serial=X"
        );
    }

    #[test]
    fn backoff_grows_is_bounded_and_jittered() {
        let policy = RetryPolicy {
            max_tries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        assert_eq!(policy.backoff(1, 0), Duration::from_millis(50));
        assert_eq!(
            policy.backoff(1, u64::MAX),
            Duration::from_millis(50) + Duration::from_nanos(u64::MAX % 50_000_001)
        );
        for try_number in 1..40 {
            for random in [0, 1, 12_345_678, u64::MAX] {
                let wait = policy.backoff(try_number, random);
                let base = Duration::from_millis(100)
                    .saturating_mul(1 << (try_number - 1).min(31))
                    .min(Duration::from_millis(1000));
                assert!(
                    wait >= base / 2 && wait <= base,
                    "{try_number} {random} {wait:?}"
                );
            }
        }
        assert_eq!(policy.backoff(30, 0), Duration::from_millis(500));
        assert_eq!(RetryPolicy::no_retry().backoff(1, 7), Duration::ZERO);
    }

    #[test]
    fn settings_are_checked() {
        assert!(EscrowConfig::default().validate().is_ok());
        let config = EscrowConfig {
            retry: RetryPolicy {
                max_tries: 0,
                ..RetryPolicy::default()
            },
            ..EscrowConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(matches!(
            TrustRoots::from_pem(b""),
            Err(ConfigError::NoCaCertificate { .. })
        ));
    }
}
