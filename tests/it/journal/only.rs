//! Webhooks off: the journal alone keeps the mirror current, and `status` says how.

use std::time::Duration;

use super::{converge, journal, mutate, portal, start, Sources};
use crate::mirror::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_alone_keeps_the_mirror_current() {
    let harness = start(portal(), Sources::JOURNAL_ONLY).await;
    // The subscriptions the mirror needs, made on connect, are the simulator's now.
    let subscriptions = harness.sim.control().journal_subscriptions();
    let status = journal(&harness.gateway).await;
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(
        status["subscriptions"].as_array().unwrap().len(),
        subscriptions.len(),
        "{status}"
    );
    let kinds: Vec<String> = status["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sub| sub["type"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["OBJECT", "ASSOCIATION", "GDPR_PRIVACY_DELETION"] {
        assert!(kinds.iter().any(|k| k == kind), "{kinds:?}");
    }
    for round in 0..3 {
        mutate(&harness.sim, round);
    }
    converge(&harness).await;
    assert_eq!(
        harness.sim.stats().webhooks.events_delivered,
        0,
        "no webhook was sent"
    );
    let status = journal(&harness.gateway).await;
    assert!(status["events"].as_u64().unwrap() > 20, "{status}");
    assert_eq!(status["gaps"], 0, "{status}");
    assert!(status["last_polled_at"].is_string(), "{status}");
    assert!(
        status["cursor_age_secs"].as_f64().unwrap() < 60.0,
        "{status}"
    );
    // An event of another portal is ignored and counted.
    harness.sim.control().journal_foreign_event(999_999);
    harness.sim.control().flush_journal();
    wait_until(
        "the foreign event counted",
        Duration::from_secs(20),
        || async { journal(&harness.gateway).await["foreign_events"] == 1 },
    )
    .await;
    converge(&harness).await;
    let metrics = harness
        .gateway
        .get("/metrics", Some(crate::support::READ_TOKEN))
        .await
        .1;
    let text = metrics.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("journal_events_stored_total"), "{text}");
    harness.stop().await;
}
