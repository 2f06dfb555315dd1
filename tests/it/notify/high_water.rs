//! An outbox above its high water, on the real binary: the oldest notifications are kept,
//! newer ones for that target are dropped and counted (`GET /v1/notifications`, the
//! `notify_dropped` metric), the daemon says so once in its log, and the outbox stops growing;
//! once deliveries catch up it queues again and says that too.

use std::time::Duration;

use hubspot_gateway::sim::{self, ObjectType};
use serde_json::Value;

use super::receiver::Receiver;
use super::{key, notify_section, target, wait_for};
use crate::mirror::wait_until;
use crate::support::process::{free_port, Process};
use crate::support::{answer, metrics_text, ADMIN_TOKEN, READ_TOKEN};

const WITHIN: Duration = Duration::from_secs(40);
const FULL: &str = "outbox above its high water";
const AGAIN: &str = "outbox below its high water again";

async fn get(base: &str, path: &str, token: &str) -> Value {
    let request = reqwest::Client::new().get(format!("{base}{path}"));
    answer(request.bearer_auth(token).send().await.unwrap())
        .await
        .1
}

async fn status(base: &str) -> Value {
    get(base, "/v1/notifications", ADMIN_TOKEN).await["targets"][0].clone()
}

/// Creates a contact and waits until the gateway mirrors it; its id.
async fn create(sim: &sim::SimHandle, base: &str, at: usize) -> String {
    let email = format!("high.water.{at}@notify.example");
    let id = sim
        .control()
        .create(ObjectType::Contacts, [("email", email)])
        .unwrap();
    let path = format!("/v1/objects/contacts/{id}");
    wait_until("mirrored", WITHIN, || async {
        get(base, &path, READ_TOKEN).await["id"] == id.as_str()
    })
    .await;
    id
}

fn log_count(daemon: &Process, needle: &str) -> usize {
    daemon.log_text().matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_its_high_water_an_outbox_keeps_the_oldest_counts_and_logs_the_rest() {
    let portal = super::contacts_portal(3, 20);
    let sim = sim::start(portal, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let events = "events = [\"record.created\"]";
    let section = notify_section("high_water = 3", &target("full", &url, events));
    let dir = tempfile::tempdir().unwrap();
    let (config, base) = super::binary_config(&sim, dir.path(), &section);
    let mut daemon = super::serve(&config, &[]);
    daemon.wait_ready(&base).await;
    wait_until("the first full sync", WITHIN, || async {
        let status = get(&base, "/v1/status", ADMIN_TOKEN).await;
        !status["contacts"]["last_full_sync"].is_null()
    })
    .await;
    super::send_webhooks(&sim, &base);

    // One at a time, so that the outbox sees them in this order; the target is down. The
    // counts follow a write's commit, so a record can be readable an instant before them.
    let mut created = Vec::new();
    for at in 0..8 {
        created.push(create(&sim, &base, at).await);
        let (pending, dropped) = ((at as u64 + 1).min(3), (at as u64).saturating_sub(2));
        wait_until("the outbox's counts", WITHIN, || async {
            let now = status(&base).await;
            let counts = (now["pending"].as_u64(), now["dropped"].as_u64());
            assert!(
                counts.0 <= Some(pending),
                "the outbox grew past its high water: {now}"
            );
            counts == (Some(pending), Some(dropped))
        })
        .await;
    }
    let full = status(&base).await;
    assert_eq!(full["pending"], 3, "{full}");
    assert_eq!(full["dropped"], 5, "{full}");
    let metrics = get(&base, "/metrics", READ_TOKEN).await;
    let samples = metrics_text::parse(metrics.as_str().unwrap()).unwrap();
    let dropped = samples
        .iter()
        .find(|(name, _)| name.contains("notify_dropped") && name.contains("\"full\""))
        .map(|(_, value)| *value);
    assert_eq!(dropped, Some(5.0), "{samples:?}");
    // Said once when dropping started, not once per dropped notification.
    daemon.wait_log(FULL, 1).await;
    assert_eq!(log_count(&daemon, FULL), 1, "{}", daemon.log_text());
    assert!(
        daemon.log_text().contains("\"high_water\":3"),
        "{}",
        daemon.log_text()
    );
    assert_eq!(log_count(&daemon, AGAIN), 0);

    let receiver = Receiver::start(&key(), port).await;
    let arrived = wait_for(&receiver, "record.created", 3, WITHIN).await;
    let mut ids: Vec<&str> = arrived
        .iter()
        .map(|body| body["data"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut oldest: Vec<&str> = created[..3].iter().map(String::as_str).collect();
    oldest.sort();
    assert_eq!(ids, oldest, "the oldest are kept");
    wait_until("delivered", WITHIN, || async {
        status(&base).await["pending"] == 0
    })
    .await;
    // Below it again: the next notification is queued, delivered, and the log says so.
    let next = create(&sim, &base, 8).await;
    let arrived = wait_for(&receiver, "record.created", 4, WITHIN).await;
    assert_eq!(arrived[3]["data"]["id"], next.as_str());
    daemon.wait_log(AGAIN, 1).await;
    assert_eq!(status(&base).await["dropped"], 5);
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit().await;
    sim.shutdown().await;
}
