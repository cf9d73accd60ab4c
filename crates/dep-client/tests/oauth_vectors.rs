//! OAuth 1.0a signing against RFC 5849 (and OAuth Core 1.0) published examples, and the
//! header the client sends.

use dep_client::{
    Secret, ServerToken,
    oauth::{
        OAuthRequest, authorization_header, base_string_uri, hmac_sha1_signature,
        parse_authorization, percent_encode, signature_base_string,
    },
};
use hyper::Uri;

/// The photos.example.net credentials of RFC 5849 §1.2 and OAuth Core 1.0 Appendix A.
const CONSUMER_KEY: &str = "dpf43f3p2l4k3l03";
const CONSUMER_SECRET: &str = "kd94hf93k423kf44";
const TOKEN: &str = "nnch734d00sl2jdk";
const TOKEN_SECRET: &str = "pfkkdhi9sl3r4s00";

#[test]
fn rfc_5849_section_1_2_photos_request() {
    let uri: Uri = "http://photos.example.net/photos?file=vacation.jpg&size=original"
        .parse()
        .unwrap();
    let params = [
        ("oauth_consumer_key", CONSUMER_KEY),
        ("oauth_token", TOKEN),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131202"),
        ("oauth_nonce", "chapoH"),
    ];
    let base = signature_base_string("GET", &uri, &params);
    assert_eq!(
        base,
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26\
         oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26\
         oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26\
         oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
    );
    assert_eq!(
        hmac_sha1_signature(&base, CONSUMER_SECRET, TOKEN_SECRET),
        "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    );
}

#[test]
fn oauth_core_1_0_appendix_a_classic_example() {
    let uri: Uri = "http://photos.example.net/photos?file=vacation.jpg&size=original"
        .parse()
        .unwrap();
    let params = [
        ("oauth_consumer_key", CONSUMER_KEY),
        ("oauth_token", TOKEN),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1191242096"),
        ("oauth_nonce", "kllo9940pd9333jh"),
        ("oauth_version", "1.0"),
    ];
    let base = signature_base_string("GET", &uri, &params);
    assert_eq!(
        base,
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26\
         oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26\
         oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26\
         oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
    );
    // The signing key is "kd94hf93k423kf44&pfkkdhi9sl3r4s00".
    assert_eq!(
        hmac_sha1_signature(&base, CONSUMER_SECRET, TOKEN_SECRET),
        "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
    );
}

#[test]
fn rfc_5849_section_3_4_1_1_base_string() {
    // Query b5=%3D%253D&a3=a&c%40=&a2=r%20b, body c2&a3=2+q, and the oauth parameters.
    let uri: Uri = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
        .parse()
        .unwrap();
    let params = [
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ];
    assert_eq!(
        signature_base_string("POST", &uri, &params),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
         %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
         key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
         ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
         9d7dh3k39sjv7"
    );
}

#[test]
fn rfc_5849_section_3_4_1_2_base_string_uris() {
    for (uri, base) in [
        (
            "HTTP://EXAMPLE.COM:80/r%20v/X?id=123",
            "http://example.com/r%20v/X",
        ),
        (
            "https://www.example.net:8080/?q=1",
            "https://www.example.net:8080/",
        ),
        (
            "https://mdmenrollment.apple.com/session",
            "https://mdmenrollment.apple.com/session",
        ),
        (
            "https://mdmenrollment.apple.com:443/session",
            "https://mdmenrollment.apple.com/session",
        ),
    ] {
        assert_eq!(base_string_uri(&uri.parse().unwrap()), base, "{uri}");
    }
}

#[test]
fn rfc_5849_section_3_6_percent_encoding() {
    for (raw, encoded) in [
        ("Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"),
        ("An encoded string!", "An%20encoded%20string%21"),
        ("Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice"),
        ("☃", "%E2%98%83"),
        ("-._~", "-._~"),
    ] {
        assert_eq!(percent_encode(raw), encoded);
    }
}

fn token(consumer_secret: &str, access_secret: &str) -> ServerToken {
    ServerToken::new(
        "CK_abc",
        Secret::from(consumer_secret),
        Secret::from("AT_1+2/3"),
        Secret::from(access_secret),
        time::OffsetDateTime::UNIX_EPOCH,
    )
}

#[test]
fn the_session_header_is_signed_as_dep_md_says() {
    let uri: Uri = "https://mdmenrollment.apple.com/session".parse().unwrap();
    let token = token("CS_x&y", "AS_z w");
    let request = OAuthRequest {
        method: "GET",
        uri: &uri,
        timestamp: 1_700_000_000,
        nonce: "0123abcd",
        realm: Some("ADM"),
    };
    let header = authorization_header(&token, &request);
    let header = header.expose();
    assert!(
        header.starts_with("OAuth realm=\"ADM\", oauth_consumer_key=\"CK_abc\", "),
        "{header}"
    );
    // Values percent-encoded inside the quotes.
    assert!(header.contains("oauth_token=\"AT_1%2B2%2F3\""), "{header}");
    assert!(header.contains("oauth_signature_method=\"HMAC-SHA1\""));
    assert!(header.contains("oauth_timestamp=\"1700000000\""));
    assert!(header.contains("oauth_nonce=\"0123abcd\""));
    assert!(header.contains("oauth_version=\"1.0\""));

    // The signature is over the sorted oauth_* parameters (realm not signed), keyed by
    // pct(consumer_secret)&pct(access_secret): recompute it independently of the header.
    let base = "GET&https%3A%2F%2Fmdmenrollment.apple.com%2Fsession&\
                oauth_consumer_key%3DCK_abc%26oauth_nonce%3D0123abcd%26\
                oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1700000000%26\
                oauth_token%3DAT_1%252B2%252F3%26oauth_version%3D1.0";
    let params = parse_authorization(header).unwrap();
    let signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(name, _)| name != "realm" && name != "oauth_signature")
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(signature_base_string("GET", &uri, &signed), base);
    let signature = &params
        .iter()
        .find(|(n, _)| n == "oauth_signature")
        .unwrap()
        .1;
    assert_eq!(*signature, hmac_sha1_signature(base, "CS_x&y", "AS_z w"));
    // Key = "CS_x%26y&AS_z%20w": a different secret gives a different signature.
    assert_ne!(*signature, hmac_sha1_signature(base, "CS_x&y", "AS_z+w"));

    // Without a realm, none is sent.
    let bare = authorization_header(
        &token,
        &OAuthRequest {
            realm: None,
            ..request
        },
    );
    assert!(bare.expose().starts_with("OAuth oauth_consumer_key="));
}
