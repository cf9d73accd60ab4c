#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

extern crate alloc;

mod api_key;
mod client;
mod config;
mod error;
mod reply;
mod text;
pub mod webhook;

pub use api_key::{ApiKey, MAX_KEY_FILE_BYTES};
pub use client::{MAX_REPLY_BYTES, NanoMdmClient};
pub use config::{DEFAULT_TIMEOUT, NanoMdmConfig, NanoMdmConfigError};
pub use error::NanoMdmError;
pub use reply::{EnqueueReply, IdResult, PushReply};
pub use webhook::{
    AckStatus, AcknowledgeEvent, CheckinEvent, EventBody, Topic, WebhookError, WebhookEvent,
    WebhookLimits,
};

/// The proxy settings of [`NanoMdmConfig::proxy`] (re-exported from `alb-proxy`).
pub use alb_proxy::{ProxyConfig, ProxyError};
