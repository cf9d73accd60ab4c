#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod activation_lock;
mod client;
mod config;
mod error;
mod excerpt;
pub mod oauth;
mod retry_after;
mod secret;
mod session;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod token;
mod transport;

pub use activation_lock::{ActivationLockOutcome, ActivationLockRequest, ActivationLockStatus};
pub use client::{
    DepClient, DepRequest, JSON_CONTENT_TYPE, PROTOCOL_VERSION_HEADER, SESSION_HEADER,
    SESSION_PATH, parse_session_answer,
};
pub use config::{
    BaseUrl, ConfigError, DEFAULT_BASE_URL, DEFAULT_PROTOCOL_VERSION, DEFAULT_USER_AGENT,
    DepConfig, MAX_CA_FILE_BYTES, ThrottlePolicy, TrustRoots,
};
pub use error::{DepError, RequestError};
pub use excerpt::{BodyExcerpt, EXCERPT_BYTES, service_code};
pub use retry_after::parse_retry_after;
pub use secret::Secret;
pub use session::SessionStats;
pub use token::{KeyError, ServerToken, TokenError, TokenKeyPair, TokenPrivateKey};

/// The proxy settings of [`DepConfig::proxy`] (re-exported from `alb-proxy`).
pub use alb_proxy::{ProxyConfig, ProxyError};
/// Re-exported so callers can name the escrow key without a separate dependency.
pub use bypass_code::EscrowKey;
