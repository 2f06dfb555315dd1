//! Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed with the target's secret (`config::signing_key`), and the
//! receiver's check, which the demo's receiver and the tests use (the README shows the same
//! in Python and Rust).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The `webhook-signature` header value of one attempt.
pub fn sign(key: &[u8], id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp_secs, body)))
}

fn mac(key: &[u8], id: &str, timestamp_secs: i64, body: &[u8]) -> [u8; 32] {
    // Invariant: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key");
    mac.update(format!("{id}.{timestamp_secs}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Why a receiver refused a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a webhook-id, webhook-timestamp or webhook-signature header is missing")]
    Missing,
    #[error("the timestamp is more than the tolerance away from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// The receiver's check: the signature (one of the space-separated `v1,` ones) over the
/// headers' id and timestamp and the body, and a timestamp within `tolerance_secs` of `now`.
pub fn verify(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), Refusal> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err(Refusal::Missing);
    };
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| Refusal::Missing)?;
    if (now_secs - timestamp).abs() > tolerance_secs {
        return Err(Refusal::Stale);
    }
    let expected = sign(key, id, timestamp, body);
    let matched = signatures
        .split(' ')
        .any(|candidate| bool::from(candidate.as_bytes().ct_eq(expected.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example (its reference libraries' test).
    #[test]
    fn matches_the_specifications_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// The README's three lines of Rust, as written there.
    #[test]
    fn the_readmes_rust_check_accepts_the_specifications_example(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let (id, timestamp) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330");
        let body = br#"{"test": 2432232314}"#;
        let signatures = "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let key = STANDARD.decode(secret.trim_start_matches("whsec_"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let ok = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| STANDARD.decode(s).ok())
            .any(|s| mac.clone().verify_slice(&s).is_ok());
        assert!(ok);
        Ok(())
    }

    #[test]
    fn receivers_refuse_what_was_not_signed_with_their_key_or_is_old() {
        let key = b"0123456789abcdef01234567";
        let body = b"{}";
        let header = format!("v0,other {}", sign(key, "msg_1", 1000, body));
        let check = |key: &[u8], id, ts, sig: &str, body: &[u8], now| {
            verify(key, Some(id), Some(ts), Some(sig), body, now, 300)
        };
        assert_eq!(check(key, "msg_1", "1000", &header, body, 1100), Ok(()));
        assert_eq!(
            check(key, "msg_2", "1000", &header, body, 1100),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(key, "msg_1", "1000", &header, b"{ }", 1100),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(
                b"another key of 24 bytes!",
                "msg_1",
                "1000",
                &header,
                body,
                1100
            ),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(key, "msg_1", "1000", &header, body, 1400),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(key, None, Some("1000"), Some(&header), body, 1000, 300),
            Err(Refusal::Missing)
        );
    }
}
