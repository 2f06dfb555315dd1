//! PostgreSQL restarting under webhook load: requests are answered 503 while it is away
//! (HubSpot retries them), every event answered 204 is stored, and the gateway recovers
//! without a restart.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::store::postgres::Database;
use parking_lot::Mutex;

use crate::support::signing::Signing;
use crate::support::{batch, Gateway, Options};

/// Events per request.
const EVENTS: i64 = 10;

#[derive(Default)]
struct Answers {
    /// The first event id of each request answered 204.
    acknowledged: Vec<i64>,
    refused: usize,
    other: Vec<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarting_under_load_loses_no_acknowledged_event() {
    let cluster = Arc::new(Cluster::start().unwrap());
    let url = cluster.fresh_database().await.unwrap();
    let options = Options {
        database_url: Some(url.clone()),
        ..Options::default()
    };
    let gateway = Arc::new(
        Gateway::start_options("127.0.0.1:0", "https://hooks.example.com/gw", &options).await,
    );
    let answers = Arc::new(Mutex::new(Answers::default()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut senders = Vec::new();
    for sender in 0..4_i64 {
        let (gateway, answers, stop) = (gateway.clone(), answers.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut first = sender * 10_000_000;
            while !stop.is_cancelled() {
                let body = batch(first, EVENTS, 1);
                let (code, _) = gateway
                    .post("/webhooks/hubspot", &body, Signing::V3 { skew_ms: 0 })
                    .await;
                {
                    let mut answers = answers.lock();
                    match code {
                        204 => answers.acknowledged.push(first),
                        503 => answers.refused += 1,
                        other => answers.other.push(other),
                    }
                }
                first += EVENTS;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    let acknowledged = || answers.lock().acknowledged.len();
    let refused = || answers.lock().refused;
    wait_for("acknowledgements", || acknowledged() >= 50).await;
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.pause().unwrap())
        .await
        .unwrap();
    wait_for("503 while the database is away", || refused() >= 10).await;
    let before_restart = acknowledged();
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.resume().unwrap())
        .await
        .unwrap();
    wait_for("204 again, without a restart", || {
        acknowledged() >= before_restart + 50
    })
    .await;
    stop.cancel();
    for sender in senders {
        sender.await.unwrap();
    }
    let answers = std::mem::take(&mut *answers.lock());
    assert!(
        answers.other.is_empty(),
        "only 204 and 503: {:?}",
        answers.other
    );

    let database = Database::new(&url, 1, None).unwrap();
    let client = database.client().await.unwrap();
    let stored: BTreeSet<i64> = client
        .query("SELECT unnest(event_ids) FROM inbox_requests", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for first in &answers.acknowledged {
        for id in *first..*first + EVENTS {
            assert!(
                stored.contains(&id),
                "event {id} was answered 204 but is not stored"
            );
        }
    }
    Arc::try_unwrap(gateway).ok().unwrap().stop().await;
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
