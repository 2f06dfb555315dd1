//! Webhook ingress against the in-process gateway: acceptance, every rejection, duplicates,
//! limits, auth of the inspection API, and group commit under concurrency.

use serde_json::Value;

use crate::support::signing::{now_ms, Signing};
use crate::support::{batch, batch_at, Gateway, Options, ADMIN_TOKEN, READ_TOKEN};

const PATH: &str = "/webhooks/hubspot";

/// A gateway that accepts v1/v2 signatures; `server` and `store` go into their sections.
async fn accepting_legacy(server: &str, store: &str) -> Gateway {
    let options = Options {
        server: server.into(),
        hubspot: "accept_legacy_signatures = true".into(),
        store: store.into(),
        ..Options::default()
    };
    Gateway::start_options("127.0.0.1:0", "https://hooks.example.com/gw", &options).await
}

/// A batch of events that occurred `age_ms` ago.
fn aged_batch(first_id: i64, count: i64, age_ms: i64) -> String {
    batch_at(first_id, count, 0, now_ms() - age_ms - first_id)
}

async fn stored_ids(gateway: &Gateway) -> Vec<i64> {
    let (status, body) = gateway
        .get("/v1/webhooks/events?limit=1000", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<i64> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["event"]["eventId"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The webhook counters: received and duplicates.
async fn counters(gateway: &Gateway) -> (u64, u64) {
    let webhooks = gateway.webhook_status().await;
    let count = |name: &str| webhooks[name].as_u64().unwrap();
    (count("received"), count("duplicates"))
}

/// The counters after `received` events and `duplicates` redeliveries: sled drops a
/// redelivery when it arrives; on PostgreSQL the leader drops it when it applies the events,
/// which these gateways (no HubSpot to sync) never do, so it counts as received until then.
fn dropped_on_arrival(received: u64, duplicates: u64) -> (u64, u64) {
    match crate::support::on_postgres() {
        true => (received + duplicates, 0),
        false => (received, duplicates),
    }
}

#[tokio::test]
async fn accepts_signed_batches_and_stores_them_as_received() {
    let gateway = accepting_legacy("", "").await;
    let body = batch(1, 3, 0);
    assert_eq!(
        gateway.post(PATH, &body, Signing::FRESH).await,
        (204, Value::Null)
    );
    // v1 and v2 signatures, and a signed query string, are accepted too.
    assert_eq!(
        gateway
            .post(PATH, &aged_batch(10, 1, 0), Signing::V1)
            .await
            .0,
        204
    );
    assert_eq!(
        gateway
            .post(PATH, &aged_batch(11, 1, 0), Signing::V2)
            .await
            .0,
        204
    );
    let with_query = format!("{PATH}?tenant=acme%2Fbeta&x=%3A");
    assert_eq!(
        gateway
            .post(&with_query, &batch(12, 1, 0), Signing::FRESH)
            .await
            .0,
        204
    );
    assert_eq!(stored_ids(&gateway).await, [1, 2, 3, 10, 11, 12]);

    let (status, one) = gateway
        .get("/v1/webhooks/events/2", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200);
    let expected: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        one["events"][0]["event"], expected[1],
        "stored exactly as received"
    );
    assert_eq!(
        gateway
            .get("/v1/webhooks/events/999", Some(ADMIN_TOKEN))
            .await
            .0,
        404
    );

    let webhooks = gateway.webhook_status().await;
    assert_eq!(webhooks["received"], 6);
    assert_eq!(webhooks["inbox_depth"], 6);
    assert!(webhooks["last_received_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    gateway.stop().await;
}

#[tokio::test]
async fn every_rejection_has_its_code_and_stores_nothing() {
    let gateway = accepting_legacy("webhook_max_body_bytes = 2048", "").await;
    let body = batch(1, 2, 0);
    let cases = [
        (Signing::None, body.clone(), 401, "missing_signature"),
        (Signing::BadV3, body.clone(), 401, "invalid_signature"),
        (
            Signing::V3 { skew_ms: -301_000 },
            body.clone(),
            401,
            "stale_timestamp",
        ),
        (
            Signing::V3 { skew_ms: 301_000 },
            body.clone(),
            401,
            "stale_timestamp",
        ),
        (
            Signing::FRESH,
            "{\"not\":\"an array\"}".into(),
            400,
            "malformed_payload",
        ),
        (
            Signing::FRESH,
            "[{\"eventId\":1}]".into(),
            400,
            "malformed_payload",
        ),
        (Signing::FRESH, batch(1, 40, 0), 413, "body_too_large"),
        (
            Signing::V1,
            aged_batch(1, 2, 8 * 86_400_000),
            401,
            "stale_timestamp",
        ),
    ];
    for (signing, body, status, code) in cases {
        let (got_status, got_body) = gateway.post(PATH, &body, signing).await;
        assert_eq!(
            (got_status, got_body["error"]["code"].as_str()),
            (status, Some(code)),
            "{signing:?}: {got_body}"
        );
        assert!(got_body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // The signature covers the path: a body signed for another path fails.
    let (status, _) = gateway
        .post("/webhooks/hubspot?x=1", &aged_batch(1, 2, 0), Signing::V2)
        .await;
    assert_eq!(status, 204, "v2 signs the query as received");
    let webhooks = gateway.webhook_status().await;
    assert_eq!(
        webhooks["received"], 2,
        "only the last, valid request stored anything"
    );
    assert_eq!(webhooks["rejected"], 8);
    gateway.stop().await;
}

#[tokio::test]
async fn legacy_signatures_are_off_by_default() {
    let gateway = Gateway::start().await;
    for signing in [Signing::V1, Signing::V2] {
        let (status, body) = gateway.post(PATH, &aged_batch(1, 1, 0), signing).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_signature")),
            "{signing:?}: {body}"
        );
    }
    assert_eq!(gateway.webhook_status().await["received"], 0);
    gateway.stop().await;
}

/// v1/v2 carry no timestamp: a captured request is refused once a replay of it could no
/// longer be recognised as a redelivery (its events older than the inbox's retention).
#[tokio::test]
async fn legacy_requests_are_refused_once_their_dedup_rows_may_be_gone() {
    let hour_ms = 3_600_000;
    let gateway = accepting_legacy("", "inbox_retention_hours = 25").await;
    // A retry a day after the event (HubSpot retries for 24 h) is accepted, and its replay
    // is recognised.
    let day_old = aged_batch(1, 2, 24 * hour_ms);
    for _ in 0..2 {
        assert_eq!(gateway.post(PATH, &day_old, Signing::V1).await.0, 204);
    }
    // Older than the retention: refused, whichever event of the batch is the old one.
    let mut mixed: Vec<Value> = serde_json::from_str(&aged_batch(10, 2, 0)).unwrap();
    let old: Vec<Value> = serde_json::from_str(&aged_batch(12, 1, 26 * hour_ms)).unwrap();
    mixed.extend(old);
    let mixed = serde_json::to_string(&mixed).unwrap();
    for signing in [Signing::V1, Signing::V2] {
        let (status, body) = gateway.post(PATH, &mixed, signing).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("stale_timestamp")),
            "{body}"
        );
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inbox_retention_hours"));
    }
    // Ten minutes short of the retention already: HubSpot's clock may run ahead of ours.
    let (status, _) = gateway
        .post(
            PATH,
            &aged_batch(20, 1, 25 * hour_ms - 300_000),
            Signing::V1,
        )
        .await;
    assert_eq!(status, 401);
    // v3 carries its own timestamp, which bounds replays instead.
    assert_eq!(gateway.post(PATH, &mixed, Signing::FRESH).await.0, 204);
    assert_eq!(counters(&gateway).await, dropped_on_arrival(5, 2));
    gateway.stop().await;
}

#[tokio::test]
async fn redeliveries_are_acknowledged_and_dropped() {
    let gateway = Gateway::start().await;
    assert_eq!(
        gateway.post(PATH, &batch(1, 5, 0), Signing::FRESH).await.0,
        204
    );
    // HubSpot's retry: same events, higher attemptNumber, partly overlapping.
    assert_eq!(
        gateway.post(PATH, &batch(3, 5, 1), Signing::FRESH).await.0,
        204
    );
    assert_eq!(stored_ids(&gateway).await, [1, 2, 3, 4, 5, 6, 7]);
    // Same eventId, different content: both kept.
    let other = batch(1, 1, 0).replace("\"objectId\":513", "\"objectId\":9999");
    assert_eq!(gateway.post(PATH, &other, Signing::FRESH).await.0, 204);
    let (_, same_id) = gateway
        .get("/v1/webhooks/events/1", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(same_id["events"].as_array().unwrap().len(), 2);
    assert_eq!(counters(&gateway).await, dropped_on_arrival(8, 3));
    gateway.stop().await;
}

#[tokio::test]
async fn inspection_api_needs_the_right_token() {
    let gateway = Gateway::start().await;
    for (path, token, status, code) in [
        ("/v1/status", None, 401, Some("unauthorized")),
        ("/v1/status", Some("wrong"), 401, Some("unauthorized")),
        ("/v1/status", Some(READ_TOKEN), 200, None),
        (
            "/v1/webhooks/events",
            Some(READ_TOKEN),
            403,
            Some("insufficient_scope"),
        ),
        ("/v1/webhooks/events", Some(ADMIN_TOKEN), 200, None),
        (
            "/v1/webhooks/events?limit=0",
            Some(ADMIN_TOKEN),
            400,
            Some("bad_request"),
        ),
        (
            "/v1/webhooks/events/abc",
            Some(ADMIN_TOKEN),
            400,
            Some("bad_request"),
        ),
        ("/v1/nothing", Some(ADMIN_TOKEN), 404, Some("not_found")),
        ("/webhooks/hubspot", None, 405, Some("method_not_allowed")),
    ] {
        let (got, body) = gateway.get(path, token).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, code),
            "{path} {token:?}"
        );
    }
    let (status, body) = gateway.get("/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert_eq!(gateway.get("/readyz", None).await.0, 200);
    gateway.stop().await;
}

#[tokio::test]
async fn answers_overloaded_past_the_inbox_high_water_mark() {
    let gateway = Gateway::start_with("", "inbox_high_water = 5").await;
    assert_eq!(
        gateway.post(PATH, &batch(1, 5, 0), Signing::FRESH).await.0,
        204
    );
    let (status, body) = gateway.post(PATH, &batch(6, 1, 0), Signing::FRESH).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("overloaded"))
    );
    assert_eq!(gateway.webhook_status().await["received"], 5);
    gateway.stop().await;
}

#[tokio::test]
async fn concurrent_batches_are_all_stored() {
    let gateway = std::sync::Arc::new(Gateway::start().await);
    let mut tasks = tokio::task::JoinSet::new();
    for request in 0..40i64 {
        let gateway = gateway.clone();
        tasks.spawn(async move {
            gateway
                .post(PATH, &batch(request * 100, 100, 0), Signing::FRESH)
                .await
                .0
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 204);
    }
    assert_eq!(gateway.webhook_status().await["received"], 4000);
    let gateway = std::sync::Arc::into_inner(gateway).unwrap();
    gateway.stop().await;
}

/// One event of `bytes` bytes (its JSON text as sent).
fn event_of(id: i64, bytes: usize) -> Value {
    let mut event: Value = serde_json::from_str::<Vec<Value>>(&batch(id, 1, 0)).unwrap()[0].clone();
    event["propertyValue"] = Value::String(String::new());
    let padding = bytes - serde_json::to_string(&event).unwrap().len();
    event["propertyValue"] = Value::String("x".repeat(padding));
    assert_eq!(serde_json::to_string(&event).unwrap().len(), bytes);
    event
}

/// An event bigger than the store keeps (its chunk would reach sled's never-synced blob files)
/// is refused with 413 before anything of its batch is stored; one at the limit is stored.
#[tokio::test]
async fn an_event_above_the_store_limit_is_refused_whole_batch_and_all() {
    let gateway = Gateway::start_with("max_body_bytes = 4194304", "").await;
    let limit = hubspot_gateway::store::MAX_EVENT_BYTES;
    let refused = Value::Array(vec![event_of(1, 300), event_of(2, limit + 1)]).to_string();
    let (status, body) = gateway.post(PATH, &refused, Signing::FRESH).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("event 1 of the batch"), "{message}");
    assert!(
        stored_ids(&gateway).await.is_empty(),
        "nothing of the batch is stored"
    );

    let accepted = Value::Array(vec![event_of(1, 300), event_of(2, limit)]).to_string();
    let (status, body) = gateway.post(PATH, &accepted, Signing::FRESH).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(stored_ids(&gateway).await, [1, 2]);
    gateway.stop().await;
}
