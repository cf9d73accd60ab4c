//! The escrow stand-in itself: client certificates required, malformed requests refused,
//! unknown serial numbers and wrong codes answered `404`.

use std::time::Duration;

use alb_testbed::{EscrowService, Fleet, SimulatedDevice};
use escrow_client::{
    BypassCode, CodeSource, EscrowClient, EscrowConfig, Identity, RetryPolicy, TrustRoots,
    UnlockRequest, Verdict,
};

fn config(service: &EscrowService) -> EscrowConfig {
    EscrowConfig {
        endpoint: service.url().parse().unwrap(),
        roots: TrustRoots::from_pem(service.pki().server_ca.cert_pem.as_bytes()).unwrap(),
        attempt_timeout: Duration::from_secs(5),
        retry: RetryPolicy::no_retry(),
        ..EscrowConfig::default()
    }
}

fn request(serial: &str) -> UnlockRequest {
    UnlockRequest::builder()
        .serial(serial)
        .product_type("iPad8,1")
        .org_name("Example")
        .guid("ops@example.com")
        .build()
        .unwrap()
}

#[tokio::test]
async fn answers_only_the_active_code_of_a_known_device() {
    let fleet = Fleet::new();
    let mut device = SimulatedDevice::new(1);
    device.lock();
    let code = device.active_code().cloned().unwrap();
    let serial = fleet.add(device);
    let service = EscrowService::start(fleet.clone()).await.unwrap();
    let identity = Identity::from_pem(service.pki().client.identity_pem().as_bytes()).unwrap();
    let client = EscrowClient::new(config(&service), &identity).unwrap();

    let wrong = BypassCode::from([7; 16]);
    let outcome = client
        .unlock_with_fallback(&request(&serial), &[(CodeSource::Device, &wrong)])
        .await;
    assert_eq!(outcome.verdict, Verdict::NotFound);
    let outcome = client
        .unlock_with_fallback(&request("UNKNOWN0001"), &[(CodeSource::Device, &code)])
        .await;
    assert_eq!(outcome.verdict, Verdict::NotFound, "another serial number");
    assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(true));

    let outcome = client
        .unlock_with_fallback(
            &request(&serial),
            &[(CodeSource::Server, &wrong), (CodeSource::Device, &code)],
        )
        .await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Device
        }
    );
    assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(false));
    assert_eq!(service.request_count(), 4);
}

#[tokio::test]
async fn refuses_clients_without_an_accepted_certificate() {
    let fleet = Fleet::new();
    let mut device = SimulatedDevice::new(2);
    device.lock();
    let code = device.active_code().cloned().unwrap();
    let serial = fleet.add(device);
    let service = EscrowService::start(fleet.clone()).await.unwrap();
    // A client certificate from another PKI: the handshake fails, nothing is unlocked.
    let stranger = alb_test_support::TestPki::new();
    let identity = Identity::from_pem(stranger.client.identity_pem().as_bytes()).unwrap();
    let client = EscrowClient::new(config(&service), &identity).unwrap();
    let outcome = client
        .unlock_with_fallback(&request(&serial), &[(CodeSource::Device, &code)])
        .await;
    assert_eq!(
        outcome.verdict,
        Verdict::TlsFailure {
            code: CodeSource::Device
        }
    );
    assert!(service.handshake_failures() >= 1);
    assert_eq!(service.request_count(), 0);
    assert_eq!(fleet.with_device(&serial, |d| d.is_locked()), Some(true));
}
