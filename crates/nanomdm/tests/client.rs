//! The API client against a local stand-in for NanoMDM (plain HTTP, and HTTPS with a test CA).

use core::time::Duration;
use std::sync::Arc;

use alb_nanomdm::{ApiKey, NanoMdmClient, NanoMdmConfig, NanoMdmConfigError, NanoMdmError};
use base64::Engine as _;

use crate::common::{Answer, Server};

const OK: &str = r#"{
	"status": {
		"66ADE930-5FDF-5EC4-8429-15640684C489": {
			"push_result": "6E14E52F-7F07-42C7-8367-4D81441DC85F"
		}
	},
	"command_uuid": "c7fc0872-f22f-4823-8ae0-f3d0174fb48a",
	"request_type": "ActivationLockBypassCode"
}
"#;

fn client(url: &str) -> NanoMdmClient {
    let mut config = NanoMdmConfig::new(url, ApiKey::new("s3cret-key".to_owned()));
    config.timeout = Duration::from_secs(5);
    NanoMdmClient::new(config).unwrap()
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("nanomdm:s3cret-key")
    )
}

#[tokio::test]
async fn enqueue_sends_method_path_auth_and_body() {
    let server = Server::start(Answer::Body(200, OK.into())).await;
    let client = client(&format!("{}/", server.url()));
    let plist = b"<?xml version=\"1.0\"?><plist><dict/></plist>";
    let reply = client
        .enqueue(&["66ADE930-5FDF-5EC4-8429-15640684C489"], plist, true)
        .await
        .unwrap();
    assert_eq!(reply.http_status, 200);
    assert!(reply.all_succeeded());
    assert_eq!(
        reply.command_uuid.as_deref(),
        Some("c7fc0872-f22f-4823-8ae0-f3d0174fb48a")
    );
    assert_eq!(
        reply.request_type.as_deref(),
        Some("ActivationLockBypassCode")
    );
    let result = &reply.results["66ADE930-5FDF-5EC4-8429-15640684C489"];
    assert_eq!(
        result.push_id.as_deref(),
        Some("6E14E52F-7F07-42C7-8367-4D81441DC85F")
    );

    // Without push, two ids, one needing percent-encoding.
    client
        .enqueue(&["A-1", "user:é/x"], plist, false)
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(
        requests[0].target,
        "/v1/enqueue/66ADE930-5FDF-5EC4-8429-15640684C489"
    );
    assert_eq!(requests[0].authorization.as_deref(), Some(basic().as_str()));
    assert_eq!(requests[0].body, plist);
    assert_eq!(
        requests[1].target,
        "/v1/enqueue/A-1,user%3A%C3%A9%2Fx?nopush=1"
    );
}

#[tokio::test]
async fn push_is_a_get() {
    let server = Server::start(Answer::Body(
        200,
        br#"{"status":{"a":{"push_result":"p1"},"b":{"push_result":"p2"}}}"#.to_vec(),
    ))
    .await;
    let reply = client(&format!("{}/prefix", server.url()))
        .push(&["a", "b"])
        .await
        .unwrap();
    assert_eq!(reply.results.len(), 2);
    assert_eq!(reply.command_uuid, None);
    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/prefix/v1/push/a,b");
    assert!(requests[0].body.is_empty());
}

#[tokio::test]
async fn partial_failure_is_a_207_reply() {
    let body = r#"{"status":{"a":{"push_result":"p1"},"b":{"command_error":"enrollment not found"},"c":{"push_error":"BadDeviceToken"}},"command_uuid":"u","request_type":"ActivationLockBypassCode"}"#;
    let server = Server::start(Answer::Body(207, body.into())).await;
    let reply = client(&server.url())
        .enqueue(&["a", "b", "c"], b"<plist/>", true)
        .await
        .unwrap();
    assert_eq!(reply.http_status, 207);
    assert!(!reply.all_succeeded());
    let failed: Vec<&str> = reply.failed_ids().map(|(id, _)| id).collect();
    assert_eq!(failed, ["b", "c"]);
    assert_eq!(
        reply.results["b"].enqueue_error.as_deref(),
        Some("enrollment not found")
    );
    assert_eq!(
        reply.results["c"].push_error.as_deref(),
        Some("BadDeviceToken")
    );
    assert!(reply.results["a"].is_ok());
}

#[tokio::test]
async fn all_failed_is_an_error_with_the_reply() {
    let body = r#"{"command_error":"decoding command: plist: error parsing XML\u001b[2J"}"#;
    let server = Server::start(Answer::Body(500, body.into())).await;
    let error = client(&server.url())
        .enqueue(&["a"], b"junk", true)
        .await
        .unwrap_err();
    let NanoMdmError::AllFailed { status, reply } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*status, 500);
    assert!(
        reply
            .enqueue_error
            .as_deref()
            .unwrap()
            .starts_with("decoding command")
    );
    let text = error.to_string();
    assert!(text.contains("enqueue error: decoding command"), "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[tokio::test]
async fn unauthorized_is_named() {
    let server = Server::start(Answer::Body(401, b"Unauthorized\n".to_vec())).await;
    let error = client(&server.url()).push(&["a"]).await.unwrap_err();
    assert_eq!(error, NanoMdmError::Unauthorized);
}

#[tokio::test]
async fn other_statuses_carry_an_escaped_excerpt() {
    let server = Server::start(Answer::Body(
        500,
        b"Internal Server Error\x1b[31m\n".to_vec(),
    ))
    .await;
    let error = client(&server.url())
        .enqueue(&["a"], b"x", true)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        NanoMdmError::Status {
            status: 500,
            excerpt: "Internal Server Error\\u{1b}[31m\\n".to_owned()
        }
    );
    let server = Server::start(Answer::Body(502, vec![b'x'; 100_000])).await;
    let error = client(&server.url())
        .enqueue(&["a"], b"x", true)
        .await
        .unwrap_err();
    let NanoMdmError::Status {
        status: 502,
        excerpt,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(excerpt.ends_with('…') && excerpt.len() < 1024, "{excerpt}");
}

#[tokio::test]
async fn a_reply_that_is_not_json_is_bad() {
    let server = Server::start(Answer::Body(200, b"<html>proxy login</html>".to_vec())).await;
    let error = client(&server.url())
        .enqueue(&["a"], b"x", true)
        .await
        .unwrap_err();
    let NanoMdmError::BadReply {
        status: 200,
        reason,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(reason.contains("line 1 column 1"), "{reason}");
    let server = Server::start(Answer::Body(
        200,
        br#"{"status":{"a":{"push_result":7}}}"#.to_vec(),
    ))
    .await;
    let error = client(&server.url()).push(&["a"]).await.unwrap_err();
    assert!(matches!(error, NanoMdmError::BadReply { .. }), "{error:?}");
}

#[tokio::test]
async fn an_oversized_reply_is_refused() {
    let mut body = br#"{"command_uuid":""#.to_vec();
    body.extend(vec![b'a'; 70_000]);
    body.extend(br#""}"#);
    let server = Server::start(Answer::Body(200, body)).await;
    let error = client(&server.url())
        .enqueue(&["a"], b"x", true)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        NanoMdmError::ReplyTooLarge {
            status: 200,
            limit: alb_nanomdm::MAX_REPLY_BYTES
        }
    );
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let server = Server::start(Answer::Hang).await;
    let mut config = NanoMdmConfig::new(server.url(), ApiKey::new("k".to_owned()));
    config.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let error = NanoMdmClient::new(config)
        .unwrap()
        .push(&["a"])
        .await
        .unwrap_err();
    assert_eq!(
        error,
        NanoMdmError::Timeout {
            limit: Duration::from_millis(300)
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn ids_are_checked_before_sending() {
    let client = client("http://127.0.0.1:9");
    assert_eq!(client.push(&[]).await.unwrap_err(), NanoMdmError::NoIds);
    for id in ["", "a,b"] {
        let error = client.enqueue(&["ok", id], b"x", true).await.unwrap_err();
        assert!(matches!(error, NanoMdmError::InvalidId { .. }), "{error:?}");
    }
    // Nothing listens on port 9: a transport error, not a panic.
    let error = client.push(&["a"]).await.unwrap_err();
    assert!(matches!(error, NanoMdmError::Transport { .. }), "{error:?}");
}

#[test]
fn configurations_are_checked() {
    let key = || ApiKey::new("k".to_owned());
    let refused = |url: &str| NanoMdmClient::new(NanoMdmConfig::new(url, key())).unwrap_err();
    assert!(matches!(
        refused("ftp://x"),
        NanoMdmConfigError::UnsupportedScheme { .. }
    ));
    assert!(matches!(
        refused("no scheme"),
        NanoMdmConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        refused("http://h/?q=1"),
        NanoMdmConfigError::UrlWithQuery
    ));
    assert!(matches!(
        refused("http://u:p@h/"),
        NanoMdmConfigError::UrlWithCredentials
    ));
    let empty = NanoMdmConfig::new("http://h", ApiKey::new(String::new()));
    assert!(matches!(
        NanoMdmClient::new(empty),
        Err(NanoMdmConfigError::EmptyApiKey)
    ));
    let mut zero = NanoMdmConfig::new("http://h", key());
    zero.timeout = Duration::ZERO;
    assert!(matches!(
        NanoMdmClient::new(zero),
        Err(NanoMdmConfigError::ZeroTimeout)
    ));
    let mut bad_ca = NanoMdmConfig::new("https://h", key());
    bad_ca.ca_file_pem = Some(b"not a pem".to_vec());
    assert!(matches!(
        NanoMdmClient::new(bad_ca),
        Err(NanoMdmConfigError::NoCaCertificate { .. })
    ));
    let debug = format!("{:?}", client("http://h"));
    assert!(
        debug.contains("ApiKey(<redacted>)") && !debug.contains("s3cret"),
        "{debug}"
    );
}

#[test]
fn api_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "\n  \n  the-key \nsecond\n").unwrap();
    let key = ApiKey::from_file(&path).unwrap();
    assert_eq!(key.expose(), "the-key");
    assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    std::fs::write(&path, " \n\n").unwrap();
    assert!(matches!(
        ApiKey::from_file(&path),
        Err(NanoMdmConfigError::EmptyKeyFile { .. })
    ));
    std::fs::write(&path, vec![b'k'; 4097]).unwrap();
    assert!(matches!(
        ApiKey::from_file(&path),
        Err(NanoMdmConfigError::KeyFileTooLarge { .. })
    ));
    std::fs::write(&path, vec![b'k'; 4096]).unwrap();
    assert_eq!(ApiKey::from_file(&path).unwrap().expose().len(), 4096);
    std::fs::write(&path, b"\xff\xfe").unwrap();
    assert!(matches!(
        ApiKey::from_file(&path),
        Err(NanoMdmConfigError::KeyFileNotText { .. })
    ));
    let missing = dir.path().join("absent");
    assert!(matches!(
        ApiKey::from_file(&missing),
        Err(NanoMdmConfigError::KeyFile { .. })
    ));
}

#[tokio::test]
async fn https_with_a_private_ca() {
    use alb_test_support::{RecordingServer, Reply, TestPki};
    use rustls_pki_types::{PrivateKeyDer, pem::PemObject as _};

    let pki = TestPki::new();
    let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes()).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.server.cert_der().clone()], key)
    .unwrap();
    let server = RecordingServer::start_with(Arc::new(tls), [Reply::with_body(200, OK)])
        .await
        .unwrap();
    let url = format!("https://{}", server.addr());
    let mut config = NanoMdmConfig::new(&url, ApiKey::new("s3cret-key".to_owned()));
    config.ca_file_pem = Some(pki.server_ca.cert_pem.clone().into_bytes());
    let reply = NanoMdmClient::new(config)
        .unwrap()
        .enqueue(&["a"], b"<plist/>", false)
        .await
        .unwrap();
    assert_eq!(
        reply.request_type.as_deref(),
        Some("ActivationLockBypassCode")
    );
    let request = &server.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.path, "/v1/enqueue/a");
    assert_eq!(request.query.as_deref(), Some("nopush=1"));
    assert_eq!(request.header("authorization"), Some(basic().as_str()));
    assert_eq!(request.body, b"<plist/>");

    // The public roots do not know the test CA: a transport (TLS) error.
    let error = client(&url).push(&["a"]).await.unwrap_err();
    assert!(matches!(error, NanoMdmError::Transport { .. }), "{error:?}");
}
