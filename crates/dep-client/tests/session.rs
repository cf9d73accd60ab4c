//! The session layer end to end over real TLS: authentication and its headers, rotation,
//! re-authentication once, typed refusals, throttling, and the transport's bounds.

use std::time::{Duration, SystemTime};

use dep_client::{
    ActivationLockRequest, BaseUrl, ConfigError, DEFAULT_USER_AGENT, DepClient, DepError,
    oauth::{self, OAuthRequest},
    testing::{ErrorStyle, Scripted, StandIn, TestPki},
};

use crate::common::{env, env_with, escrow_key_for, fast_config, raw_get};

const LOCK: &str = "/device/activationlock";

fn request(serial: &str) -> ActivationLockRequest {
    ActivationLockRequest::new(serial, escrow_key_for(serial)).unwrap()
}

#[tokio::test]
async fn authenticates_once_and_sends_the_required_headers() {
    let env = env().await;
    env.client
        .activation_lock(&request("C02AAAA00001"))
        .await
        .unwrap();
    env.client
        .activation_lock(&request("C02AAAA00002"))
        .await
        .unwrap();
    assert_eq!(env.stand_in.authentications(), 1);
    assert_eq!(env.client.session_stats().authentications, 1);
    let requests = env.stand_in.requests();
    let paths: Vec<_> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /session",
            "POST /device/activationlock",
            "POST /device/activationlock"
        ]
    );
    let session = &requests[0];
    let authorization = session.header("authorization").unwrap();
    assert!(
        authorization.starts_with("OAuth realm=\"ADM\", oauth_consumer_key=\""),
        "{authorization}"
    );
    assert_eq!(session.header("user-agent"), Some(DEFAULT_USER_AGENT));
    assert!(DEFAULT_USER_AGENT.starts_with("alb-mdm/"));
    for post in &requests[1..] {
        assert_eq!(post.header("user-agent"), Some(DEFAULT_USER_AGENT));
        assert_eq!(post.header("x-server-protocol-version"), Some("7"));
        assert!(
            post.header("x-adm-auth-session")
                .is_some_and(|s| s.starts_with("SESSION-"))
        );
        assert!(post.header("authorization").is_none());
    }
    assert_eq!(
        requests[1].header("x-adm-auth-session"),
        requests[2].header("x-adm-auth-session")
    );
}

#[tokio::test]
async fn the_agent_and_protocol_version_are_configurable() {
    let env = env_with(|config| dep_client::DepConfig {
        user_agent: "ExampleMDM/4.2 (ops@example.com)".to_owned(),
        protocol_version: 5,
        ..config
    })
    .await;
    env.client.authenticate().await.unwrap();
    env.client
        .activation_lock(&request("C02BBBB00001"))
        .await
        .unwrap();
    let post = env.stand_in.requests().pop().unwrap();
    assert_eq!(
        post.header("user-agent"),
        Some("ExampleMDM/4.2 (ops@example.com)")
    );
    assert_eq!(post.header("x-server-protocol-version"), Some("5"));
}

#[tokio::test]
async fn a_refused_user_agent_is_a_typed_bad_request() {
    for style in [
        ErrorStyle::Bare,
        ErrorStyle::JsonString,
        ErrorStyle::JsonObject,
    ] {
        let env = env_with(|config| dep_client::DepConfig {
            user_agent: "reqwest/0.12".to_owned(),
            ..config
        })
        .await;
        env.stand_in.set_error_style(style);
        env.stand_in.reject_user_agent("reqwest");
        let error = env
            .client
            .activation_lock(&request("C02CCCC00001"))
            .await
            .unwrap_err();
        match &error {
            DepError::BadRequest {
                endpoint: "GET /session",
                code,
                ..
            } => {
                assert_eq!(code.as_deref(), Some("USER_AGENT_INVALID"), "{style:?}");
            }
            other => panic!("{style:?}: {other:?}"),
        }
        assert!(error.to_string().contains("USER_AGENT_INVALID"));
        assert_eq!(env.stand_in.request_count(), 1, "a 400 is not retried");
    }
}

#[tokio::test]
async fn rotated_sessions_are_adopted() {
    let env = env().await;
    env.stand_in.set_rotate_every(Some(2));
    for n in 0..6 {
        let outcome = env
            .client
            .activation_lock(&request(&format!("C02ROT{n:06}")))
            .await;
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert_eq!(
        env.stand_in.authentications(),
        1,
        "a rotation is not a re-authentication"
    );
    assert_eq!(env.client.session_stats().rotations_adopted, 3);
    let sessions: Vec<_> = env
        .stand_in
        .requests()
        .iter()
        .filter(|r| r.path == LOCK)
        .map(|r| r.header("x-adm-auth-session").unwrap().to_owned())
        .collect();
    assert_eq!(sessions.len(), 6, "no request was refused and re-sent");
    assert_eq!(sessions[0], sessions[1]);
    assert_ne!(sessions[1], sessions[2]);
    assert_eq!(sessions[2], sessions[3]);
    assert_ne!(sessions[3], sessions[4]);
}

#[tokio::test]
async fn an_expired_session_is_renewed_and_the_request_sent_again_once() {
    let env = env().await;
    env.client
        .activation_lock(&request("C02EXP000001"))
        .await
        .unwrap();
    env.stand_in.expire_sessions();
    let outcome = env.client.activation_lock(&request("C02EXP000002")).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(env.stand_in.authentications(), 2);
    assert_eq!(env.client.session_stats().resent_after_reauthentication, 1);
    let paths: Vec<_> = env
        .stand_in
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/session", LOCK, LOCK, "/session", LOCK]);
    let posts: Vec<_> = env
        .stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == LOCK)
        .collect();
    assert_eq!(posts[1].body, posts[2].body, "the same request sent again");
    assert_ne!(
        posts[1].header("x-adm-auth-session"),
        posts[2].header("x-adm-auth-session"),
        "with the new session"
    );
}

#[tokio::test]
async fn a_second_401_is_typed_not_retried_again() {
    let env = env().await;
    env.stand_in.script(
        LOCK,
        [
            Scripted::status(401, "UNAUTHORIZED"),
            Scripted::status(401, "UNAUTHORIZED"),
        ],
    );
    let error = env
        .client
        .activation_lock(&request("C02UNA000001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DepError::Unauthorized {
                endpoint: "POST /device/activationlock",
                ..
            }
        ),
        "{error:?}"
    );
    let paths: Vec<_> = env
        .stand_in
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/session", LOCK, "/session", LOCK]);
}

#[tokio::test]
async fn a_revoked_token_is_unauthorized_at_the_session() {
    let env = env().await;
    env.stand_in.set_reject_tokens(true);
    let error = env
        .client
        .activation_lock(&request("C02REV000001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DepError::Unauthorized {
                endpoint: "GET /session",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(env.stand_in.request_count(), 1);
}

#[tokio::test]
async fn forbidden_renews_the_session_once() {
    let env = env().await;
    env.stand_in
        .script(LOCK, [Scripted::status(403, "\"FORBIDDEN\"")]);
    assert!(
        env.client
            .activation_lock(&request("C02FOR000001"))
            .await
            .is_ok()
    );
    assert_eq!(env.stand_in.authentications(), 2);
    env.stand_in.script(
        LOCK,
        [
            Scripted::status(403, "FORBIDDEN"),
            Scripted::status(403, "FORBIDDEN"),
        ],
    );
    let error = env
        .client
        .activation_lock(&request("C02FOR000002"))
        .await
        .unwrap_err();
    assert!(matches!(error, DepError::Forbidden { .. }), "{error:?}");
}

#[tokio::test]
async fn new_terms_are_typed_and_never_retried() {
    for style in [
        ErrorStyle::Bare,
        ErrorStyle::JsonString,
        ErrorStyle::JsonObject,
    ] {
        let env = env().await;
        env.stand_in.set_error_style(style);
        env.stand_in.set_terms_not_signed(true);
        let error = env
            .client
            .activation_lock(&request("C02TC0000001"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                DepError::TermsNotSigned {
                    endpoint: "GET /session",
                    ..
                }
            ),
            "{style:?} {error:?}"
        );
        assert!(error.to_string().contains("terms and conditions"));
        assert_eq!(env.stand_in.request_count(), 1);

        // With a session already held, the endpoint's own 403 is typed the same way.
        env.stand_in.set_terms_not_signed(false);
        env.client.authenticate().await.unwrap();
        env.stand_in.set_terms_not_signed(true);
        let error = env
            .client
            .activation_lock(&request("C02TC0000002"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                DepError::TermsNotSigned {
                    endpoint: "POST /device/activationlock",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            env.stand_in.authentications(),
            1,
            "re-authenticating does not help"
        );
    }
}

#[tokio::test]
async fn access_denied_is_typed() {
    let env = env().await;
    env.stand_in.set_access_denied(true);
    let error = env
        .client
        .activation_lock(&request("C02DEN000001"))
        .await
        .unwrap_err();
    assert!(matches!(error, DepError::AccessDenied { .. }), "{error:?}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let env = env().await;
    env.stand_in.script(LOCK, [Scripted::throttled("1")]);
    let outcome = env.client.activation_lock(&request("C02THR000001")).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    let posts: Vec<_> = env
        .stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == LOCK)
        .collect();
    assert_eq!(posts.len(), 2);
    // Never re-sent sooner than asked (a lower bound: it cannot fail by machine load).
    assert!(posts[1].received_at - posts[0].received_at >= Duration::from_secs(1));

    // An HTTP-date Retry-After in the past asks for no wait.
    env.stand_in.script(
        LOCK,
        [Scripted::status(503, "")
            .with_retry_after(&httpdate::fmt_http_date(SystemTime::UNIX_EPOCH))],
    );
    assert!(
        env.client
            .activation_lock(&request("C02THR000002"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_wait_longer_than_allowed_ends_the_request_without_waiting() {
    let env = env().await;
    env.stand_in
        .script(LOCK, [Scripted::throttled("99999999999999999999999999")]);
    let error = env
        .client
        .activation_lock(&request("C02THR000003"))
        .await
        .unwrap_err();
    assert!(error.is_transient());
    match error {
        DepError::Unavailable {
            status: 429,
            retry_after,
            attempts: 1,
            ..
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(u64::MAX)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn persistent_unavailability_stops_after_the_attempts_allowed() {
    let env = env().await;
    env.stand_in.script(
        LOCK,
        (0..3).map(|_| Scripted::status(503, "Service Unavailable")),
    );
    let error = env
        .client
        .activation_lock(&request("C02UNV000001"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DepError::Unavailable {
                status: 503,
                attempts: 3,
                retry_after: None,
                ..
            }
        ),
        "{error:?}"
    );
    let posts = env
        .stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == LOCK)
        .count();
    assert_eq!(posts, 3);
}

#[tokio::test]
async fn http_is_refused_before_connecting() {
    let error = BaseUrl::parse("http://127.0.0.1:9/").unwrap_err();
    assert!(matches!(&error, ConfigError::InsecureBaseUrl { scheme } if scheme == "http"));
    assert!(error.to_string().contains("https://"));
    assert!(matches!(
        "ftp://x".parse::<BaseUrl>(),
        Err(ConfigError::InsecureBaseUrl { .. })
    ));
}

#[tokio::test]
async fn an_untrusted_server_is_refused() {
    let pki = TestPki::new();
    let stand_in = StandIn::start(&pki).await.unwrap();
    let stranger = TestPki::new();
    let config = dep_client::DepConfig {
        roots: stranger.trust_roots(),
        ..fast_config(&pki, &stand_in)
    };
    let client = DepClient::new(config, stand_in.token()).unwrap();
    let error = client
        .activation_lock(&request("C02TLS000001"))
        .await
        .unwrap_err();
    match &error {
        DepError::Tls {
            endpoint: "GET /session",
            message,
        } => {
            assert!(message.contains("certificate"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stand_in.request_count(), 0);
    // The default roots (the web PKI) do not trust it either.
    let config = dep_client::DepConfig {
        roots: dep_client::TrustRoots::WebPki,
        ..fast_config(&pki, &stand_in)
    };
    let client = DepClient::new(config, stand_in.token()).unwrap();
    assert!(matches!(
        client.authenticate().await,
        Err(DepError::Tls { .. })
    ));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let env = env().await;
    env.stand_in.script(
        LOCK,
        [
            Scripted::status(200, vec![b' '; 2 * 1024 * 1024]),
            Scripted::status(200, "").chunked(2 * 1024 * 1024),
        ],
    );
    for _ in 0..2 {
        let error = env
            .client
            .activation_lock(&request("C02BIG000001"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, DepError::BodyTooLarge { limit: 65_536, .. }),
            "{error:?}"
        );
    }
    // Error bodies are bounded too, and their excerpt printable.
    env.stand_in
        .script(LOCK, [Scripted::status(418, "\u{1b}[2J".repeat(10_000))]);
    match env
        .client
        .activation_lock(&request("C02BIG000002"))
        .await
        .unwrap_err()
    {
        DepError::UnexpectedStatus {
            status: 418, body, ..
        } => {
            assert!(body.is_truncated());
            assert!(!body.to_text().contains('\u{1b}'));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_silent_service_times_out() {
    let env = env_with(|config| dep_client::DepConfig {
        request_timeout: Duration::from_millis(300),
        ..config
    })
    .await;
    env.client.authenticate().await.unwrap();
    env.stand_in.script(LOCK, [Scripted::hang()]);
    let error = env
        .client
        .activation_lock(&request("C02HANG00001"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, DepError::Timeout { endpoint: "POST /device/activationlock", limit } if limit == Duration::from_millis(300)),
        "{error:?}"
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn an_expired_token_is_refused_before_sending() {
    let pki = TestPki::new();
    let stand_in = StandIn::start(&pki).await.unwrap();
    let live = stand_in.token();
    let expired = dep_client::ServerToken::new(
        live.consumer_key(),
        live.consumer_secret().clone(),
        live.access_token().clone(),
        live.access_secret().clone(),
        time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    );
    let client = DepClient::new(fast_config(&pki, &stand_in), expired).unwrap();
    let error = client
        .activation_lock(&request("C02OLD000001"))
        .await
        .unwrap_err();
    assert!(matches!(error, DepError::TokenExpired { .. }), "{error:?}");
    assert_eq!(stand_in.request_count(), 0);
}

/// The stand-in's OAuth checks, with requests the client would never send.
#[tokio::test]
async fn the_stand_in_checks_signature_timestamp_nonce_and_agent() {
    let pki = TestPki::new();
    let stand_in = StandIn::start(&pki).await.unwrap();
    let url = format!("{}/session", stand_in.base_url());
    let uri: hyper::Uri = url.parse().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = stand_in.token();
    let header = |timestamp: u64, nonce: &str, token: &dep_client::ServerToken| {
        oauth::authorization_header(
            token,
            &OAuthRequest {
                method: "GET",
                uri: &uri,
                timestamp,
                nonce,
                realm: Some("ADM"),
            },
        )
        .expose()
        .to_owned()
    };
    let agent = ("user-agent", "stand-in-test/1");

    let good = header(now, "nonce-1", &token);
    let (status, body) = raw_get(&pki, &url, &[agent, ("authorization", &good)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("auth_session_token"));
    // The same nonce and timestamp again.
    let (status, body) = raw_get(&pki, &url, &[agent, ("authorization", &good)]).await;
    assert_eq!((status, body.as_str()), (401, "oauth: nonce reused"));
    // An hour off.
    let stale = header(now - 3600, "nonce-2", &token);
    let (status, body) = raw_get(&pki, &url, &[agent, ("authorization", &stale)]).await;
    assert_eq!(
        (status, body.as_str()),
        (401, "oauth: timestamp outside the window")
    );
    // Signed with the wrong secret.
    let forged = dep_client::ServerToken::new(
        token.consumer_key(),
        dep_client::Secret::from("CS_wrong"),
        token.access_token().clone(),
        token.access_secret().clone(),
        token.expires_at(),
    );
    let bad = header(now, "nonce-3", &forged);
    let (status, body) = raw_get(&pki, &url, &[agent, ("authorization", &bad)]).await;
    assert_eq!((status, body.as_str()), (401, "oauth: bad signature"));
    // No User-Agent.
    let fresh = header(now, "nonce-4", &token);
    let (status, body) = raw_get(&pki, &url, &[("authorization", &fresh)]).await;
    assert_eq!((status, body.as_str()), (400, "USER_AGENT_MISSING"));
    // No session on an endpoint.
    let (status, _) = raw_get(&pki, &format!("{}{LOCK}", stand_in.base_url()), &[agent]).await;
    assert_eq!(status, 401);
    assert_eq!(stand_in.authentications(), 1);
    assert_eq!(
        stand_in.oauth_rejections(),
        [
            "nonce reused",
            "timestamp outside the window",
            "bad signature"
        ]
    );
}

#[tokio::test]
async fn a_ca_file_is_trusted_and_a_bad_one_refused() {
    let pki = TestPki::new();
    let stand_in = StandIn::start(&pki).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let config = dep_client::DepConfig {
        roots: dep_client::TrustRoots::from_pem_file(&ca).unwrap(),
        ..fast_config(&pki, &stand_in)
    };
    let client = DepClient::new(config, stand_in.token()).unwrap();
    client.authenticate().await.unwrap();
    assert_eq!(stand_in.authentications(), 1);

    std::fs::write(&ca, "not a certificate").unwrap();
    assert!(matches!(
        dep_client::TrustRoots::from_pem_file(&ca),
        Err(ConfigError::NoCaCertificate { .. })
    ));
    assert!(matches!(
        dep_client::TrustRoots::from_pem_file(&dir.path().join("missing.pem")),
        Err(ConfigError::CaFile { .. })
    ));
}
