//! `kill -9` of the leader at each step of an export's batch create (the writer's crash
//! points, as in `export_crash`): another replica takes the lease, resumes the job from the
//! intents in the database, and its report equals what HubSpot (the simulator) holds: every
//! record created exactly once. And a job held up at the leader says why at every replica.

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use hubspot_gateway::export::writer::crash;
use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::sim::{ObjectType, SimHandle};
use serde_json::{json, Value};

use crate::export_crash::{
    batch_crashes, contacts_through, gateway_config_on, get, portal, post_export, start_export,
    until_done,
};
use crate::mirror::wait_until;
use crate::support::process::{command, Process};

/// A replica's daemon on the database at `url`, armed with `crash_at` (`STEP:N`) when given.
struct Replica {
    process: Process,
    base: String,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start(sim: &SimHandle, url: &str, crash_at: Option<&str>) -> Replica {
        Replica::start_with(sim, url, crash_at, "").await
    }

    /// Like [`Replica::start`], with `hubspot` added to the config's `[hubspot]` section.
    async fn start_with(
        sim: &SimHandle,
        url: &str,
        crash_at: Option<&str>,
        hubspot: &str,
    ) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let (config, base) = gateway_config_on(sim, dir.path(), Some(url));
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replacen("api_base = ", &format!("{hubspot}\napi_base = "), 1);
        std::fs::write(&config, text).unwrap();
        let mut serve = command(&config);
        serve.arg("serve").env("IT_DATABASE_URL", url);
        if let Some(crash_at) = crash_at {
            serve.env(crash::VARIABLE, crash_at);
        }
        let mut process = Process::spawn(serve, &config);
        process.wait_ready(&base).await;
        Replica {
            process,
            base,
            _dir: dir,
        }
    }

    async fn leads(&self) -> bool {
        get(&self.base, "/v1/status")
            .await
            .is_some_and(|status| status["replica"]["leader"] == true)
    }

    async fn until_leading(&self) {
        wait_until("the replica to lead", Duration::from_secs(15), || {
            self.leads()
        })
        .await;
    }
}

/// Exports `rows` with a leader that kills itself at `crashes[0]`; the standby (armed with
/// `crashes[1]`, and so on) takes over; returns the job a last, unarmed replica finishes.
async fn export_across_replicas(
    sim: &SimHandle,
    kind: ObjectType,
    rows: &[Value],
    crashes: &[&str],
) -> Value {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let mut armed = crashes
        .iter()
        .copied()
        .map(Some)
        .chain(std::iter::repeat(None));
    let mut leader = Replica::start(sim, &url, armed.next().flatten()).await;
    leader.until_leading().await;
    let mut standby = Replica::start(sim, &url, armed.next().flatten()).await;
    let path = start_export(&mut leader.process, &leader.base, kind, rows).await;
    for _ in crashes {
        let done = until_done(&mut leader.process, &leader.base, &path).await;
        assert!(
            done.is_none(),
            "the job ended before its crash point: {done:?}"
        );
        let status = leader.process.wait_exit().await;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{}",
            leader.process.log_text()
        );
        leader = standby;
        leader.until_leading().await;
        standby = Replica::start(sim, &url, armed.next().flatten()).await;
    }
    let job = until_done(&mut leader.process, &leader.base, &path).await;
    job.unwrap_or_else(|| panic!("the job never finished: {}", leader.process.log_text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_at_each_step_of_a_batch_another_replica_reports_what_hubspot_holds() {
    for crashes in batch_crashes() {
        contacts_through(&crashes, |sim, kind, rows, crashes| async move {
            let crashes: Vec<&str> = crashes.iter().map(String::as_str).collect();
            let job = export_across_replicas(&sim, kind, &rows, &crashes).await;
            (sim, job)
        })
        .await;
    }
}

/// A job held up at the leader says why at every replica: the leader publishes what its
/// jobs wait for, and a replica that follows answers with that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_up_job_says_why_at_every_replica() {
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = Cluster::shared().fresh_database().await.unwrap();
    // HubSpot's failures reach the export writer after a second of retries.
    let quick = "max_retry_secs = 1";
    let leader = Replica::start_with(&sim, &url, None, quick).await;
    leader.until_leading().await;
    let follower = Replica::start_with(&sim, &url, None, quick).await;
    assert!(!follower.leads().await);
    wait_until("the backfill", Duration::from_secs(60), || async {
        get(&follower.base, "/v1/status")
            .await
            .is_some_and(|status| !status["contacts"]["last_full_sync"].is_null())
    })
    .await;

    sim.control().outage(Duration::from_secs(600));
    let held = json!({"ref": "r", "fields": {"email": "held@up.example"}});
    let path = post_export(&follower.base, ObjectType::Contacts, &[held]).await;
    let waiting = |replica: &Replica| {
        let (base, path) = (replica.base.clone(), path.clone());
        async move { get(&base, &path).await.unwrap()["waiting"].clone() }
    };
    wait_until(
        "the leader's job to wait",
        Duration::from_secs(30),
        || async { waiting(&leader).await["code"] == "retrying" },
    )
    .await;
    let at_follower = waiting(&follower).await;
    assert_eq!(at_follower["code"], "retrying", "{at_follower}");
    assert!(
        at_follower["message"]
            .as_str()
            .is_some_and(|message| message.contains("next attempt")),
        "{at_follower}"
    );

    // HubSpot is back: the job runs, and no replica says it waits any more.
    sim.control().outage(Duration::ZERO);
    wait_until("the job done", Duration::from_secs(60), || async {
        get(&follower.base, &path).await.unwrap()["state"] == "done"
    })
    .await;
    for replica in [&leader, &follower] {
        assert!(waiting(replica).await.is_null());
    }
    sim.shutdown().await;
}
