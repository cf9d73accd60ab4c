//! `POST /v1/devices/{id}/lock` against the DEP stand-in (real TLS, OAuth checked): the server
//! code committed before its escrow key leaves, Apple's answer recorded, a locked device not
//! locked again.

use std::sync::Arc;

use alb_serve::{LockSetup, ServiceConfig};
use code_store::{CodeStore, MemoryStore, Protection};
use dep_client::{
    DepClient, DepConfig,
    testing::{StandIn, TestPki},
};

use crate::common::{REVEALER, Running, WRITER, bearer, call, keys};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_through_the_api() {
    let pki = TestPki::new();
    let dep = StandIn::start(&pki).await.unwrap();
    let client = DepClient::new(
        DepConfig {
            base_url: dep.base_url().parse().unwrap(),
            roots: pki.trust_roots(),
            ..DepConfig::default()
        },
        dep.token(),
    )
    .unwrap();
    let store = Arc::new(MemoryStore::new(Protection::Cleartext));
    let mut config = ServiceConfig::new(keys());
    config.lock = Some(LockSetup {
        client,
        lost_message: None,
    });
    let running = Running::start(store.clone(), config).await;
    let url = format!("{}/v1/devices/C02LOCK0001/lock", running.url);
    let (status, locked) = call(
        "POST",
        &url,
        bearer(WRITER),
        r#"{"lost_message": "Call IT"}"#,
    )
    .await;
    assert_eq!(status, 200, "{locked}");
    assert_eq!(locked["result"], "locked", "{locked}");
    assert_eq!(locked["new_code"], true);
    // Apple saw the escrow key of the code the store holds as accepted.
    let record = store.find("C02LOCK0001").await.unwrap().pop().unwrap();
    let accepted = record.accepted_server_code.unwrap();
    let sent = dep.escrow_keys();
    assert_eq!(
        sent.get("C02LOCK0001").unwrap(),
        &vec![hex::encode(accepted.escrow_key.as_bytes())]
    );
    let (status, again) = call("POST", &url, bearer(WRITER), "").await;
    assert_eq!(
        (status, again["result"].as_str()),
        (200, Some("already-locked")),
        "{again}"
    );
    // A read-only caller cannot lock; an unknown field is refused.
    let (status, _) = call("POST", &url, bearer(crate::common::READER), "").await;
    assert_eq!(status, 403);
    let (status, refused) = call("POST", &url, bearer(REVEALER), r#"{"lost": 1}"#).await;
    assert_eq!(
        (status, refused["error"]["kind"].as_str()),
        (400, Some("bad_request")),
        "{refused}"
    );
    assert_eq!(dep.escrow_keys().get("C02LOCK0001").map(Vec::len), Some(1));
    running.stop().await;
}
