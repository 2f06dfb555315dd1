//! Webhooks and the journal at once: each change is applied once, whichever source brings
//! it first; the journal fills in what webhooks lost.

use hubspot_gateway::sim::WebhookChaos;

use super::{converge, journal, mutate, portal, start, Sources};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sources_apply_each_change_once_and_the_journal_fills_what_webhooks_lost() {
    let harness = start(portal(), Sources::BOTH).await;
    for round in 0..2 {
        mutate(&harness.sim, round);
    }
    converge(&harness).await;
    // Webhooks drop a third of their events from now on: the journal brings those.
    harness.sim.control().set_webhook_chaos(WebhookChaos {
        drop_rate: 0.34,
        ..WebhookChaos::default()
    });
    for round in 2..4 {
        mutate(&harness.sim, round);
    }
    converge(&harness).await;
    let status = journal(&harness.gateway).await;
    let sources = &status["sources"];
    let first = |source: &str| sources[source]["first"].as_u64().unwrap();
    let repeated = |source: &str| sources[source]["repeated"].as_u64().unwrap();
    assert!(first("webhook") > 0, "{status}");
    assert!(
        first("journal") > 0,
        "the journal delivered what webhooks dropped: {status}"
    );
    // Every change came through both sources (bar the dropped ones): the second arrival was
    // dropped, not applied again.
    assert!(repeated("journal") + repeated("webhook") > 0, "{status}");
    assert!(
        repeated("journal") + repeated("webhook") <= first("journal") + first("webhook"),
        "{status}"
    );
    assert_eq!(status["gaps"], 0, "{status}");
    harness.stop().await;
}
