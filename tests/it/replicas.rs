//! Several gateways on one PostgreSQL database (a throw-away cluster, `kit::postgres`): each
//! answers webhooks and the query API, exactly one leads (sync, export, notifications), and
//! another takes over when the leader goes.

mod export;
mod failover;
mod portals;
mod removal;
mod restart;

use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::sim::{self, SimConfig, SimHandle};
use serde_json::Value;

use crate::mirror::{mutate, small_portal, wait_until, Harness};
use crate::support::process::free_port;
use crate::support::signing::Signing;
use crate::support::{batch, far_reconcile_window, webhooks_to, Gateway, Options, READ_TOKEN};

/// The config of a replica of the gateway mirroring `sim` on the database at `url`, polling
/// every second, with `sync_lines` added to its `[sync]`.
pub fn replica_options(sim: &SimHandle, url: &str, sync_lines: &str) -> Options {
    Options {
        hubspot: format!("api_base = \"{}\"\nmax_retry_secs = 10", sim.base_url()),
        sync: Some(format!(
            "poll_interval_secs = 1\n{sync_lines}\n{}",
            far_reconcile_window()
        )),
        database_url: Some(url.to_owned()),
        ..Options::default()
    }
}

/// A simulator posting its webhooks to `public_url`, with a budget that never binds.
pub async fn simulator(mut config: SimConfig, public_url: &str) -> SimHandle {
    config.access_token = "pat-na1-it".into();
    config.rate_limit = Some(sim::RateLimit {
        max: 100_000,
        interval_ms: 10_000,
    });
    config.webhook = Some(webhooks_to(public_url));
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// `GET /v1/status` of a replica.
async fn status(gateway: &Gateway) -> Value {
    let (code, body) = gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn leads(gateway: &Gateway) -> bool {
    status(gateway).await["replica"]["leader"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_mirror_and_one_leader() {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let sim = simulator(small_portal(), &public_url).await;
    let options = replica_options(&sim, &url, "lookback_secs = 5");
    let first = Gateway::start_options(&format!("127.0.0.1:{port}"), &public_url, &options).await;
    let second = Gateway::start_options("127.0.0.1:0", &public_url, &options).await;

    wait_until("a leader", Duration::from_secs(15), || async {
        leads(&first).await || leads(&second).await
    })
    .await;
    let (one, other) = (status(&first).await, status(&second).await);
    assert_ne!(
        one["replica"]["id"], other["replica"]["id"],
        "{one} {other}"
    );
    assert_ne!(
        one["replica"]["leader"], other["replica"]["leader"],
        "exactly one leads: {one} {other}"
    );

    // The leader backfills; the follower answers from the same database, for the portal the
    // leader connected to.
    let (leader, follower) = if leads(&first).await {
        (first, second)
    } else {
        (second, first)
    };
    let harness = Harness {
        sim,
        gateway: follower,
    };
    harness.converge(Duration::from_secs(60)).await;
    mutate(&harness.sim);
    harness.converge(Duration::from_secs(60)).await;

    // A webhook stored through one replica is a redelivery at the other.
    let body = batch(900_000, 5, 1);
    let (code, _) = harness
        .gateway
        .post("/webhooks/hubspot", &body, Signing::V3 { skew_ms: 0 })
        .await;
    assert_eq!(code, 204);
    let before = leader.webhook_status().await["duplicates"]
        .as_u64()
        .unwrap();
    let (code, _) = leader
        .post("/webhooks/hubspot", &body, Signing::V3 { skew_ms: 0 })
        .await;
    assert_eq!(code, 204);
    // Dropped when the leader applies the events (they count as received until then).
    let dropped = || async {
        let after = leader.webhook_status().await["duplicates"].as_u64();
        after.unwrap() - before
    };
    wait_until(
        "the redeliveries dropped",
        Duration::from_secs(30),
        || async { dropped().await >= 5 },
    )
    .await;
    assert_eq!(
        dropped().await,
        5,
        "dropped as already stored by the other replica"
    );

    // The leader stops; the other takes over.
    let follower = harness.gateway;
    leader.stop().await;
    wait_until("the follower to lead", Duration::from_secs(15), || {
        leads(&follower)
    })
    .await;
    follower.stop().await;
    harness.sim.shutdown().await;
}
