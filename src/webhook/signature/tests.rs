//! Signature tests: HubSpot's official vectors plus edge cases of our own.

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct Vectors {
    generator: Generator,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Generator {
    clock_pinned_to_ms: i64,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    version: String,
    client_secret: String,
    method: String,
    uri: String,
    uri_on_wire: Option<String>,
    body: String,
    timestamp: Option<String>,
    signature: String,
    valid: bool,
}

fn vectors() -> Vectors {
    let text = include_str!("../../../fixtures/signatures/webhook-signatures.json");
    serde_json::from_str(text).expect("fixture parses")
}

fn verifier(secret: &str) -> Verifier {
    Verifier {
        client_secret: Secret::from(secret),
        max_age_secs: 300,
        accept_legacy: true,
    }
}

fn headers_for<'a>(
    version: &'a str,
    signature: &'a str,
    timestamp: Option<&'a str>,
) -> SignatureHeaders<'a> {
    if version == "v3" {
        SignatureHeaders {
            v3: Some(signature),
            timestamp,
            ..Default::default()
        }
    } else {
        SignatureHeaders {
            legacy: Some(signature),
            legacy_version: Some(version),
            ..Default::default()
        }
    }
}

/// Each vector's `uri` is exactly what the SDK validator hashed, so it is checked against the
/// raw algorithm; where the vector also gives the URI as it was on the wire, the full verifier
/// (which decodes the twelve escapes itself) must accept that form.
#[test]
fn official_vectors() {
    let fixture = vectors();
    let now_ms = fixture.generator.clock_pinned_to_ms;
    assert_eq!(fixture.vectors.len(), 12);
    for vector in &fixture.vectors {
        let secret = vector.client_secret.as_bytes();
        let body = vector.body.as_bytes();
        let raw_match = match vector.version.as_str() {
            "v1" => sign_v1(secret, body) == vector.signature,
            "v2" => sign_v2(secret, &vector.method, &vector.uri, body) == vector.signature,
            "v3" => {
                let timestamp = vector
                    .timestamp
                    .as_deref()
                    .expect("v3 vector has a timestamp");
                sign_v3(secret, &vector.method, &vector.uri, body, timestamp) == vector.signature
            }
            other => panic!("unknown version {other}"),
        };
        let headers = headers_for(
            &vector.version,
            &vector.signature,
            vector.timestamp.as_deref(),
        );
        let signed = Signed {
            method: &vector.method,
            uri: vector.uri_on_wire.as_deref().unwrap_or(&vector.uri),
            body,
        };
        let verdict = verifier(&vector.client_secret).verify(&headers, &signed, now_ms);
        if vector.name == "v3-invalid-percent-encoded-not-decoded" {
            // The SDK was handed the undecoded URI: the raw hash must not match, while our
            // verifier, which decodes, accepts the same wire request.
            assert!(!raw_match, "{}", vector.name);
            assert_eq!(verdict, Ok(Version::V3), "{}", vector.name);
            continue;
        }
        if vector.name == "v3-invalid-stale-timestamp" {
            assert!(raw_match, "the HMAC itself is right in {}", vector.name);
            assert_eq!(verdict, Err(SignatureError::Stale { max_age_secs: 300 }));
            continue;
        }
        assert_eq!(raw_match, vector.valid, "raw algorithm, {}", vector.name);
        assert_eq!(
            verdict.is_ok(),
            vector.valid,
            "verifier, {}: {verdict:?}",
            vector.name
        );
    }
}

#[test]
fn sdk_published_v1_example() {
    let body = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    assert_eq!(
        sign_v1(b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", body),
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    );
}

#[test]
fn decodes_exactly_the_twelve_escapes() {
    let cases = [
        ("https://h.example/a", "https://h.example/a"),
        ("%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", ":/?@!$'()*,;"),
        ("%3a%2f", ":/"),
        ("%20%26%3D%25%2B+%7E", "%20%26%3D%25%2B+%7E"),
        ("%", "%"),
        ("%3", "%3"),
        ("x%3", "x%3"),
        ("%%3A", "%:"),
        ("%253A", "%253A"),
        ("/caf\u{e9}%21/\u{1f600}", "/caf\u{e9}!/\u{1f600}"),
    ];
    for (wire, decoded) in cases {
        assert_eq!(decode_v3_uri(wire), decoded, "{wire}");
    }
}

const NOW_MS: i64 = 1_767_225_600_000;
const URI: &str = "https://hooks.example.com/webhooks/hubspot?tenant=a%2Fb";
const BODY: &[u8] = "[{\"eventId\":1,\"propertyValue\":\"Zo\u{eb} \u{1f600}\"}]".as_bytes();

fn check_v3(secret: &str, timestamp: &str, signature: &str) -> Result<Version, SignatureError> {
    let headers = SignatureHeaders {
        v3: Some(signature),
        timestamp: Some(timestamp),
        ..Default::default()
    };
    let signed = Signed {
        method: "POST",
        uri: URI,
        body: BODY,
    };
    verifier(secret).verify(&headers, &signed, NOW_MS)
}

fn good_v3(secret: &str, timestamp: &str) -> String {
    sign_v3(
        secret.as_bytes(),
        "POST",
        &decode_v3_uri(URI),
        BODY,
        timestamp,
    )
}

#[test]
fn v3_edge_cases() {
    let secret = "s\u{e9}cret-\u{1f511}";
    let fresh = (NOW_MS - 1_000).to_string();
    let signature = good_v3(secret, &fresh);
    assert_eq!(check_v3(secret, &fresh, &signature), Ok(Version::V3));
    // Wrong secret, truncated, case-changed, empty, wrong body.
    assert!(check_v3("other", &fresh, &signature).is_err());
    assert!(check_v3(secret, &fresh, &signature[..signature.len() - 1]).is_err());
    assert!(check_v3(secret, &fresh, &signature.to_ascii_lowercase()).is_err());
    assert!(check_v3(secret, &fresh, "").is_err());
    // The timestamp is part of the MAC: a different one with the same signature fails.
    assert!(check_v3(secret, &(NOW_MS - 2_000).to_string(), &signature).is_err());
    // Exactly at the window edge in both directions passes; one ms beyond fails.
    for timestamp in [NOW_MS - 300_000, NOW_MS + 300_000] {
        let text = timestamp.to_string();
        assert_eq!(
            check_v3(secret, &text, &good_v3(secret, &text)),
            Ok(Version::V3)
        );
    }
    for timestamp in [NOW_MS - 300_001, NOW_MS + 300_001] {
        let text = timestamp.to_string();
        let verdict = check_v3(secret, &text, &good_v3(secret, &text));
        assert_eq!(verdict, Err(SignatureError::Stale { max_age_secs: 300 }));
    }
    // Not digits: rejected before any comparison.
    for timestamp in [
        "",
        "1767225599000.0",
        "-1",
        " 1767225599000",
        "abc",
        "99999999999999999999",
    ] {
        let verdict = check_v3(secret, timestamp, &good_v3(secret, timestamp));
        assert!(
            matches!(verdict, Err(SignatureError::Invalid(_))),
            "{timestamp:?}: {verdict:?}"
        );
    }
}

#[test]
fn header_combinations() {
    let signed = Signed {
        method: "POST",
        uri: URI,
        body: BODY,
    };
    let secret = "secret";
    let v1 = sign_v1(secret.as_bytes(), BODY);
    let v2 = sign_v2(secret.as_bytes(), "POST", URI, BODY);
    let check = |headers: SignatureHeaders<'_>, accept_legacy: bool| {
        let mut verifier = verifier(secret);
        verifier.accept_legacy = accept_legacy;
        verifier.verify(&headers, &signed, NOW_MS)
    };
    assert_eq!(
        check(SignatureHeaders::default(), true),
        Err(SignatureError::Missing)
    );
    let legacy = |signature, version| SignatureHeaders {
        legacy: Some(signature),
        legacy_version: version,
        ..Default::default()
    };
    assert_eq!(check(legacy(&v1, Some("v1")), true), Ok(Version::V1));
    assert_eq!(check(legacy(&v1, None), true), Ok(Version::V1));
    assert_eq!(check(legacy(&v2, Some("v2")), true), Ok(Version::V2));
    assert!(check(legacy(&v1, Some("v2")), true).is_err());
    assert!(check(legacy(&v1, Some("v3")), true).is_err());
    let upper = v1.to_ascii_uppercase();
    assert!(check(legacy(&upper, Some("v1")), true).is_err());
    assert!(check(legacy(&v1, Some("v1")), false).is_err());
    // v3 is preferred: a valid legacy signature does not rescue a wrong v3 one.
    let mut both = legacy(&v1, Some("v1"));
    both.v3 = Some("AAAA");
    both.timestamp = Some("1767225599000");
    assert!(check(both, true).is_err());
    // v3 without its timestamp header.
    let timestamp = NOW_MS.to_string();
    let v3 = good_v3(secret, &timestamp);
    let without_timestamp = SignatureHeaders {
        v3: Some(&v3),
        ..Default::default()
    };
    assert!(matches!(
        check(without_timestamp, true),
        Err(SignatureError::Invalid(_))
    ));
}

/// What the headers alone decide, before a body is read, agrees with the full check.
#[test]
fn headers_are_checked_before_the_body() {
    let verifier = |accept_legacy| Verifier {
        accept_legacy,
        ..verifier("secret")
    };
    let fresh = NOW_MS.to_string();
    let stale = (NOW_MS - 301_000).to_string();
    let cases = [
        (
            SignatureHeaders::default(),
            true,
            Err(SignatureError::Missing),
        ),
        (
            SignatureHeaders {
                v3: Some("anything"),
                timestamp: Some(&fresh),
                ..Default::default()
            },
            false,
            Ok(Version::V3),
        ),
        (
            SignatureHeaders {
                v3: Some("anything"),
                timestamp: Some(&stale),
                ..Default::default()
            },
            false,
            Err(SignatureError::Stale { max_age_secs: 300 }),
        ),
        (
            SignatureHeaders {
                legacy: Some("anything"),
                legacy_version: Some("v2"),
                ..Default::default()
            },
            true,
            Ok(Version::V2),
        ),
    ];
    for (headers, accept_legacy, expected) in cases {
        assert_eq!(
            verifier(accept_legacy).check_headers(&headers, NOW_MS),
            expected,
            "{headers:?}"
        );
    }
    let legacy_refused = SignatureHeaders {
        legacy: Some("anything"),
        ..Default::default()
    };
    assert!(matches!(
        verifier(false).check_headers(&legacy_refused, NOW_MS),
        Err(SignatureError::Invalid(_))
    ));
}

#[test]
fn legacy_requests_expire_with_their_dedup_window() {
    let day_ms = 86_400_000;
    let window_ms = 7 * day_ms;
    let check = |oldest| check_legacy_age(oldest, window_ms, NOW_MS);
    assert_eq!(check(None), Ok(()), "an empty batch");
    assert_eq!(check(Some(NOW_MS - day_ms)), Ok(()), "a retry within a day");
    assert_eq!(check(Some(NOW_MS - window_ms + 1)), Ok(()));
    assert_eq!(
        check(Some(NOW_MS + day_ms)),
        Ok(()),
        "HubSpot's clock ahead"
    );
    for oldest in [NOW_MS - window_ms, NOW_MS - 30 * day_ms, i64::MIN] {
        assert_eq!(check(Some(oldest)), Err(SignatureError::LegacyExpired));
    }
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary header values, URIs and bodies never panic the verifier, and never pass.
        #[test]
        fn verifier_never_panics(
            v3 in proptest::option::of(".{0,60}"),
            timestamp in proptest::option::of("[0-9a-z.\\-]{0,20}"),
            legacy in proptest::option::of("[0-9a-fA-F]{0,70}"),
            version in proptest::option::of("v[0-9]|.{0,3}"),
            uri in "(https?://[a-z.]{1,10})?(/[%0-9A-Za-z:?&=]{0,30}){0,3}",
            body in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let headers = SignatureHeaders {
                v3: v3.as_deref(),
                timestamp: timestamp.as_deref(),
                legacy: legacy.as_deref(),
                legacy_version: version.as_deref(),
            };
            let signed = Signed { method: "POST", uri: &uri, body: &body };
            prop_assert!(verifier("secret").verify(&headers, &signed, NOW_MS).is_err());
            let _ = decode_v3_uri(&uri);
        }
    }
}
