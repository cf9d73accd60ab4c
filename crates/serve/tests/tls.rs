//! HTTPS: a real TLS handshake with the certificate given, the API behind it; plain HTTP to the
//! TLS port gets nothing.

use std::sync::Arc;

use alb_serve::{Service, ServiceConfig};
use alb_test_support::TestPki;
use code_store::{MemoryStore, Protection};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{WRITER, keys};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_certificate_given() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &pki.server.cert_pem).unwrap();
    std::fs::write(&key, &pki.server.key_pem).unwrap();
    let tls = alb_serve::tls_config(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service: Service<MemoryStore> = Service::new(
        MemoryStore::new(Protection::Cleartext),
        ServiceConfig::new(keys()),
    );
    let serving = tokio::spawn(service.run(listener, Some(tls), async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.server_ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    for (path, auth, expected) in [
        ("/healthz", None, 200),
        ("/v1/missing", Some(format!("Bearer {WRITER}")), 200),
        ("/metrics", None, 401),
    ] {
        let mut request = hyper::Request::get(path).header("host", "localhost");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        // One request at a time on the connection: wait until it can take the next.
        sender.ready().await.unwrap();
        let response = sender
            .send_request(request.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{path}");
        let _ = response.into_body().collect().await.unwrap();
    }
    // Plain HTTP on the TLS port: no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
