//! Many devices on one session: concurrent requests share the session and its one
//! authentication, also when the session expires while they are in flight.

use dep_client::{ActivationLockRequest, ActivationLockStatus};

use crate::common::{env, escrow_key_for};

fn requests(prefix: &str, count: usize) -> Vec<ActivationLockRequest> {
    (0..count)
        .map(|n| {
            let serial = format!("{prefix}{n:06}");
            ActivationLockRequest::new(serial.clone(), escrow_key_for(&serial)).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn concurrent_requests_share_one_session() {
    let env = env().await;
    let batch = requests("C02CON", 200);
    let results = env.client.activation_lock_all(batch.clone(), 16).await;
    assert_eq!(results.len(), 200);
    for (request, result) in batch.iter().zip(&results) {
        let outcome = result.as_ref().unwrap();
        assert_eq!(
            outcome.serial_number,
            request.device(),
            "in the order asked"
        );
        assert_eq!(outcome.status, ActivationLockStatus::Success);
    }
    assert_eq!(env.stand_in.authentications(), 1);
    let keys = env.stand_in.escrow_keys();
    assert_eq!(keys.len(), 200);
    for request in &batch {
        assert_eq!(
            keys[request.device()],
            [format!("{:x}", request.escrow_key())]
        );
    }
    let sessions: std::collections::HashSet<_> = env
        .stand_in
        .requests()
        .iter()
        .filter_map(|r| r.header("x-adm-auth-session").map(str::to_owned))
        .collect();
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn a_session_expired_under_concurrent_requests_is_renewed_once() {
    let env = env().await;
    let first = env
        .client
        .activation_lock_all(requests("C02EXA", 40), 8)
        .await;
    assert!(first.iter().all(Result::is_ok));
    env.stand_in.expire_sessions();
    // Every request in flight finds the session refused; one of them authenticates, the
    // others wait for it and re-send with the new session.
    let second = env
        .client
        .activation_lock_all(requests("C02EXB", 40), 8)
        .await;
    for result in &second {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(env.stand_in.authentications(), 2);
    assert_eq!(env.client.session_stats().authentications, 2);
}
