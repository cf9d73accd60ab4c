#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod client;
mod config;
mod excerpt;
mod field;
mod identity;
mod outcome;
mod relay;
mod request;

pub use client::EscrowClient;
pub use config::{
    ConfigError, DEFAULT_ENDPOINT, Endpoint, EscrowConfig, MAX_CA_FILE_BYTES, RetryPolicy,
    TrustRoots,
};
pub use excerpt::BodyExcerpt;
pub use field::{
    Field, MAX_SERIAL_LEN, MAX_TEXT_LEN, RequestError, check_typed_imei, imei_check_digit,
    normalize_imei, normalize_meid,
};
pub use identity::{Identity, IdentityError, MAX_IDENTITY_FILE_BYTES};
pub use outcome::{
    AttemptReport, AttemptResult, CodeSource, CodeVerdict, StatusClass, TransportFailure,
    UnlockOutcome, Verdict,
};
pub use relay::{NANOMDM_API_USER, NANOMDM_UNLOCK_PATH, NanoMdmRelay};
pub use request::{UnlockRequest, UnlockRequestBuilder};

/// The proxy settings of [`EscrowConfig::proxy`] (re-exported from `alb-proxy`).
pub use alb_proxy::{ProxyConfig, ProxyError};
/// Re-exported so callers can name the code type without a separate dependency.
pub use bypass_code::BypassCode;
