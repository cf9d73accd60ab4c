//! Which proxy, if any, each destination goes through.

use alloc::sync::Arc;
use core::fmt;

use hyper::Uri;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use zeroize::Zeroizing;

/// The variables read for the proxy, in order: the first that is set is used.
const PROXY_VARIABLES: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
/// The variables read for the destinations that go direct.
const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// Why the proxy settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy is not a URL with a host.
    #[error("{origin}: not a proxy URL (expected http://[USER:PASSWORD@]HOST[:PORT])")]
    NotAUrl {
        /// Where the value came from: the variable, or `proxy URL`.
        origin: String,
    },
    /// The proxy's scheme is not `http` (HTTPS-to-the-proxy and SOCKS are not supported).
    #[error("{origin}: unsupported proxy scheme `{scheme}` (only http:// proxies are supported)")]
    UnsupportedScheme {
        /// Where the value came from.
        origin: String,
        /// The scheme given, escaped for the terminal.
        scheme: String,
    },
}

/// The proxy settings: a proxy for HTTPS destinations, or none, and the destinations that go
/// direct (`NO_PROXY`: host names, `.domain` suffixes, IP addresses and CIDR ranges, `*`).
#[derive(Clone)]
pub struct ProxyConfig {
    /// The proxy, as given (kept for `Debug`, with its password hidden).
    shown: Option<String>,
    matcher: Option<Arc<Matcher>>,
    /// The proxy URL as given: it may hold a password, so it is zeroized when dropped.
    proxy: Option<Zeroizing<String>>,
    no_proxy: String,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("proxy", &self.shown)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self::none()
    }
}

impl ProxyConfig {
    /// Every destination direct.
    #[must_use]
    pub fn none() -> Self {
        Self {
            shown: None,
            matcher: None,
            proxy: None,
            no_proxy: String::new(),
        }
    }

    /// Every destination through the proxy at `url` (`http://[USER:PASSWORD@]HOST[:PORT]`,
    /// port 80 when none is given; a bare `HOST:PORT` is taken as `http://`).
    ///
    /// # Errors
    /// [`ProxyError`] when `url` is not an `http://` proxy URL.
    pub fn via(url: &str) -> Result<Self, ProxyError> {
        Self::checked(url, "proxy URL")
    }

    /// The settings of the environment, read as curl reads them: the proxy from `HTTPS_PROXY`,
    /// `https_proxy`, `ALL_PROXY` or `all_proxy` (the first set and not empty), the direct
    /// destinations from `NO_PROXY` or `no_proxy`.
    ///
    /// # Errors
    /// [`ProxyError`], naming the variable, when the proxy it holds cannot be used.
    pub fn from_env() -> Result<Self, ProxyError> {
        let proxy = PROXY_VARIABLES.iter().find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v))
        });
        let no_proxy = NO_PROXY_VARIABLES
            .iter()
            .find_map(|name| std::env::var(name).ok())
            .unwrap_or_default();
        let config = match proxy {
            Some((name, url)) => Self::checked(&url, name)?,
            None => Self::none(),
        };
        Ok(config.no_proxy(&no_proxy))
    }

    /// These settings with `list` (comma-separated, as `NO_PROXY`) as the destinations that go
    /// direct.
    #[must_use]
    pub fn no_proxy(mut self, list: &str) -> Self {
        list.clone_into(&mut self.no_proxy);
        self.matcher = self.proxy.as_deref().map(|proxy| {
            let proxy = proxy.as_str();
            Arc::new(
                Matcher::builder()
                    .https(proxy)
                    .no(self.no_proxy.as_str())
                    .build(),
            )
        });
        self
    }

    fn checked(url: &str, origin: &str) -> Result<Self, ProxyError> {
        let url = url.trim();
        let not_a_url = || ProxyError::NotAUrl {
            origin: origin.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| not_a_url())?;
        if let Some(scheme) = uri.scheme_str()
            && !scheme.eq_ignore_ascii_case("http")
        {
            return Err(ProxyError::UnsupportedScheme {
                origin: origin.to_owned(),
                scheme: printable::escape(scheme).into_owned(),
            });
        }
        let authority = uri.authority().ok_or_else(not_a_url)?;
        if authority.host().is_empty() {
            return Err(not_a_url());
        }
        let shown = match authority.as_str().rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
                format!("http://{user}:***@{host}")
            }
            None => format!("http://{authority}"),
        };
        let config = Self {
            shown: Some(shown),
            matcher: None,
            proxy: Some(Zeroizing::new(url.to_owned())),
            no_proxy: String::new(),
        };
        Ok(config.no_proxy(""))
    }

    /// Whether any destination goes through a proxy.
    #[must_use]
    pub fn is_none(&self) -> bool {
        self.matcher.is_none()
    }

    /// The proxy `destination` goes through, or `None` when it goes direct.
    #[must_use]
    pub fn proxy_for(&self, destination: &Uri) -> Option<Intercept> {
        self.matcher.as_ref()?.intercept(destination)
    }
}
