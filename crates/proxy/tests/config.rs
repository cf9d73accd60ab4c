//! Which destinations go through the proxy, and which proxy values are refused.

// Test helpers unwrap like the tests that call them.
#![allow(clippy::unwrap_used)]

use alb_proxy::{ProxyConfig, ProxyError};

fn uri(text: &str) -> hyper::Uri {
    text.parse().unwrap()
}

#[test]
fn no_proxy_names_hosts_domains_and_addresses_that_go_direct() {
    let config = ProxyConfig::via("http://proxy.example:3128")
        .unwrap()
        .no_proxy("localhost, .corp.example,10.0.0.0/8,192.168.1.7");
    let through = |u: &str| config.proxy_for(&uri(u)).is_some();
    assert!(through(
        "https://gsa-ws.apple.com/deviceservicesworkers/escrowKeyUnlock"
    ));
    assert!(through("https://mdmenrollment.apple.com/session"));
    assert!(!through("https://localhost:8443/"));
    assert!(!through("https://mdm.corp.example/"));
    assert!(!through("https://10.20.30.40/"));
    assert!(!through("https://192.168.1.7:443/"));
    assert!(through("https://192.168.1.8/"));
    let proxy = config.proxy_for(&uri("https://gsa-ws.apple.com/")).unwrap();
    assert_eq!(proxy.uri().to_string(), "http://proxy.example:3128/");

    assert!(
        ProxyConfig::none()
            .proxy_for(&uri("https://gsa-ws.apple.com/"))
            .is_none()
    );
    assert!(ProxyConfig::none().is_none());
    let star = ProxyConfig::via("proxy.example:3128")
        .unwrap()
        .no_proxy("*");
    assert!(star.proxy_for(&uri("https://gsa-ws.apple.com/")).is_none());
}

#[test]
fn a_bare_host_and_port_is_an_http_proxy() {
    let config = ProxyConfig::via("proxy.example:3128").unwrap();
    let proxy = config.proxy_for(&uri("https://gsa-ws.apple.com/")).unwrap();
    assert_eq!(proxy.uri().scheme_str(), Some("http"));
}

#[test]
fn credentials_are_sent_as_basic_and_never_shown() {
    let config = ProxyConfig::via("http://ops:s3cret@proxy.example:3128").unwrap();
    let proxy = config.proxy_for(&uri("https://gsa-ws.apple.com/")).unwrap();
    // base64("ops:s3cret")
    assert_eq!(proxy.basic_auth().unwrap(), "Basic b3BzOnMzY3JldA==");
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("ops:***@proxy.example:3128"), "{shown}");
}

#[test]
fn unusable_proxies_are_refused_with_the_reason() {
    for (url, expected) in [
        (
            "https://proxy.example:3128",
            "unsupported proxy scheme `https`",
        ),
        (
            "socks5://proxy.example:1080",
            "unsupported proxy scheme `socks5`",
        ),
        ("http://", "not a proxy URL"),
        ("not a url at all", "not a proxy URL"),
        ("\u{1b}[31m://x", "not a proxy URL"),
    ] {
        let error = ProxyConfig::via(url).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected), "{url:?}: {text}");
        assert!(text.starts_with("proxy URL: "), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
    assert!(matches!(
        ProxyConfig::via("ftp://proxy.example").unwrap_err(),
        ProxyError::UnsupportedScheme { .. }
    ));
}
