//! The exact request on the wire.

use alb_test_support::{RecordingServer, Reply, TestPki, UNLOCK_PATH};
use escrow_client::{AttemptResult, CodeSource, StatusClass, UnlockRequest, Verdict};

use crate::common::{client, device_code, fast_config, request};

#[tokio::test]
async fn request_bytes_are_exactly_apples_shape() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let request = UnlockRequest::builder()
        .serial("DMPXK0ABCD12")
        .product_type("iPhone10,3")
        .imei("490154203237518")
        .imei2("356938035643809")
        .meid("A1000012345678")
        .org_name("Example & Sons, Ltd.")
        .guid("j.doe+mdm@example.com")
        .build()
        .unwrap();

    let outcome = client.unlock(&request, &device_code()).await;

    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Supplied(1)
        }
    );
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let sent = &recorded[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, UNLOCK_PATH);
    assert_eq!(
        sent.query.as_deref(),
        Some(
            "serial=DMPXK0ABCD12&productType=iPhone10%2C3&imei=490154203237518\
             &imei2=356938035643809&meid=A1000012345678"
        )
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8(sent.body.clone()).unwrap(),
        "orgName=Example%20%26%20Sons%2C%20Ltd.&guid=j.doe%2Bmdm%40example.com\
         &escrowKey=A8QK7-GFG21-6RHT-V0U9-756P-L7E3"
    );
    assert_eq!(
        sent.header("content-length"),
        Some(sent.body.len().to_string().as_str())
    );
    assert_eq!(
        sent.header("host"),
        Some(server.addr().to_string().as_str())
    );
    assert!(
        sent.header("user-agent")
            .unwrap()
            .starts_with("escrow-client/")
    );
}

#[tokio::test]
async fn optional_identifiers_are_omitted_when_absent() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(200)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert!(outcome.is_unlocked());
    let recorded = server.requests();
    assert_eq!(
        recorded[0].target,
        format!("{UNLOCK_PATH}?serial=DMPXK0ABCD12&productType=iPad4%2C1")
    );
    match &outcome.attempts[0].result {
        AttemptResult::Response {
            status,
            class,
            body,
        } => {
            assert_eq!((status, class), (&200, &StatusClass::Unlocked));
            assert_eq!(body.as_bytes(), b"status 200");
        }
        other => panic!("expected a response, got {other:?}"),
    }
}
