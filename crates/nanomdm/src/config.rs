//! Where NanoMDM is and how to reach it.

use core::time::Duration;

use alb_proxy::ProxyConfig;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, pem::PemObject};

use crate::{api_key::ApiKey, text::shown};

/// The time limit of one request unless configured: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach one NanoMDM server.
#[derive(Debug, Clone)]
pub struct NanoMdmConfig {
    /// The server's base URL, `http://` or `https://`, with the path prefix its API is served
    /// under if any (`https://mdm.example.com/nanomdm`); a trailing `/` is ignored.
    pub url: String,
    /// The API key (`-api`): the Basic-authentication password of user `nanomdm`.
    pub api_key: ApiKey,
    /// PEM certificates to trust for `https://` instead of the public web PKI roots
    /// (`webpki-roots`), for a server with a private CA; `None` trusts the public roots.
    pub ca_file_pem: Option<Vec<u8>>,
    /// The time limit of each request, from connecting to the reply's last byte.
    pub timeout: Duration,
    /// The proxy, if the server is reached through one.
    pub proxy: ProxyConfig,
}

impl NanoMdmConfig {
    /// A configuration with the public roots, [`DEFAULT_TIMEOUT`] and no proxy.
    #[must_use]
    pub fn new(url: impl Into<String>, api_key: ApiKey) -> Self {
        Self {
            url: url.into(),
            api_key,
            ca_file_pem: None,
            timeout: DEFAULT_TIMEOUT,
            proxy: ProxyConfig::none(),
        }
    }

    /// The base URL without its trailing slashes, checked.
    pub(crate) fn base_url(&self) -> Result<String, NanoMdmConfigError> {
        let uri: hyper::Uri = self
            .url
            .parse()
            .map_err(
                |error: hyper::http::uri::InvalidUri| NanoMdmConfigError::InvalidUrl {
                    url: shown(&self.url),
                    reason: error.to_string(),
                },
            )?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => {
                return Err(NanoMdmConfigError::UnsupportedScheme {
                    scheme: shown(other),
                });
            }
            None => {
                return Err(NanoMdmConfigError::InvalidUrl {
                    url: shown(&self.url),
                    reason: "no scheme (http:// or https://)".to_owned(),
                });
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(NanoMdmConfigError::UrlWithoutHost);
        }
        if uri.query().is_some() || self.url.contains('#') {
            return Err(NanoMdmConfigError::UrlWithQuery);
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(NanoMdmConfigError::UrlWithCredentials);
        }
        Ok(self.url.trim_end_matches('/').to_owned())
    }

    /// The roots to trust for `https://`.
    pub(crate) fn roots(&self) -> Result<RootCertStore, NanoMdmConfigError> {
        let Some(pem) = &self.ca_file_pem else {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        };
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| NanoMdmConfigError::NoCaCertificate {
                reason: Some(error.to_string()),
            })?;
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(NanoMdmConfigError::NoCaCertificate { reason: None });
        }
        Ok(store)
    }
}

/// Why a configuration or key file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NanoMdmConfigError {
    /// The URL does not parse.
    #[error("the NanoMDM URL \"{url}\" is not valid: {reason}")]
    InvalidUrl {
        /// The URL, escaped and shortened.
        url: String,
        /// Why.
        reason: String,
    },
    /// The URL is neither `http://` nor `https://`.
    #[error("the NanoMDM URL must be http:// or https:// (got {scheme}://)")]
    UnsupportedScheme {
        /// The scheme, escaped.
        scheme: String,
    },
    /// The URL has no host.
    #[error("the NanoMDM URL has no host")]
    UrlWithoutHost,
    /// The URL carries a query or fragment: the request's query is ours to write.
    #[error("the NanoMDM URL must not carry a query or fragment")]
    UrlWithQuery,
    /// The URL carries a user name or password: the API key goes in [`NanoMdmConfig::api_key`].
    #[error("the NanoMDM URL must not carry credentials (the API key is configured apart)")]
    UrlWithCredentials,
    /// The API key is empty.
    #[error("the NanoMDM API key is empty")]
    EmptyApiKey,
    /// The time limit is zero.
    #[error("the NanoMDM request time limit is zero")]
    ZeroTimeout,
    /// The key file could not be read.
    #[error("cannot read the NanoMDM API key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is larger than [`MAX_KEY_FILE_BYTES`](crate::MAX_KEY_FILE_BYTES).
    #[error("the NanoMDM API key file {path} is larger than 4 KiB")]
    KeyFileTooLarge {
        /// The file.
        path: String,
    },
    /// The key file is not UTF-8 text.
    #[error("the NanoMDM API key file {path} is not UTF-8 text")]
    KeyFileNotText {
        /// The file.
        path: String,
    },
    /// The key file holds only blank lines.
    #[error("the NanoMDM API key file {path} holds no key")]
    EmptyKeyFile {
        /// The file.
        path: String,
    },
    /// The CA PEM holds no usable certificate.
    #[error("the CA PEM holds no usable certificate{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    NoCaCertificate {
        /// What the parser reported, if anything.
        reason: Option<String>,
    },
    /// rustls refused the TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}
