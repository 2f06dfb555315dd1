//! Reliability under faults: a full disk under the store (503 `storage_unavailable`, nothing
//! acknowledged that was not stored, a restart recovers once space returns), and HubSpot
//! misbehaving (429 storms, 5xx, latency, an outage) while webhooks keep being acknowledged.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hubspot_gateway::sim::{ObjectType, SimConfig};
use hubspot_gateway::store::{Position, Store};
use hubspot_gateway::{config, daemon};
use tokio_util::sync::CancellationToken;

use crate::mirror::{mutate, small_portal, wait_until, Harness};
use crate::support::{self, answer, batch, config_with, signing::Signing, Options};

/// HubSpot answers a 429 storm, 5xx, slowly and not at all (an outage) while records change:
/// every webhook
/// the simulator sends is still acknowledged at once (the webhook path never waits on
/// HubSpot), and once HubSpot behaves again the mirror converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_acknowledged_through_hubspot_faults_and_the_mirror_catches_up() {
    let harness = Harness::start(small_portal()).await;
    let control = harness.sim.control();
    let before = control.stats();

    control.force_429s(20);
    control.set_fault_rate(0.3);
    control.set_latency_ms(150);
    mutate(&harness.sim);
    let contacts = control.ids(ObjectType::Contacts, "0", 40);
    update_all(&harness, &contacts[10..25], "Faulty").await;
    wait_until(
        "the sync meets the faults",
        Duration::from_secs(30),
        || async {
            let stats = control.stats();
            stats.rate_limited > 0 && stats.statuses.keys().any(|status| *status >= 500)
        },
    )
    .await;
    control.outage(Duration::from_secs(3));
    update_all(&harness, &contacts[25..40], "Outage").await;
    let webhooks = control.stats().webhooks;
    assert!(
        webhooks.events_delivered >= before.webhooks.events_delivered + 30,
        "{webhooks:?}"
    );
    let (status, _) = harness.gateway.get("/readyz", None).await;
    assert_eq!(status, 200, "the gateway stays ready while HubSpot fails");

    control.set_fault_rate(0.0);
    control.set_latency_ms(0);
    harness.converge(Duration::from_secs(60)).await;
    harness.stop().await;
}

/// Changes `ids` (each sends a webhook) and checks every webhook was acknowledged at once.
async fn update_all(harness: &Harness, ids: &[String], title: &str) {
    let control = harness.sim.control();
    for id in ids {
        control
            .update(
                ObjectType::Contacts,
                id,
                [("jobtitle", format!("{title} {id}"))],
            )
            .unwrap();
    }
    assert_eq!(control.flush_webhooks(Duration::from_secs(20)).await, 0);
    let webhooks = control.stats().webhooks;
    assert_eq!(
        (webhooks.failed_attempts, webhooks.batches_given_up),
        (0, 0),
        "every webhook is acknowledged on its first attempt: {webhooks:?}"
    );
}

/// 5xx bursts during the initial backfill: it retries through them and the mirror ends equal
/// to the portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_completes_through_5xx_bursts() {
    let config = SimConfig {
        fault_rate: 0.2,
        ..small_portal()
    };
    let harness = Harness::start(config).await;
    let control = harness.sim.control();
    control.set_fault_rate(0.0);
    harness.converge(Duration::from_secs(60)).await;
    assert!(
        control.stats().statuses.keys().any(|status| *status >= 500),
        "5xx were served during the backfill"
    );
    harness.stop().await;
}

/// A tmpfs of a few MiB on a temp dir (needs root), unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mib: u32) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mib}m"),
                "it-faults",
            ])
            .arg(dir.path())
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (needs root): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Takes every free byte with one file; removing it gives the space back.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xa5u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&chunk[..512]).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The daemon in this process with its store at a given path (`Gateway` picks its own).
struct OnStore {
    addr: SocketAddr,
    http: reqwest::Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

const PUBLIC_URL: &str = "https://hooks.example.com/gw";

impl OnStore {
    async fn start(store: &Path) -> OnStore {
        let text = config_with("127.0.0.1:0", PUBLIC_URL, store, &Options::default());
        let loaded = config::load_str(&text, &support::env).expect("test config is valid");
        let running = daemon::start(&loaded).await.expect("gateway starts");
        OnStore {
            addr: running.local_addr,
            http: reqwest::Client::new(),
            shutdown: running.shutdown_token(),
            task: tokio::spawn(running.wait()),
        }
    }

    /// Posts the next 100 events from `next_id`; returns their ids, the status and error code.
    async fn post_next(&self, next_id: &mut i64) -> (Range<i64>, u16, String) {
        let ids = *next_id..*next_id + 100;
        *next_id = ids.end;
        let body = batch(ids.start, 100, 0);
        let uri = format!("{PUBLIC_URL}/webhooks/hubspot");
        let mut request = self
            .http
            .post(format!("http://{}/webhooks/hubspot", self.addr))
            .body(body.clone());
        for (name, value) in Signing::FRESH.headers(&uri, body.as_bytes()) {
            request = request.header(name, value);
        }
        let (status, body) = answer(request.send().await.unwrap()).await;
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        (ids, status, code)
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("gateway stops in time")
            .unwrap()
    }
}

/// Every event id in the inbox at `store`.
fn stored_event_ids(store: &Path) -> BTreeSet<i64> {
    // The stopped in-process gateway's last handles (connection tasks, sled's threads) may
    // take a moment to let go of the store's lock.
    let deadline = std::time::SystemTime::now() + Duration::from_secs(15);
    let store = loop {
        match Store::open(store) {
            Err(hubspot_gateway::store::Error::Locked { .. })
                if std::time::SystemTime::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            opened => break opened.expect("the store reopens after the disk was full"),
        }
    };
    let events = store
        .inbox()
        .read_from(Position { seq: 0, index: 0 }, usize::MAX)
        .unwrap();
    events
        .iter()
        .map(|event| {
            let value: serde_json::Value = serde_json::from_str(&event.raw).unwrap();
            value["eventId"].as_i64().unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_loses_nothing_acknowledged_and_a_restart_recovers() {
    let tmpfs = match Tmpfs::mount(48) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => {
            eprintln!("SKIPPED a_full_disk_answers_503_...: {reason}");
            return;
        }
    };
    let store = tmpfs.path().join("store");
    let gateway = OnStore::start(&store).await;
    let mut acked = BTreeSet::new();
    let mut next_id = 1_000i64;
    for _ in 0..5 {
        let (ids, status, code) = gateway.post_next(&mut next_id).await;
        assert_eq!(status, 204, "{code}");
        acked.extend(ids);
    }

    let filler = tmpfs.fill();
    let mut refusals = 0;
    for _ in 0..400 {
        let (ids, status, code) = gateway.post_next(&mut next_id).await;
        match status {
            204 => acked.extend(ids),
            503 => {
                assert_eq!(code, "storage_unavailable");
                refusals += 1;
                if refusals == 5 {
                    break;
                }
            }
            other => panic!("a full disk answered {other} {code}"),
        }
    }
    assert_eq!(refusals, 5, "the store never ran out of space");

    std::fs::remove_file(filler).unwrap();
    // sled 0.34 keeps the first I/O error and fails every later flush, so this daemon stays
    // at 503 even with space back (reported to the store's owner); a restart recovers.
    let (ids, status, code) = gateway.post_next(&mut next_id).await;
    if status == 204 {
        acked.extend(ids);
    } else {
        assert_eq!((status, code.as_str()), (503, "storage_unavailable"));
        let ready = gateway.http.get(format!("http://{}/readyz", gateway.addr));
        let ready = ready.send().await.unwrap().status();
        eprintln!("a_full_disk: still 503 with space back until a restart; /readyz {ready}");
    }
    let _ = gateway.stop().await;
    let stored = stored_event_ids(&store);
    let lost: Vec<&i64> = acked.difference(&stored).take(10).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}…");

    let gateway = OnStore::start(&store).await;
    let (ids, status, code) = gateway.post_next(&mut next_id).await;
    assert_eq!(status, 204, "after a restart with space back: {code}");
    acked.extend(ids);
    gateway
        .stop()
        .await
        .expect("a clean stop once space is back");
    let stored = stored_event_ids(&store);
    assert!(
        acked.is_subset(&stored),
        "every acknowledged event is stored"
    );
}
