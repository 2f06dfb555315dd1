//! The journal misbehaving: file URLs that expired before the download, damaged files (for a
//! while, and for good), 5xx and 429 storms. Nothing is lost and nothing is skipped silently.

use std::time::Duration;

use tokio::time::Instant;

use hubspot_gateway::sim::FileCorruption;

use super::{converge, journal, mutate, portal, start, Sources};
use crate::mirror::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_file_url_is_read_again_from_the_cursor() {
    let harness = start(portal(), Sources::JOURNAL_ONLY).await;
    let control = harness.sim.control();
    control.set_journal_url_ttl(Duration::ZERO);
    mutate(&harness.sim, 0);
    control.flush_journal();
    wait_until("an expired URL seen", Duration::from_secs(20), || async {
        journal(&harness.gateway).await["url_retries"].as_u64() > Some(0)
    })
    .await;
    control.set_journal_url_ttl(Duration::from_secs(600));
    converge(&harness).await;
    let status = journal(&harness.gateway).await;
    assert_eq!(
        (status["gaps"].clone(), status["bad_files"].clone()),
        (0.into(), 0.into()),
        "{status}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_download_is_read_again_and_a_damaged_file_is_reported_then_reconciled() {
    let harness = start(portal(), Sources::JOURNAL_ONLY).await;
    let control = harness.sim.control();
    // Two broken downloads, then the sound file: read again, nothing lost, no gap.
    control.corrupt_journal_downloads(2, FileCorruption::Truncated);
    mutate(&harness.sim, 0);
    converge(&harness).await;
    let status = journal(&harness.gateway).await;
    assert!(status["damaged_reads"].as_u64().unwrap() >= 2, "{status}");
    assert_eq!(
        (status["gaps"].clone(), status["bad_files"].clone()),
        (0.into(), 0.into()),
        "{status}"
    );
    // A file broken for good: read again and again, then reported and skipped as a gap whose
    // reconciliation brings its changes.
    control.corrupt_journal_files(1, FileCorruption::NotJson);
    mutate(&harness.sim, 1);
    control.flush_journal();
    wait_until(
        "the damaged file reported",
        Duration::from_secs(30),
        || async { journal(&harness.gateway).await["bad_files"] == 1 },
    )
    .await;
    let status = journal(&harness.gateway).await;
    assert!(
        status["damaged_reads"].as_u64().unwrap() >= 2 + 6,
        "{status}"
    );
    assert_eq!(status["gaps"], 1, "{status}");
    assert_eq!(status["last_gap"], "damaged_file", "{status}");
    assert!(status["last_bad_file"]["offset"].is_string(), "{status}");
    converge(&harness).await;
    wait_until(
        "the reconciliation done",
        Duration::from_secs(30),
        || async { journal(&harness.gateway).await["reconcile_pending"].is_null() },
    )
    .await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_429_and_5xx_delay_the_journal_but_lose_nothing() {
    let harness = start(portal(), Sources::JOURNAL_ONLY).await;
    let control = harness.sim.control();
    // Three 429s each asking for two seconds: honoured, the journal waits that long.
    control.journal_force_429s(3, Duration::from_secs(2));
    let started = Instant::now();
    mutate(&harness.sim, 0);
    converge(&harness).await;
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let status = journal(&harness.gateway).await;
    assert!(status["rate_limited"].as_u64().unwrap() >= 3, "{status}");
    // Then a storm of 502 / 503 / 504: backed off, then read on.
    control.journal_force_5xx(3);
    mutate(&harness.sim, 1);
    converge(&harness).await;
    let status = journal(&harness.gateway).await;
    assert!(status["failures"].as_u64().unwrap() >= 6, "{status}");
    assert_eq!(status["gaps"], 0, "{status}");
    harness.stop().await;
}
