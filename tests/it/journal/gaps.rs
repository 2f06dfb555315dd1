//! A gateway down for longer than the journal keeps: the 404 for its cursor is a gap,
//! counted once, reconciled for the mirrored types, and the journal is read on from its
//! newest entry; nothing is lost.

use std::time::Duration;

use super::{converge, journal, mutate, portal, start, start_gateway, Sources};
use crate::mirror::{wait_until, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_down_longer_than_the_journal_keeps_reconciles_the_gap() {
    let harness = start(portal(), Sources::JOURNAL_ONLY).await;
    mutate(&harness.sim, 0);
    converge(&harness).await;
    let Harness { sim, gateway } = harness;
    let dir = gateway.stop().await;
    // While the gateway is down: changes, then four days pass (the journal keeps three).
    mutate(&sim, 1);
    sim.control().flush_journal();
    sim.control().age_journal(Duration::from_secs(4 * 86_400));
    let harness = start_gateway(sim, dir, Sources::JOURNAL_ONLY).await;
    wait_until("the gap noted", Duration::from_secs(20), || async {
        journal(&harness.gateway).await["gaps"] == 1
    })
    .await;
    converge(&harness).await;
    wait_until(
        "the reconciliation done",
        Duration::from_secs(30),
        || async { journal(&harness.gateway).await["reconcile_pending"].is_null() },
    )
    .await;
    let status = journal(&harness.gateway).await;
    assert_eq!(status["last_gap"], "cursor_expired", "{status}");
    assert!(status["last_gap_at"].is_string(), "{status}");
    // Read on from the newest entry: later changes arrive through the journal.
    mutate(&harness.sim, 2);
    converge(&harness).await;
    assert_eq!(
        journal(&harness.gateway).await["gaps"],
        1,
        "logged and counted once"
    );
    harness.stop().await;
}
