//! Fuzzes `webhook::signature::Verifier::verify` with arbitrary headers, URIs and bodies: it
//! never panics, and a request signed correctly (v3 now, v1, v2) is always accepted.
//!
//! Input: newline-separated fields `secret, method, uri, v3, timestamp, legacy,
//! legacy_version`, then the body (the rest, newlines included). An empty header is absent.
#![no_main]

use hubspot_gateway::secret::Secret;
use hubspot_gateway::webhook::signature::{
    decode_v3_uri, sign_v1, sign_v2, sign_v3, SignatureHeaders, Signed, Verifier, Version,
};
use libfuzzer_sys::fuzz_target;

/// The fixtures' pinned clock, so that the corpus's v3 vectors are inside the window.
const NOW_MS: i64 = 1_767_225_600_000;

/// An empty field stands for an absent header.
fn present(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(8, |byte| *byte == b'\n');
    let mut next = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (secret, method, uri) = (next(), next(), next());
    let (v3, timestamp, legacy, legacy_version) = (next(), next(), next(), next());
    let body = data
        .splitn(8, |byte| *byte == b'\n')
        .nth(7)
        .unwrap_or_default();
    let verifier = Verifier {
        client_secret: Secret::new(secret.clone()),
        max_age_secs: 300,
        accept_legacy: true,
    };
    let request = Signed {
        method: &method,
        uri: &uri,
        body,
    };
    let headers = SignatureHeaders {
        v3: present(&v3),
        timestamp: present(&timestamp),
        legacy: present(&legacy),
        legacy_version: present(&legacy_version),
    };
    let _ = verifier.verify(&headers, &request, NOW_MS);

    let key = secret.as_bytes();
    let now = NOW_MS.to_string();
    let good_v3 = sign_v3(key, &method, &decode_v3_uri(&uri), body, &now);
    let signed = SignatureHeaders {
        v3: Some(&good_v3),
        timestamp: Some(&now),
        ..SignatureHeaders::default()
    };
    assert_eq!(verifier.verify(&signed, &request, NOW_MS), Ok(Version::V3));
    let good_v1 = sign_v1(key, body);
    let signed = SignatureHeaders {
        legacy: Some(&good_v1),
        ..SignatureHeaders::default()
    };
    assert_eq!(verifier.verify(&signed, &request, NOW_MS), Ok(Version::V1));
    let good_v2 = sign_v2(key, &method, &uri, body);
    let signed = SignatureHeaders {
        legacy: Some(&good_v2),
        legacy_version: Some("v2"),
        ..SignatureHeaders::default()
    };
    assert_eq!(verifier.verify(&signed, &request, NOW_MS), Ok(Version::V2));
});
