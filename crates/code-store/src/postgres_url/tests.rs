use super::*;

use proptest::prelude::*;

#[test]
fn loopback_hosts() {
    let tcp = |name: &str| Host::Tcp(name.to_owned());
    let table: &[(Host, bool)] = &[
        (tcp("localhost"), true),
        (tcp("LocalHost"), true),
        (tcp("127.0.0.1"), true),
        (tcp("127.255.3.4"), true),
        (tcp("::1"), true),
        (tcp("0:0:0:0:0:0:0:1"), true),
        (tcp("::ffff:127.0.0.1"), true),
        (Host::Unix("/run/postgresql".into()), true),
        (Host::Unix("/tmp/x y".into()), true),
        (tcp("localhost."), false),
        (tcp("localhost.example"), false),
        (tcp("my-localhost"), false),
        (tcp("128.0.0.1"), false),
        (tcp("126.255.255.255"), false),
        (tcp("0.0.0.0"), false),
        (tcp("::"), false),
        (tcp("::2"), false),
        (tcp("::ffff:192.0.2.1"), false),
        (tcp("192.0.2.1"), false),
        (tcp("10.0.0.1"), false),
        (tcp("[::1]"), false),
        (tcp("127.1"), false),
        (tcp("0x7f000001"), false),
        (tcp("db.example"), false),
        (tcp(""), false),
    ];
    for (host, loopback) in table {
        assert_eq!(is_loopback_host(host), *loopback, "{host:?}");
    }
}

fn transport(url: &str) -> Result<Transport, StoreError> {
    StoreUrl::parse(url).map(|u| u.transport)
}

fn refused_host(url: &str) -> String {
    match StoreUrl::parse(url) {
        Err(StoreError::PlainTextToRemoteHost { host, .. }) => host,
        other => panic!("{url}: {other:?}"),
    }
}

#[test]
fn plain_text_only_to_loopback() {
    for url in [
        "postgres://u@localhost/db",
        "postgresql://u@127.0.0.1:5433/db",
        "postgres://u@[::1]:5432/db",
        "postgres://u@localhost,127.0.0.2:6000/db",
        "postgres://u@%2Frun%2Fpostgresql/db",
        "postgres:///db?host=/run/postgresql&user=u",
        "postgres:///db?host=%2Ftmp",
        // A Unix socket path, whole (commas included).
        "postgres:///db?host=/tmp,192.0.2.8",
        "postgres:///db",
        "postgres://u@db.example/db?hostaddr=127.0.0.1",
        "postgres://u@db.example,db2.example/db?hostaddr=127.0.0.1,::1",
        "postgres://u@192.0.2.1/db?sslmode=disable",
        "postgres://u@db.example/db?sslmode=disable",
    ] {
        assert_eq!(transport(url).unwrap(), Transport::Plain, "{url}");
    }
    for (url, host) in [
        ("postgres://u@192.0.2.1/db", "192.0.2.1"),
        ("postgres://u:pw@db.example:5432/db", "db.example"),
        ("postgres://u@localhost,192.0.2.1/db", "192.0.2.1"),
        (
            "postgres://u@127.0.0.1:5432,[2001:db8::1]:5432/db",
            "2001:db8::1",
        ),
        ("postgres://u@localhost/db?host=192.0.2.7", "192.0.2.7"),
        ("postgres:///db?host=/tmp&host=192.0.2.8", "192.0.2.8"),
        // tokio-postgres takes a `?host=` value whole: one (unresolvable) name.
        (
            "postgres:///db?host=localhost,192.0.2.8",
            "localhost,192.0.2.8",
        ),
        ("postgres://u@localhost/db?hostaddr=192.0.2.1", "192.0.2.1"),
        // Lists that do not pair up: every entry is checked.
        (
            "postgres://u@localhost,db2.example/db?hostaddr=127.0.0.1",
            "db2.example",
        ),
        (
            "postgres://u@db.example,localhost/db?hostaddr=127.0.0.1,192.0.2.3",
            "192.0.2.3",
        ),
        (
            "postgres://u@db.example,localhost/db?hostaddr=127.0.0.1",
            "db.example",
        ),
        ("postgres://u@localhost./db", "localhost."),
        ("postgres://u@127.1/db", "127.1"),
    ] {
        assert_eq!(refused_host(url), host, "{url}");
    }
}

#[test]
fn tls_modes() {
    assert_eq!(
        transport("postgres://u@db.example/db?sslmode=verify-full").unwrap(),
        Transport::Verified { root_cert: None }
    );
    assert_eq!(
        transport(
            "postgres://u@db.example/db?sslrootcert=%2Fca%20dir%2Fca.pem&sslmode=verify-full"
        )
        .unwrap(),
        Transport::Verified {
            root_cert: Some("/ca dir/ca.pem".into())
        }
    );
    assert_eq!(
        transport("postgres://u@db.example/db?sslmode=verify-full&sslrootcert=system").unwrap(),
        Transport::Verified { root_cert: None }
    );
    // A percent-encoded name is the same parameter to tokio-postgres.
    assert_eq!(
        transport("postgres://u@db.example/db?ssl%6Dode=verify-full").unwrap(),
        Transport::Verified { root_cert: None }
    );
    for (mode, says) in [
        ("require", "anyone on the path"),
        ("verify-ca", "names the host"),
        ("prefer", "fall back to plain text"),
        ("allow", "fall back to plain text"),
        ("VERIFY-FULL", "unknown sslmode"),
        ("", "unknown sslmode"),
    ] {
        for host in ["localhost", "db.example"] {
            let url = format!("postgres://u:pw@{host}/db?sslmode={mode}&password=pw2");
            let err = StoreUrl::parse(&url).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StoreError::Url { .. }), "{text}");
            assert!(
                text.contains(says) && text.contains("verify-full"),
                "{text}"
            );
            assert!(!text.contains("pw"), "{text}");
        }
    }
    for url in [
        "postgres://u@localhost/db?sslrootcert=/ca.pem",
        "postgres://u@localhost/db?sslrootcert=/ca.pem&sslmode=disable",
        "postgres://u@localhost/db?sslmode=disable&sslmode=verify-full",
        "postgres://u@localhost/db?sslmode=%FF",
        "postgres://u@localhost/db?sslmode=verify-full&bogus=1",
        "postgres://u@localhost:port/db",
        "postgres://u@localhost/db?password",
        "host=localhost user=u",
        "mysql://u@localhost/db",
    ] {
        let err = StoreUrl::parse(url).unwrap_err();
        assert!(matches!(err, StoreError::Url { .. }), "{url}: {err}");
    }
}

#[test]
fn what_tokio_postgres_is_given() {
    let url = StoreUrl::parse(
        "postgres://u:p%40ss@db.example:6000/alb?sslmode=verify-full&connect_timeout=5&sslrootcert=/ca.pem",
    )
    .unwrap();
    let c = &url.config;
    assert_eq!(c.get_user(), Some("u"));
    assert_eq!(c.get_password(), Some(&b"p@ss"[..]));
    assert_eq!(c.get_hosts(), &[Host::Tcp("db.example".into())]);
    assert_eq!(c.get_ports(), &[6000]);
    assert_eq!(c.get_dbname(), Some("alb"));
    assert_eq!(c.get_ssl_mode(), SslMode::Require);
    assert_eq!(
        c.get_connect_timeout(),
        Some(&core::time::Duration::from_secs(5))
    );
    assert_eq!(
        url.redacted,
        "postgres://u:***@db.example:6000/alb?sslmode=verify-full&connect_timeout=5&sslrootcert=/ca.pem"
    );
    let debug = format!("{url:?}");
    assert!(
        !debug.contains("p@ss") && !debug.contains("p%40ss"),
        "{debug}"
    );

    let plain = StoreUrl::parse("postgres://u@localhost/db?password=s%26cret").unwrap();
    assert_eq!(plain.config.get_password(), Some(&b"s&cret"[..]));
    assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
    assert_eq!(plain.redacted, "postgres://u@localhost/db?password=***");

    let sockets = StoreUrl::parse("postgres:///db").unwrap();
    assert_eq!(
        sockets.config.get_hosts(),
        DEFAULT_SOCKET_DIRS.map(|d| Host::Unix(d.into())).as_slice()
    );
}

/// Pieces of URLs, to put every separator everywhere (and, often enough, the marker in a
/// password that tokio-postgres reads).
const PIECES: &[&str] = &[
    "u",
    "h",
    "db",
    ":",
    "@",
    "/",
    "?",
    "&",
    "=",
    "password",
    "pass%77ord",
    "%40",
    "%3D",
    "%26",
    "host",
    "sslmode",
    "disable",
    "localhost",
    ",",
    "5432",
    "u:",
    "@h/db",
    "?password=",
    "&password=",
    "?PassWord=",
    "&pass%77ord=",
    "?x=1",
    "&x=a",
    "?sslmode=disable",
];

proptest! {
    /// Whatever `tokio-postgres` reads as the password is hidden by `redact_url`.
    #[test]
    fn redaction_hides_what_tokio_postgres_sends(
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..10),
        at in any::<prop::sample::Index>(),
        scheme in prop::sample::select(&["postgres://", "postgresql://"][..]),
    ) {
        // One marker, once: if it is in the password, it must not be in the message.
        let mut pieces = pieces;
        let at = at.index(pieces.len() + 1);
        pieces.insert(at, "SECRET");
        let url = format!("{scheme}{}", pieces.concat());
        let redacted = redact_url(&url);
        if let Ok(config) = Config::from_str(&url)
            && config.get_password().is_some_and(|p| p.windows(6).any(|w| w == b"SECRET"))
        {
            prop_assert!(!redacted.contains("SECRET"), "{url} -> {redacted}");
        }
        if let Err(e) = StoreUrl::parse(&url) {
            let text = format!("{e} {e:?}");
            if Config::from_str(&url).is_ok_and(|c| c.get_password().is_some_and(|p| p.windows(6).any(|w| w == b"SECRET"))) {
                prop_assert!(!text.contains("SECRET"), "{url} -> {text}");
            }
        }
    }
}

/// A URL part that may hold any separator.
fn part() -> impl Strategy<Value = String> {
    "[a-c:@/?&=%,]{0,4}"
}

proptest! {
    /// The same, on URLs built as people write them, with separators in every part and the
    /// marker in the user information's password or in a `password` parameter.
    #[test]
    fn redaction_hides_passwords_of_built_urls(
        user in part(),
        password in part(),
        in_query in any::<bool>(),
        host in part(),
        db in part(),
        pairs in prop::collection::vec((part(), part()), 0..3),
        key in prop::sample::select(&["password", "pass%77ord", "%70assword"][..]),
        place in any::<prop::sample::Index>(),
    ) {
        let secret = format!("{password}SECRET{password}");
        let mut url = format!("postgres://{user}");
        if !in_query {
            url.push(':');
            url.push_str(&secret);
        }
        url.push_str(&format!("@{host}/{db}"));
        let mut query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if in_query {
            query.insert(place.index(query.len() + 1), format!("{key}={secret}"));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let sends_secret = Config::from_str(&url)
            .is_ok_and(|c| c.get_password().is_some_and(|p| p.windows(6).any(|w| w == b"SECRET")));
        let redacted = redact_url(&url);
        prop_assert!(!sends_secret || !redacted.contains("SECRET"), "{url} -> {redacted}");
        if let Err(e) = StoreUrl::parse(&url) {
            let text = format!("{e} {e:?}");
            prop_assert!(!sends_secret || !text.contains("SECRET"), "{url} -> {text}");
        }
    }
}
