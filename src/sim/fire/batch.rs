//! Builds webhook batch bodies and signs requests for the load generator.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::fmt::Write as _;

use super::FireConfig;
use crate::sim::gen::mix;
use crate::time;
use crate::webhook::signature::{decode_v3_uri, sign_v1, sign_v2, sign_v3, Version};

const KINDS: &[(&str, &str)] = &[
    ("contact.propertyChange", ""),
    ("contact.creation", ""),
    ("company.propertyChange", ""),
    ("deal.propertyChange", ""),
    ("contact.deletion", ""),
    ("object.creation", "0-27"),
];

pub struct Builder {
    portal_id: i64,
    app_id: i64,
    salt: u64,
    owner_changes: Option<std::sync::Arc<Vec<(i64, String)>>>,
}

impl Builder {
    pub fn new(config: &FireConfig, slot: u64) -> Builder {
        Builder {
            portal_id: config.portal_id,
            app_id: config.app_id,
            salt: mix(slot ^ 0xf17e),
            owner_changes: config.owner_changes.clone(),
        }
    }

    /// Events `first..first + count` that happened around `occurred` (epoch ms) as one JSON
    /// array; the same arguments but `attempt` give a redelivery: equal but `attemptNumber`.
    pub fn build(&mut self, first: u64, count: usize, attempt: u32, occurred: i64) -> Vec<u8> {
        if let Some(changes) = &self.owner_changes {
            return self.owner_changes(changes, first, count, attempt, occurred);
        }
        let mut body = String::with_capacity(count * 290);
        body.push('[');
        for number in first..first + count as u64 {
            if number > first {
                body.push(',');
            }
            let roll = mix(number ^ self.salt);
            let (kind, type_id) = KINDS[(roll % KINDS.len() as u64) as usize];
            let object_id = 51 + roll % 5_000_000_000;
            // Invariant: writing to a String cannot fail.
            let _ = write!(
                body,
                r#"{{"eventId":{},"subscriptionId":{},"portalId":{},"appId":{},"occurredAt":{},"subscriptionType":"{kind}","attemptNumber":{attempt},"objectId":{object_id},"changeSource":"CRM""#,
                100_000_000 + number,
                2_000_000 + roll % 7,
                self.portal_id,
                self.app_id,
                occurred - (roll % 1000) as i64,
            );
            if !type_id.is_empty() {
                let _ = write!(body, r#","objectTypeId":"{type_id}""#);
            }
            if kind.ends_with("propertyChange") {
                let _ = write!(
                    body,
                    r#","propertyName":"email","propertyValue":"load{}@example.com""#,
                    roll % 100_000
                );
            }
            body.push('}');
        }
        body.push(']');
        body.into_bytes()
    }
}

impl Builder {
    /// Like [`Builder::build`], each event an owner change of `FireConfig::owner_changes`.
    fn owner_changes(
        &self,
        changes: &[(i64, String)],
        first: u64,
        count: usize,
        attempt: u32,
        occurred: i64,
    ) -> Vec<u8> {
        let mut body = String::with_capacity(count * 290);
        body.push('[');
        for number in first..first + count as u64 {
            if number > first {
                body.push(',');
            }
            let (id, owner) = &changes[(number % changes.len().max(1) as u64) as usize];
            // Invariant: writing to a String cannot fail.
            let _ = write!(
                body,
                r#"{{"eventId":{},"subscriptionId":2000000,"portalId":{},"appId":{},"occurredAt":{occurred},"subscriptionType":"contact.propertyChange","attemptNumber":{attempt},"objectId":{id},"changeSource":"CRM","propertyName":"hubspot_owner_id","propertyValue":"{owner}"}}"#,
                100_000_000 + number,
                self.portal_id,
                self.app_id,
            );
        }
        body.push(']');
        body.into_bytes()
    }
}

/// A signed POST of `body`: signatures and the v3 timestamp are computed now.
pub fn request(config: &FireConfig, host: &str, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    let secret = config.client_secret.as_bytes();
    let builder = Request::post(path)
        .header("host", host)
        .header("content-type", "application/json")
        .header("user-agent", "hubspot-sim-fire");
    let builder = match config.version {
        Version::V1 => builder
            .header("x-hubspot-signature", sign_v1(secret, &body))
            .header("x-hubspot-signature-version", "v1"),
        Version::V2 => builder
            .header(
                "x-hubspot-signature",
                sign_v2(secret, "POST", &config.target, &body),
            )
            .header("x-hubspot-signature-version", "v2"),
        Version::V3 => {
            let timestamp = time::now_ms().to_string();
            let signature = sign_v3(
                secret,
                "POST",
                &decode_v3_uri(&config.target),
                &body,
                &timestamp,
            );
            builder
                .header("x-hubspot-signature-v3", signature)
                .header("x-hubspot-request-timestamp", timestamp)
        }
    };
    // Invariant: the path comes from a parsed URL and header values are ASCII.
    builder.body(Full::new(body)).expect("a valid request")
}
