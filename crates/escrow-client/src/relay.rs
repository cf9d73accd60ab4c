//! The other route: the unlock request relayed by a NanoMDM server, which holds the push
//! certificate and sends Apple's request itself (`POST /v1/escrowkeyunlock`, NanoMDM 0.9+).

use core::fmt;

use base64ct::{Base64, Encoding as _};
use bypass_code::BypassCode;
use hyper::{
    Method, Request, Uri,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT},
};
use zeroize::Zeroizing;

use alb_proxy::SecretBody;

use crate::{ConfigError, UnlockRequest, request::push_pair};

/// The path of NanoMDM's escrow-key unlock API, under its base URL.
pub const NANOMDM_UNLOCK_PATH: &str = "/v1/escrowkeyunlock";
/// The user name of NanoMDM's API (HTTP Basic authentication; the password is the API key).
pub const NANOMDM_API_USER: &str = "nanomdm";

/// A NanoMDM server that sends the unlock request on our behalf, with the push certificate it
/// holds for `topic` (see [`EscrowClient::through_nanomdm`](crate::EscrowClient::through_nanomdm)).
///
/// NanoMDM's handler reads the form fields `topic`, `serial`, `productType`, `imei`, `imei2`,
/// `meid`, `orgName`, `guid` and `escrowKey`; it answers `400` when `topic` is empty (it picks
/// the push certificate by topic), so the topic is required here.
#[derive(Clone)]
pub struct NanoMdmRelay {
    /// NanoMDM's base URL, `http://` or `https://`, with at most a path prefix
    /// (`https://mdm.example.com`, `http://127.0.0.1:9000`); `/v1/escrowkeyunlock` is appended.
    pub url: String,
    /// The API key NanoMDM was started with (`-api`): the Basic authentication password.
    /// Wiped when dropped; never shown by `Debug`.
    pub api_key: Zeroizing<String>,
    /// The APNs topic of the push certificate NanoMDM must use
    /// (`com.apple.mgmt.External.…`): the `Topic` devices send when they enrol.
    pub topic: String,
}

impl NanoMdmRelay {
    /// A relay at `url` with this API key and push topic.
    #[must_use]
    pub fn new(
        url: impl Into<String>,
        api_key: Zeroizing<String>,
        topic: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            api_key,
            topic: topic.into(),
        }
    }
}

impl fmt::Debug for NanoMdmRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NanoMdmRelay")
            .field("url", &self.url)
            .field("api_key", &"[redacted]")
            .field("topic", &self.topic)
            .finish()
    }
}

/// A checked relay: the full unlock URL and the topic, the key kept wiped.
pub(crate) struct RelayRoute {
    uri: Uri,
    api_key: Zeroizing<String>,
    topic: String,
    /// Whether the URL is `https://` (TLS with the configuration's trust roots).
    pub(crate) https: bool,
}

impl fmt::Debug for RelayRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayRoute")
            .field("uri", &self.uri)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl RelayRoute {
    /// Checks the relay: a URL with scheme `http` or `https`, a host, no query or fragment, no
    /// user information; a non-empty key and topic.
    pub(crate) fn new(relay: NanoMdmRelay) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidEndpoint {
            reason: reason.to_owned(),
        };
        if relay.url.contains(['?', '#']) {
            return Err(ConfigError::EndpointWithQuery);
        }
        let base: Uri = relay
            .url
            .parse()
            .map_err(|error: hyper::http::uri::InvalidUri| invalid(&error.to_string()))?;
        let https = match base.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
            Some(scheme) => {
                return Err(ConfigError::InsecureEndpoint {
                    scheme: printable::escape(scheme).into_owned(),
                });
            }
            None => return Err(invalid("the NanoMDM URL needs http:// or https://")),
        };
        let Some(authority) = base.authority() else {
            return Err(ConfigError::EndpointWithoutHost);
        };
        if authority.host().is_empty() {
            return Err(ConfigError::EndpointWithoutHost);
        }
        if authority.as_str().contains('@') {
            return Err(invalid(
                "the NanoMDM URL must not carry credentials: the API key goes in api_key",
            ));
        }
        if relay.api_key.is_empty() {
            return Err(ConfigError::InvalidSetting("the NanoMDM API key is empty"));
        }
        if relay.topic.trim().is_empty() {
            return Err(ConfigError::InvalidSetting(
                "the NanoMDM push topic is empty (NanoMDM requires it)",
            ));
        }
        let prefix = base.path().trim_end_matches('/');
        let uri = Uri::builder()
            .scheme(if https { "https" } else { "http" })
            .authority(authority.clone())
            .path_and_query(format!("{prefix}{NANOMDM_UNLOCK_PATH}"))
            .build()
            .map_err(|error| invalid(&error.to_string()))?;
        if !https {
            tracing::warn!(
                url = %uri,
                "NanoMDM is reached over plain http://: bypass codes and the API key cross the \
                 network unencrypted unless it is on this host"
            );
        }
        Ok(Self {
            uri,
            api_key: relay.api_key,
            topic: relay.topic,
            https,
        })
    }

    /// The HTTP request: the form (every field NanoMDM reads) and the Basic authentication
    /// header, both from wiped buffers.
    pub(crate) fn request(
        &self,
        request: &UnlockRequest,
        code: &BypassCode,
        agent: &'static str,
    ) -> Result<Request<SecretBody>, hyper::http::Error> {
        let mut form = Zeroizing::new(String::with_capacity(256));
        push_pair(&mut form, "topic", &self.topic);
        form.push('&');
        form.push_str(&request.query());
        let apple_form = request.form_body(code);
        form.push('&');
        // `form_body` writes only percent-encoded ASCII.
        form.push_str(core::str::from_utf8(&apple_form).unwrap_or_default());
        let body = Zeroizing::new(core::mem::take(&mut *form).into_bytes());
        Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(crate::client::FORM))
            .header(USER_AGENT, HeaderValue::from_static(agent))
            .header(AUTHORIZATION, self.authorization()?)
            .body(SecretBody::new(body))
    }

    /// `Basic base64(nanomdm:KEY)`, marked sensitive (hyper keeps it out of its debug output).
    fn authorization(&self) -> Result<HeaderValue, hyper::http::Error> {
        let mut credentials = Zeroizing::new(Vec::with_capacity(
            NANOMDM_API_USER.len() + 1 + self.api_key.len(),
        ));
        credentials.extend_from_slice(NANOMDM_API_USER.as_bytes());
        credentials.push(b':');
        credentials.extend_from_slice(self.api_key.as_bytes());
        let mut header = Zeroizing::new(vec![0u8; 6 + Base64::encoded_len(&credentials)]);
        header[..6].copy_from_slice(b"Basic ");
        let written = Base64::encode(&credentials, &mut header[6..])
            .map(str::len)
            .unwrap_or(0);
        let mut value = HeaderValue::from_bytes(&header[..6 + written])?;
        value.set_sensitive(true);
        Ok(value)
    }
}
