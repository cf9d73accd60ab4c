//! Shared set-up: a request, codes and a client tuned for fast tests.

use alb_test_support::{RecordingServer, TestPki};
use std::time::Duration;

use escrow_client::{
    BypassCode, EscrowClient, EscrowConfig, Identity, RetryPolicy, TrustRoots, UnlockRequest,
};

pub const DEVICE_CODE: &str = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3";

pub fn device_code() -> BypassCode {
    DEVICE_CODE.parse().unwrap()
}

pub fn server_code() -> BypassCode {
    BypassCode::from([0x42; 16])
}

pub fn request() -> UnlockRequest {
    UnlockRequest::builder()
        .serial("DMPXK0ABCD12")
        .product_type("iPad4,1")
        .org_name("Example & Sons, Ltd.")
        .guid("j.doe+mdm@example.com")
        .build()
        .unwrap()
}

/// Short limits: a few hundred milliseconds per test at most.
pub fn fast_config(pki: &TestPki, server: &RecordingServer) -> EscrowConfig {
    EscrowConfig {
        endpoint: server.url().parse().unwrap(),
        roots: TrustRoots::from_pem(pki.server_ca.cert_pem.as_bytes()).unwrap(),
        attempt_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(5),
        retry: RetryPolicy {
            max_tries: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        },
        max_body_bytes: 256,
        proxy: escrow_client::ProxyConfig::none(),
    }
}

pub fn client(pki: &TestPki, config: EscrowConfig) -> EscrowClient {
    let identity = Identity::from_pem(pki.client.identity_pem().as_bytes()).unwrap();
    EscrowClient::new(config, &identity).unwrap()
}
