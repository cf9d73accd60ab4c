//! The connector against a real `CONNECT` proxy on loopback: tunnels through it, direct past it.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use alb_proxy::{ConnectError, ProxyConfig, ProxyConnector};
use alb_test_support::ConnectProxy;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioIo};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};
use tower_service::Service as _;

/// A TCP server that echoes what it reads, and how many connections it took.
async fn echo_server() -> (core::net::SocketAddr, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0_u8; 64];
        let n = stream.read(&mut buf).await.unwrap();
        stream.write_all(&buf[..n]).await.unwrap();
        1
    });
    (addr, task)
}

fn tcp() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp
}

async fn round_trip(
    connector: &mut ProxyConnector,
    destination: &str,
) -> Result<Vec<u8>, ConnectError> {
    let stream = connector.call(destination.parse().unwrap()).await?;
    let mut stream = stream.into_inner();
    stream.write_all(b"hello through").await.unwrap();
    let mut buf = vec![0_u8; 13];
    stream.read_exact(&mut buf).await.unwrap();
    let _ = TokioIo::new(stream);
    Ok(buf)
}

#[tokio::test]
async fn an_https_destination_goes_through_the_tunnel() {
    let proxy = ConnectProxy::start(None).await.unwrap();
    let (echo, served) = echo_server().await;
    let config = ProxyConfig::via(&proxy.url()).unwrap();
    let mut connector = ProxyConnector::new(tcp(), &config);

    let echoed = round_trip(&mut connector, &format!("https://{echo}/unlock"))
        .await
        .unwrap();

    assert_eq!(echoed, b"hello through");
    assert_eq!(served.await.unwrap(), 1);
    let tunnels = proxy.tunnels();
    assert_eq!(tunnels.len(), 1);
    assert_eq!(tunnels[0].destination, echo.to_string());
    assert!(tunnels[0].opened);
    assert_eq!(tunnels[0].authorization, None);
}

#[tokio::test]
async fn a_no_proxy_destination_goes_direct() {
    let proxy = ConnectProxy::start(None).await.unwrap();
    let (echo, served) = echo_server().await;
    let config = ProxyConfig::via(&proxy.url())
        .unwrap()
        .no_proxy("127.0.0.1");
    let mut connector = ProxyConnector::new(tcp(), &config);

    let echoed = round_trip(&mut connector, &format!("https://{echo}/"))
        .await
        .unwrap();

    assert_eq!(echoed, b"hello through");
    assert_eq!(served.await.unwrap(), 1);
    assert!(proxy.tunnels().is_empty(), "the proxy saw nothing");
}

#[tokio::test]
async fn the_proxy_url_credentials_open_an_authenticating_proxy() {
    let proxy = ConnectProxy::start(Some(("ops", "s3cret"))).await.unwrap();
    let (echo, served) = echo_server().await;
    let with = format!("http://ops:s3cret@{}", proxy.addr());
    let mut connector = ProxyConnector::new(tcp(), &ProxyConfig::via(&with).unwrap());
    let echoed = round_trip(&mut connector, &format!("https://{echo}/"))
        .await
        .unwrap();
    assert_eq!(echoed, b"hello through");
    assert_eq!(served.await.unwrap(), 1);

    // Without them, or with the wrong ones, the proxy refuses and says so.
    for url in [proxy.url(), format!("http://ops:wrong@{}", proxy.addr())] {
        let mut connector = ProxyConnector::new(tcp(), &ProxyConfig::via(&url).unwrap());
        let error = round_trip(&mut connector, &format!("https://{echo}/"))
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ConnectError::Tunnel { .. }), "{text}");
        assert!(text.contains(&proxy.addr().to_string()), "{text}");
        assert!(text.contains("auth"), "{text}");
        assert!(
            !text.contains("wrong"),
            "no credential in the message: {text}"
        );
    }
    let tunnels = proxy.tunnels();
    assert_eq!(tunnels.len(), 3);
    assert_eq!(
        tunnels[0].authorization.as_deref(),
        Some("Basic b3BzOnMzY3JldA==")
    );
    assert!(tunnels[0].opened && !tunnels[1].opened && !tunnels[2].opened);
}

#[tokio::test]
async fn a_proxy_that_is_not_there_is_named_in_the_error() {
    // A port just freed: nothing listens there.
    let free = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let config = ProxyConfig::via(&format!("http://{free}")).unwrap();
    let mut connector = ProxyConnector::new(tcp(), &config);
    let error = connector
        .call("https://gsa-ws.apple.com/".parse().unwrap())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains(&free.to_string()), "{text}");
    assert!(text.contains("gsa-ws.apple.com:443"), "{text}");
}
