//! `kill -9` of the leader: another replica takes over from the stored cursors and intents.

use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::sim::{self, SimConfig, SimHandle};
use serde_json::Value;

use crate::mirror::wait_until;
use crate::support::process::{free_port, Process};
use crate::support::{config_with, READ_TOKEN};

/// A `serve` process of a replica on the database at `url`, mirroring `objects` of `sim`.
struct Replica {
    process: Process,
    base: String,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start(sim: &SimHandle, url: &str, objects: &str) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let options = super::replica_options(sim, url, &format!("objects = [{objects}]"));
        let listen = format!("127.0.0.1:{port}");
        let text = config_with(
            &listen,
            "https://h.example",
            &dir.path().join("store"),
            &options,
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        let mut command = crate::support::process::command(&config);
        command.arg("serve").env("IT_DATABASE_URL", url);
        let mut process = Process::spawn(command, &config);
        let base = format!("http://{listen}");
        process.wait_ready(&base).await;
        Replica {
            process,
            base,
            _dir: dir,
        }
    }

    async fn status(&self) -> Option<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/status", self.base))
            .bearer_auth(READ_TOKEN)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn leads(&self) -> bool {
        self.status()
            .await
            .is_some_and(|status| status["replica"]["leader"] == true)
    }
}

/// Contacts stored so far by the backfill (or all of them, once it is done).
fn contacts_stored(status: &Value) -> u64 {
    let contacts = &status["contacts"];
    contacts["backfill_progress"]["stored"]
        .as_u64()
        .unwrap_or_else(|| contacts["count"].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_leader_during_a_backfill_another_replica_finishes_it() {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let config = SimConfig {
        owners: 4,
        contacts: 3_000,
        companies: 300,
        deals: 0,
        tasks: 0,
        access_token: "pat-na1-it".into(),
        // Slow enough that the backfill is under way when the leader dies.
        rate_limit: Some(sim::RateLimit {
            max: 8,
            interval_ms: 1_000,
        }),
        ..SimConfig::default()
    };
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let objects = "\"owners\", \"contacts\", \"companies\"";
    let mut replicas = vec![
        Replica::start(&sim, &url, objects).await,
        Replica::start(&sim, &url, objects).await,
    ];

    wait_until(
        "the backfill under way",
        Duration::from_secs(60),
        || async {
            let status = replicas[0].status().await;
            status.is_some_and(|status| contacts_stored(&status) >= 300)
        },
    )
    .await;
    let leader = if replicas[0].leads().await { 0 } else { 1 };
    assert!(replicas[leader].leads().await, "one of the two leads");
    let mut killed = replicas.remove(leader);
    killed.process.signal(libc::SIGKILL);
    killed.process.wait_exit().await;
    let survivor = &replicas[0];
    let stored_at_kill = contacts_stored(&survivor.status().await.unwrap());
    assert!(
        stored_at_kill < 3_000,
        "the backfill was not done: {stored_at_kill}"
    );

    wait_until("the survivor to lead", Duration::from_secs(15), || {
        survivor.leads()
    })
    .await;
    wait_until(
        "the backfill to progress again",
        Duration::from_secs(30),
        || async {
            survivor
                .status()
                .await
                .is_some_and(|status| contacts_stored(&status) > stored_at_kill)
        },
    )
    .await;
    wait_until(
        "the backfill to finish",
        Duration::from_secs(120),
        || async {
            survivor.status().await.is_some_and(|status| {
                ["contacts", "companies"]
                    .iter()
                    .all(|kind| !status[kind]["last_full_sync"].is_null())
            })
        },
    )
    .await;
    let status = survivor.status().await.unwrap();
    assert_eq!(status["contacts"]["count"], 3_000, "{status}");
    assert_eq!(status["companies"]["count"], 300, "{status}");
    assert_eq!(status["owners"]["count"], 4, "{status}");
    drop(replicas);
    sim.shutdown().await;
}
