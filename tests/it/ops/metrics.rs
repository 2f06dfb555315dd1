//! `GET /metrics`: valid exposition text whose counters move as webhooks arrive.

use super::*;
use crate::support::metrics_text::{self, Samples};

async fn scrape(gateway: &Gateway) -> Samples {
    let response = gateway
        .http
        .get(gateway.url("/metrics"))
        .bearer_auth(READ_TOKEN)
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
    // Dropped on arrival; on PostgreSQL the leader drops redeliveries when it applies them.
    let dropped = if crate::support::on_postgres() {
        0.0
    } else {
        2.0
    };
    assert_eq!(
        value(&after, "hubspot_gateway_webhook_events_duplicate_total"),
        dropped
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
    // Events are applied by the sync layer, which is off here: all three are still queued
    // (on PostgreSQL the two redeliveries too, until the leader drops them).
    let queued = if crate::support::on_postgres() {
        5.0
    } else {
        3.0
    };
    assert_eq!(value(&after, "hubspot_gateway_inbox_depth"), queued);
    assert_eq!(value(&after, "hubspot_gateway_lookup_seconds_count"), 0.0);

    // Lookups are timed whatever they answer.
    gateway
        .get("/v1/companies/lookup?domain=acme.com", Some(READ_TOKEN))
        .await;
    gateway
        .get("/v1/contacts/lookup?email=a@acme.com", Some(READ_TOKEN))
        .await;
    gateway.get("/v1/status", Some(READ_TOKEN)).await;
    let timed = scrape(&gateway).await;
    assert_eq!(value(&timed, "hubspot_gateway_lookup_seconds_count"), 2.0);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_the_mirror_sync_lag_and_hubspot_calls() {
    use hubspot_gateway::sim::{self, SimConfig};

    let config = SimConfig {
        owners: 3,
        contacts: 30,
        companies: 10,
        deals: 0,
        tasks: 0,
        rate_limit: None,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    };
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let options = crate::support::Options {
        hubspot: format!("api_base = \"{}\"", sim.base_url()),
        sync: Some(format!(
            "objects = [\"owners\", \"contacts\", \"companies\"]\n{}",
            crate::support::far_reconcile_window()
        )),
        ..crate::support::Options::default()
    };
    let gateway = Gateway::start_options("127.0.0.1:0", PUBLIC_URL, &options).await;
    let portal = sim.config().portal_id;
    let records = |kind: &str| {
        format!("hubspot_gateway_mirror_records{{portal=\"{portal}\",type=\"{kind}\"}}")
    };
    crate::mirror::wait_until("the backfill", Duration::from_secs(60), || async {
        let samples = scrape(&gateway).await;
        value(&samples, &records("contacts")) == 30.0
            && value(&samples, &records("companies")) == 10.0
    })
    .await;
    let samples = scrape(&gateway).await;
    let of_portal = |name: &str| format!("hubspot_gateway_{name}{{portal=\"{portal}\"}}");
    let listed = format!(
        "hubspot_gateway_hubspot_requests_total{{portal=\"{portal}\",endpoint=\"list contacts\",status=\"200\"}}"
    );
    assert!(value(&samples, &listed) >= 1.0, "{samples:?}");
    let answered: f64 = samples
        .iter()
        .filter(|(series, _)| series.starts_with("hubspot_gateway_hubspot_requests_total{"))
        .map(|(_, count)| count)
        .sum();
    // An attempt counts when sent, its answer when it arrives: a poll may be in flight.
    let attempts = value(&samples, &of_portal("hubspot_attempts_total"));
    assert!(answered >= 1.0 && answered <= attempts, "{samples:?}");
    assert!(samples.contains_key(&of_portal("hubspot_rate_limited_total")));
    assert_eq!(
        value(&samples, &of_portal("hubspot_rate_limited_total")),
        0.0
    );
    let lag = samples.get(&of_portal("sync_lag_seconds"));
    assert!(lag.is_some_and(|lag| *lag >= 0.0), "{samples:?}");
    assert!(samples.contains_key(&of_portal("hubspot_rate_limit_budget")));
    let connected =
        format!("hubspot_gateway_connection_state{{portal=\"{portal}\",state=\"connected\"}}");
    assert_eq!(value(&samples, &connected), 1.0);
    gateway.stop().await;
    sim.shutdown().await;
}
