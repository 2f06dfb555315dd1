//! Signs test webhooks the way HubSpot does (using the crate's signature functions).

use hubspot_gateway::webhook::signature::{decode_v3_uri, sign_v1, sign_v2, sign_v3};

use super::CLIENT_SECRET;

#[derive(Debug, Clone, Copy)]
pub enum Signing {
    /// v3 with a timestamp this many ms from now (negative = in the past).
    V3 {
        skew_ms: i64,
    },
    V1,
    V2,
    /// v3 header with a wrong signature.
    BadV3,
    None,
}

impl Signing {
    pub const FRESH: Signing = Signing::V3 { skew_ms: 0 };

    pub fn headers(self, uri: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let secret = CLIENT_SECRET.as_bytes();
        let now = now_ms();
        match self {
            Signing::V3 { skew_ms } => {
                let timestamp = (now + skew_ms).to_string();
                let signature = sign_v3(secret, "POST", &decode_v3_uri(uri), body, &timestamp);
                vec![
                    ("X-HubSpot-Signature-v3", signature),
                    ("X-HubSpot-Request-Timestamp", timestamp),
                ]
            }
            Signing::V1 => vec![
                ("X-HubSpot-Signature", sign_v1(secret, body)),
                ("X-HubSpot-Signature-Version", "v1".into()),
            ],
            Signing::V2 => vec![
                ("X-HubSpot-Signature", sign_v2(secret, "POST", uri, body)),
                ("X-HubSpot-Signature-Version", "v2".into()),
            ],
            Signing::BadV3 => vec![
                ("X-HubSpot-Signature-v3", "bm90IGEgc2lnbmF0dXJl".into()),
                ("X-HubSpot-Request-Timestamp", now.to_string()),
            ],
            Signing::None => Vec::new(),
        }
    }
}

pub use hubspot_gateway::time::now_ms;
