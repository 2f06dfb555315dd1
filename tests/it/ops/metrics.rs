//! `GET /metrics`: valid exposition text whose counters move as webhooks arrive.

use super::*;
use crate::support::metrics_text::{self, Samples};

async fn scrape(gateway: &Gateway) -> Samples {
    let response = gateway
        .http
        .get(gateway.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    metrics_text::parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn value(samples: &Samples, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_parse_and_count_webhooks() {
    let gateway = Gateway::start().await;
    let before = scrape(&gateway).await;
    assert_eq!(value(&before, "hubspot_gateway_ready"), 1.0);
    assert_eq!(
        value(&before, "hubspot_gateway_webhook_events_received_total"),
        0.0
    );
    assert_eq!(
        value(&before, "hubspot_gateway_webhook_ack_seconds_count"),
        0.0
    );

    let (status, _) = gateway
        .post("/webhooks/hubspot", &batch(1, 3, 0), Signing::FRESH)
        .await;
    assert_eq!(status, 204);
    // A redelivery of two of them.
    let (status, _) = gateway
        .post("/webhooks/hubspot", &batch(1, 2, 1), Signing::FRESH)
        .await;
    assert_eq!(status, 204);
    let (status, _) = gateway
        .post("/webhooks/hubspot", &batch(9, 1, 0), Signing::BadV3)
        .await;
    assert_eq!(status, 401);
    let (status, _) = gateway
        .post("/webhooks/hubspot", "[{", Signing::FRESH)
        .await;
    assert_eq!(status, 400);

    let after = scrape(&gateway).await;
    assert_eq!(
        value(&after, "hubspot_gateway_webhook_events_received_total"),
        5.0
    );
    assert_eq!(
        value(&after, "hubspot_gateway_webhook_events_duplicate_total"),
        2.0
    );
    let rejected = |reason: &str| {
        value(
            &after,
            &format!("hubspot_gateway_webhook_requests_rejected_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(rejected("invalid_signature"), 1.0);
    assert_eq!(rejected("malformed_payload"), 1.0);
    assert_eq!(
        value(&after, "hubspot_gateway_webhook_ack_seconds_count"),
        4.0
    );
    assert_eq!(
        value(
            &after,
            "hubspot_gateway_webhook_ack_seconds_bucket{le=\"+Inf\"}"
        ),
        4.0
    );
    // Events are applied by the sync layer, which is off here: all three are still queued.
    assert_eq!(value(&after, "hubspot_gateway_inbox_depth"), 3.0);
    assert!(after.contains_key("hubspot_gateway_lookup_seconds_count"));
    gateway.stop().await;
}
