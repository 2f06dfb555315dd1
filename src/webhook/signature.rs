//! HubSpot webhook signatures v1, v2 and v3: computing them (for the simulator) and verifying them.
//!
//! All three hash the raw body bytes exactly as received. v2 and v3 also hash the full URL that
//! HubSpot called, which the caller builds from `server.public_url` plus the request's path and
//! query as received (never from `Host`). HubSpot, v3:
//! <https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation>,
//! v1 and v2: <https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests>.

use std::borrow::Cow;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

pub const HEADER_V3: &str = "x-hubspot-signature-v3";
pub const HEADER_TIMESTAMP: &str = "x-hubspot-request-timestamp";
pub const HEADER_LEGACY: &str = "x-hubspot-signature";
pub const HEADER_LEGACY_VERSION: &str = "x-hubspot-signature-version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    V3,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        match text {
            "v1" => Some(Version::V1),
            "v2" => Some(Version::V2),
            "v3" => Some(Version::V3),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
        }
    }
}

/// Why a request's signature was not accepted. The webhook handler maps each to a 401 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no HubSpot signature header on the request")]
    Missing,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("request timestamp is outside the accepted window of {max_age_secs} s")]
    Stale { max_age_secs: u64 },
    #[error(
        "a v1/v2-signed event occurred too long ago: a replay of it could no longer be \
         recognised (store.inbox_retention_hours, less 10 min for clock skew)"
    )]
    LegacyExpired,
}

/// The signature-related headers of one request, as received.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    pub v3: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub legacy: Option<&'a str>,
    pub legacy_version: Option<&'a str>,
}

impl<'a> SignatureHeaders<'a> {
    pub fn from_map(headers: &'a http::HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        SignatureHeaders {
            v3: get(HEADER_V3),
            timestamp: get(HEADER_TIMESTAMP),
            legacy: get(HEADER_LEGACY),
            legacy_version: get(HEADER_LEGACY_VERSION),
        }
    }
}

/// What is signed: the method, the full URL as HubSpot called it, and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
}

/// Checks signatures with one client secret. v3 is used whenever its header is present;
/// the legacy header is consulted only when it is absent and `accept_legacy` is set.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub client_secret: Secret<String>,
    pub max_age_secs: u64,
    pub accept_legacy: bool,
}

impl Verifier {
    /// Verifies one request at `now_ms` (epoch milliseconds; injected so tests pin the clock).
    pub fn verify(
        &self,
        headers: &SignatureHeaders<'_>,
        request: &Signed<'_>,
        now_ms: i64,
    ) -> Result<Version, SignatureError> {
        let version = self.check_headers(headers, now_ms)?;
        let secret = self.client_secret.expose().as_bytes();
        // `check_headers` found the headers each version needs.
        let (expected, received) = match (version, headers.v3, headers.timestamp) {
            (Version::V3, Some(signature), Some(timestamp)) => {
                let uri = decode_v3_uri(request.uri);
                let expected = sign_v3(secret, request.method, &uri, request.body, timestamp);
                (expected, signature)
            }
            (Version::V1, ..) => (sign_v1(secret, request.body), headers.legacy.unwrap_or("")),
            _ => (
                sign_v2(secret, request.method, request.uri, request.body),
                headers.legacy.unwrap_or(""),
            ),
        };
        compare(&expected, received).map(|()| version)
    }

    /// Everything that can be checked before the body is read: a signature header is there,
    /// its version is accepted, a v3 timestamp is well-formed and fresh. Returns the version
    /// the body will be checked with.
    pub fn check_headers(
        &self,
        headers: &SignatureHeaders<'_>,
        now_ms: i64,
    ) -> Result<Version, SignatureError> {
        if headers.v3.is_some() {
            let timestamp = headers.timestamp.ok_or(SignatureError::Invalid(
                "X-HubSpot-Signature-v3 without X-HubSpot-Request-Timestamp",
            ))?;
            self.check_timestamp(timestamp, now_ms)?;
            return Ok(Version::V3);
        }
        match (headers.legacy, self.accept_legacy) {
            (None, _) => return Err(SignatureError::Missing),
            (Some(_), false) => {
                return Err(SignatureError::Invalid(
                    "only v3 signatures are accepted (hubspot.accept_legacy_signatures = false)",
                ))
            }
            (Some(_), true) => {}
        }
        // HubSpot's webhook deliveries name v1; a missing version header means v1 too.
        match headers.legacy_version.map(Version::parse) {
            None => Ok(Version::V1),
            Some(Some(version @ (Version::V1 | Version::V2))) => Ok(version),
            Some(_) => Err(SignatureError::Invalid(
                "X-HubSpot-Signature-Version must be v1 or v2",
            )),
        }
    }

    fn check_timestamp(&self, timestamp: &str, now_ms: i64) -> Result<(), SignatureError> {
        let digits_only = !timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit());
        let parsed = digits_only.then(|| timestamp.parse::<i64>().ok()).flatten();
        let timestamp_ms = parsed.ok_or(SignatureError::Invalid(
            "X-HubSpot-Request-Timestamp must be epoch milliseconds (digits only)",
        ))?;
        let max_age_ms = i64::try_from(self.max_age_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        // Symmetric: a timestamp far in the future is as suspicious as a stale one.
        if (now_ms.saturating_sub(timestamp_ms)).saturating_abs() > max_age_ms {
            return Err(SignatureError::Stale {
                max_age_secs: self.max_age_secs,
            });
        }
        Ok(())
    }
}

/// v1/v2 signatures carry no time, so a captured request verifies for ever. Redeliveries are
/// recognised by the inbox's dedup check, which knows an event at least `window_ms` after it
/// occurred (it keeps it `store.inbox_retention_hours` after its request arrived, which is
/// after the event occurred; the caller keeps `window_ms` shorter by the clocks' possible
/// skew). So a legacy request is accepted only while every event in it is younger than that:
/// any replay of it is then still recognised and dropped.
pub fn check_legacy_age(
    oldest_occurred_at_ms: Option<i64>,
    window_ms: i64,
    now_ms: i64,
) -> Result<(), SignatureError> {
    match oldest_occurred_at_ms {
        Some(oldest) if now_ms.saturating_sub(oldest) >= window_ms => {
            Err(SignatureError::LegacyExpired)
        }
        _ => Ok(()),
    }
}

fn compare(expected: &str, received: &str) -> Result<(), SignatureError> {
    // `ct_eq` on slices of different length returns false without looking at the bytes; the
    // length of a valid signature is public, so that leaks nothing.
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Invalid("signature does not match"))
    }
}

/// v1: lowercase hex of SHA-256(client_secret + body).
pub fn sign_v1(secret: &[u8], body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// v2: lowercase hex of SHA-256(client_secret + method + uri + body).
pub fn sign_v2(secret: &[u8], method: &str, uri: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(method.as_bytes());
    hasher.update(uri.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// v3: base64 of HMAC-SHA256(key = client_secret, method + uri + body + timestamp).
/// `uri` must already be decoded with [`decode_v3_uri`].
pub fn sign_v3(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    // Invariant: HMAC-SHA256 accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Decodes exactly the twelve escapes HubSpot's v3 docs list (either hex case); every other
/// escape, `+` included, stays as received.
pub fn decode_v3_uri(uri: &str) -> Cow<'_, str> {
    if !uri.contains('%') {
        return Cow::Borrowed(uri);
    }
    let bytes = uri.as_bytes();
    let mut decoded = String::with_capacity(uri.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Some(character) = v3_escape(&bytes[index + 1..index + 3]) {
                decoded.push(character);
                index += 3;
                continue;
            }
        }
        // Copy one whole UTF-8 character so multi-byte text survives untouched.
        let width = utf8_width(bytes[index]);
        decoded.push_str(&uri[index..index + width]);
        index += width;
    }
    Cow::Owned(decoded)
}

fn v3_escape(hex_digits: &[u8]) -> Option<char> {
    let upper = [
        hex_digits[0].to_ascii_uppercase(),
        hex_digits[1].to_ascii_uppercase(),
    ];
    Some(match &upper {
        b"3A" => ':',
        b"2F" => '/',
        b"3F" => '?',
        b"40" => '@',
        b"21" => '!',
        b"24" => '$',
        b"27" => '\'',
        b"28" => '(',
        b"29" => ')',
        b"2A" => '*',
        b"2C" => ',',
        b"3B" => ';',
        _ => return None,
    })
}

fn utf8_width(first_byte: u8) -> usize {
    match first_byte {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests;
