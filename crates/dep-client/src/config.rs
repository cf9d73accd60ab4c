//! How the client reaches the service: base URL, trusted roots, User-Agent, protocol version,
//! time limits, bounds and the throttling policy.

use core::{fmt, time::Duration};
use std::path::Path;

use hyper::{Uri, header::HeaderValue};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, pem::PemObject as _};

/// Apple's device enrollment service.
pub const DEFAULT_BASE_URL: &str = "https://mdmenrollment.apple.com";
/// What the client calls itself unless told otherwise: a product name, as Apple requires
/// (it has refused generic library names with `400 USER_AGENT_INVALID`).
pub const DEFAULT_USER_AGENT: &str = concat!("alb-mdm/", env!("CARGO_PKG_VERSION"));
/// The `X-Server-Protocol-Version` sent unless told otherwise (what `NanoDEP` sends).
pub const DEFAULT_PROTOCOL_VERSION: u32 = 7;
/// The largest CA file [`TrustRoots::from_pem_file`] reads.
pub const MAX_CA_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Why a client configuration is not usable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL is not a URL.
    #[error("the base URL is not a valid URL: {reason}")]
    InvalidBaseUrl {
        /// What the URL parser reported.
        reason: String,
    },
    /// The base URL is not `https://`.
    #[error(
        "the base URL must use https:// (got {scheme}://): the service's credentials and escrow keys are never sent unencrypted"
    )]
    InsecureBaseUrl {
        /// The scheme given.
        scheme: String,
    },
    /// The base URL has no host.
    #[error("the base URL has no host")]
    BaseUrlWithoutHost,
    /// The base URL carries a query or fragment.
    #[error("the base URL must not carry a query or fragment")]
    BaseUrlWithQuery,
    /// The User-Agent is empty or not a valid header value.
    #[error("the User-Agent must be 1 to 256 visible ASCII characters (Apple requires one)")]
    InvalidUserAgent,
    /// The CA file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA PEM holds no usable certificate.
    #[error("the CA PEM holds no usable certificate{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    NoCaCertificate {
        /// What the parser reported, if anything.
        reason: Option<String>,
    },
    /// A limit makes no sense (zero time-out, zero attempts…).
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
    /// rustls refused the TLS configuration.
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
}

/// The service's base URL: `https://`, a host, an optional path prefix, no query.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(Uri);

impl BaseUrl {
    /// Parses and checks a base URL; `http://` is refused here, before any connection.
    ///
    /// # Errors
    /// The [`ConfigError`] naming what is wrong.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if url.contains('#') {
            return Err(ConfigError::BaseUrlWithQuery);
        }
        let uri: Uri = url.parse().map_err(|error: hyper::http::uri::InvalidUri| {
            ConfigError::InvalidBaseUrl {
                reason: error.to_string(),
            }
        })?;
        match uri.scheme_str() {
            Some("https") => {}
            Some(other) => {
                return Err(ConfigError::InsecureBaseUrl {
                    scheme: other.to_owned(),
                });
            }
            None => {
                return Err(ConfigError::InvalidBaseUrl {
                    reason: "no scheme (expected https://)".to_owned(),
                });
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(ConfigError::BaseUrlWithoutHost);
        }
        if uri.query().is_some() {
            return Err(ConfigError::BaseUrlWithQuery);
        }
        Ok(Self(uri))
    }

    /// The URL of an endpoint path (`/session`) under this base.
    ///
    /// # Errors
    /// The joined URL is invalid (a path with characters a URI cannot hold).
    pub fn join(&self, path: &str) -> Result<Uri, hyper::http::Error> {
        let prefix = self.0.path().trim_end_matches('/');
        let mut parts = self.0.clone().into_parts();
        parts.path_and_query = Some(format!("{prefix}{path}").parse()?);
        Ok(Uri::from_parts(parts)?)
    }

    /// The URL.
    #[must_use]
    pub const fn as_uri(&self) -> &Uri {
        &self.0
    }
}

impl core::str::FromStr for BaseUrl {
    type Err = ConfigError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self(Uri::from_static(DEFAULT_BASE_URL))
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Which certificate authorities the client trusts for the service's certificate.
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
    /// The file cannot be read or is too large, or as [`from_pem`](Self::from_pem).
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
            return Err(ConfigError::NoCaCertificate {
                reason: Some("the CA file is larger than 4 MiB".to_owned()),
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

/// What to do with `429` and `5xx` answers: wait as `Retry-After` asks (never sooner), or
/// with exponential backoff when it does not say, within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Sends of one request, the first included (at least 1).
    pub max_attempts: u32,
    /// The longest wait the client accepts; a `Retry-After` asking for more ends the request
    /// with [`DepError::Unavailable`](crate::DepError::Unavailable) carrying the wait asked.
    pub max_wait: Duration,
    /// The wait after the first failure when the service gives no `Retry-After`.
    pub initial_backoff: Duration,
    /// The longest wait between sends when the service gives no `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            max_wait: Duration::from_secs(120),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl ThrottlePolicy {
    /// One send, no waiting.
    #[must_use]
    pub const fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            max_wait: Duration::ZERO,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The wait after failed attempt `attempt` (from 1) without `Retry-After`:
    /// `min(initial × 2^(attempt-1), max_backoff)`.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff)
    }
}

/// Everything the client needs besides the server token.
#[derive(Debug, Clone)]
pub struct DepConfig {
    /// The service (default: Apple's).
    pub base_url: BaseUrl,
    /// Who is trusted to be the service (default: the web PKI).
    pub roots: TrustRoots,
    /// The `User-Agent` (default: [`DEFAULT_USER_AGENT`]); use your product's name.
    pub user_agent: String,
    /// The `X-Server-Protocol-Version` (default 7).
    pub protocol_version: u32,
    /// The limit for a TCP connection to be made.
    pub connect_timeout: Duration,
    /// The limit for one exchange: connection, TLS, request and the whole response body.
    pub request_timeout: Duration,
    /// The largest response body read; more is [`DepError::BodyTooLarge`](crate::DepError::BodyTooLarge).
    pub max_body_bytes: usize,
    /// Waiting on `429`/`5xx`.
    pub throttle: ThrottlePolicy,
    /// Connections kept open to the service for concurrent requests.
    pub max_idle_connections: usize,
    /// The HTTPS proxy, if any (default: none, every connection direct; the environment's
    /// with [`alb_proxy::ProxyConfig::from_env`]).
    pub proxy: alb_proxy::ProxyConfig,
}

impl Default for DepConfig {
    fn default() -> Self {
        Self {
            base_url: BaseUrl::default(),
            roots: TrustRoots::default(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            protocol_version: DEFAULT_PROTOCOL_VERSION,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            throttle: ThrottlePolicy::default(),
            max_idle_connections: 16,
            proxy: alb_proxy::ProxyConfig::none(),
        }
    }
}

impl DepConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUserAgent`] or [`ConfigError::InvalidSetting`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.user_agent_header()?;
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::InvalidSetting(
                "connect_timeout must be positive",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::InvalidSetting(
                "request_timeout must be positive",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::InvalidSetting(
                "max_body_bytes must be positive",
            ));
        }
        if self.throttle.max_attempts == 0 {
            return Err(ConfigError::InvalidSetting(
                "throttle.max_attempts must be at least 1",
            ));
        }
        Ok(())
    }

    pub(crate) fn user_agent_header(&self) -> Result<HeaderValue, ConfigError> {
        let agent = self.user_agent.as_str();
        if agent.is_empty()
            || agent.len() > 256
            || !agent.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            || agent.starts_with(' ')
        {
            return Err(ConfigError::InvalidUserAgent);
        }
        HeaderValue::from_str(agent).map_err(|_| ConfigError::InvalidUserAgent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_joined() {
        let base = BaseUrl::parse("https://127.0.0.1:8443/prefix/").unwrap();
        assert_eq!(
            base.join("/session").unwrap().to_string(),
            "https://127.0.0.1:8443/prefix/session"
        );
        assert_eq!(
            BaseUrl::default()
                .join("/device/activationlock")
                .unwrap()
                .to_string(),
            "https://mdmenrollment.apple.com/device/activationlock"
        );
        assert!(matches!(
            BaseUrl::parse("http://mdmenrollment.apple.com"),
            Err(ConfigError::InsecureBaseUrl { scheme }) if scheme == "http"
        ));
        assert!(matches!(
            BaseUrl::parse("https://x/?a=b"),
            Err(ConfigError::BaseUrlWithQuery)
        ));
        assert!(matches!(
            BaseUrl::parse("https://x/#a"),
            Err(ConfigError::BaseUrlWithQuery)
        ));
        assert!(matches!(
            BaseUrl::parse("/session"),
            Err(ConfigError::InvalidBaseUrl { .. })
        ));
    }

    #[test]
    fn settings_are_checked() {
        assert!(DepConfig::default().validate().is_ok());
        for agent in ["", " x", "a\u{7f}", "tab\there"] {
            let config = DepConfig {
                user_agent: agent.to_owned(),
                ..DepConfig::default()
            };
            assert!(
                matches!(config.validate(), Err(ConfigError::InvalidUserAgent)),
                "{agent:?}"
            );
        }
        let config = DepConfig {
            throttle: ThrottlePolicy {
                max_attempts: 0,
                ..ThrottlePolicy::default()
            },
            ..DepConfig::default()
        };
        assert!(config.validate().is_err());
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(3), Duration::from_secs(4));
        assert_eq!(policy.backoff(100), Duration::from_secs(30));
    }
}
