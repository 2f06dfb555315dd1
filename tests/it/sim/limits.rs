//! Rate-limit headers and 429 bodies, search's own bucket, forced 429s, outages, faults.

use std::time::Duration;

use hubspot_gateway::sim::{RateLimit, SimConfig};
use serde_json::json;

use super::Sim;

#[tokio::test]
async fn ten_secondly_limit_answers_429_with_hubspot_body_and_headers() {
    let config = SimConfig {
        rate_limit: Some(RateLimit {
            max: 3,
            interval_ms: 10_000,
        }),
        search_rate_limit: Some(RateLimit {
            max: 1,
            interval_ms: 60_000,
        }),
        ..SimConfig::default()
    };
    let sim = Sim::start(config).await;
    for remaining in ["2", "1", "0"] {
        let response = sim
            .http
            .get(sim.url("/crm/v3/objects/contacts"))
            .bearer_auth(sim.token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["x-hubspot-ratelimit-remaining"],
            remaining
        );
        assert_eq!(response.headers()["x-hubspot-ratelimit-max"], "3");
        assert_eq!(
            response.headers()["x-hubspot-ratelimit-interval-milliseconds"],
            "10000"
        );
        assert!(response
            .headers()
            .contains_key("x-hubspot-ratelimit-daily-remaining"));
    }
    let (status, body) = sim.get("/crm/v3/objects/contacts").await;
    assert_eq!(status, 429);
    assert_eq!(
        (body["policyName"].as_str(), body["errorType"].as_str()),
        (Some("TEN_SECONDLY_ROLLING"), Some("RATE_LIMIT"))
    );
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    let search = || {
        sim.http
            .post(sim.url("/crm/v3/objects/contacts/search"))
            .bearer_auth(sim.token())
            .json(&json!({}))
    };
    let first = search().send().await.unwrap();
    assert_eq!(first.status(), 200, "search has its own bucket");
    assert!(!first
        .headers()
        .keys()
        .any(|name| name.as_str().starts_with("x-hubspot-ratelimit")));
    let (status, body) = super::read(search().send().await.unwrap()).await;
    assert_eq!(
        (status, body["policyName"].as_str()),
        (429, Some("SECONDLY"))
    );
    assert_eq!(sim.handle.stats().rate_limited, 2);
}

#[tokio::test]
async fn forced_429s_outages_and_fault_rate() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    control.force_429s(2);
    assert_eq!(sim.get("/crm/v3/owners").await.0, 429);
    assert_eq!(sim.get("/crm/v3/owners").await.0, 429);
    assert_eq!(sim.get("/crm/v3/owners").await.0, 200);
    control.outage(Duration::from_secs(60));
    let (status, body) = sim.get("/crm/v3/owners").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("error")));
    control.outage(Duration::ZERO);
    control.set_fault_rate(1.0);
    for _ in 0..5 {
        assert!([502, 503, 504].contains(&sim.get("/crm/v3/owners").await.0));
    }
    control.set_fault_rate(0.0);
    control.set_latency_ms(150);
    let started = tokio::time::Instant::now();
    assert_eq!(sim.get("/crm/v3/owners").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let stats = sim.handle.stats();
    assert_eq!(stats.calls["GET /crm/v3/owners"], 10);
    assert_eq!(stats.statuses[&429], 2);
}
