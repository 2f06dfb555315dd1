//! Reliability under faults: a full disk under the store (503 `storage_unavailable`, nothing
//! acknowledged that was not stored, a restart recovers once space returns), and HubSpot
//! misbehaving (429 storms, 5xx, a 30 s latency spike, a two-minute outage, expiring tokens)
//! while webhooks keep being acknowledged.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hubspot_gateway::daemon;
use hubspot_gateway::sim::{ObjectType, SimConfig};

use crate::mirror::{mutate, small_portal, wait_until, Harness};
use crate::support::process::{free_port, Process, Systemd};
use crate::support::{answer, batch, config_with, signing::Signing, Options, READ_TOKEN};

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

/// OAuth: every access token expires (HubSpot answers 401 `EXPIRED_AUTHENTICATION` to a token
/// the client still believes valid) twice while records change and webhooks flow. Webhooks
/// are acknowledged at once throughout, the client refreshes its token from the refresh
/// token, and the mirror converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_expiring_while_webhooks_flow_and_the_mirror_syncs() {
    let harness = Harness::start_oauth(small_portal()).await;
    let control = harness.sim.control();
    let refreshes = || {
        control
            .stats()
            .calls
            .iter()
            .filter(|(endpoint, _)| endpoint.contains("/oauth/v1/token"))
            .map(|(_, count)| *count)
            .sum::<u64>()
    };
    let unauthorized = || control.stats().statuses.get(&401).copied().unwrap_or(0);
    assert!(refreshes() >= 1, "the backfill ran on an OAuth token");
    let contacts = control.ids(ObjectType::Contacts, "0", 30);
    for (round, ids) in [&contacts[..15], &contacts[15..]].into_iter().enumerate() {
        let (refreshed, rejected) = (refreshes(), unauthorized());
        control.expire_tokens();
        update_all(&harness, ids, &format!("Expired {round}")).await;
        wait_until(
            "a 401 for the expired token, then a refresh",
            Duration::from_secs(30),
            || async { unauthorized() > rejected && refreshes() > refreshed },
        )
        .await;
        let (status, _) = harness.gateway.get("/readyz", None).await;
        assert_eq!(
            status, 200,
            "the gateway stays ready while its token expires"
        );
    }
    harness.converge(Duration::from_secs(60)).await;
    for id in &contacts {
        let (_, body) = harness
            .gateway
            .get(&format!("/v1/objects/contacts/{id}"), Some(READ_TOKEN))
            .await;
        let title = body["properties"]["jobtitle"].as_str().unwrap_or_default();
        assert!(title.starts_with("Expired "), "contact {id}: {title:?}");
    }
    harness.stop().await;
}

/// HubSpot's "30 s latency spike": for 30 s every call is answered only after 30 s. With
/// `hubspot.request_timeout_secs = 5` the client gives up on each attempt after 5 s, retries
/// within its budget (`max_retry_secs = 10`, the harness's) and then fails the call, so a
/// failure recorded before the spike ends is a timeout that fired. Webhooks are acknowledged
/// at once throughout, `/readyz` stays 200, and the next cycles catch up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_second_latency_spike_times_calls_out_and_the_mirror_catches_up() {
    let harness = Harness::start_tuned(
        small_portal(),
        tempfile::tempdir().unwrap(),
        "request_timeout_secs = 5",
    )
    .await;
    let control = harness.sim.control();
    let contacts = control.ids(ObjectType::Contacts, "0", 20);
    let failures_before = hubspot_failures(&harness).await;

    let spike = Duration::from_secs(30);
    let spike_end = tokio::time::Instant::now() + spike;
    control.set_latency_ms(spike.as_millis() as u64);
    update_all(&harness, &contacts[..10], "Slow").await;
    wait_until(
        "a sync call given up after its attempts timed out",
        Duration::from_secs(25),
        || async { hubspot_failures(&harness).await > failures_before },
    )
    .await;
    assert!(
        tokio::time::Instant::now() < spike_end,
        "the failure came from the client's timeout, not from a late answer"
    );
    let (status, _) = harness.gateway.get("/readyz", None).await;
    assert_eq!(status, 200, "the gateway stays ready while HubSpot is slow");
    tokio::time::sleep_until(spike_end).await;
    control.set_latency_ms(0);

    update_all(&harness, &contacts[10..], "After").await;
    harness.converge(Duration::from_secs(60)).await;
    harness.stop().await;
}

/// An outage of two minutes (every call answered 503) while records keep changing: every
/// webhook is acknowledged at once, `/readyz` stays 200, calls are given up after their
/// retry budget (the harness's `max_retry_secs = 10`) instead of piling up, and the mirror
/// converges once HubSpot is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_minute_outage_then_the_mirror_catches_up() {
    let harness = Harness::start(small_portal()).await;
    let control = harness.sim.control();
    let contacts = control.ids(ObjectType::Contacts, "0", 35);
    let failures_before = hubspot_failures(&harness).await;

    let outage = Duration::from_secs(120);
    let outage_end = tokio::time::Instant::now() + outage;
    control.outage(outage);
    for (round, ids) in contacts[..30].chunks(5).enumerate() {
        assert!(
            tokio::time::Instant::now() < outage_end,
            "round {round} runs during the outage"
        );
        update_all(&harness, ids, &format!("Outage{round}")).await;
        let (status, _) = harness.gateway.get("/readyz", None).await;
        assert_eq!(status, 200, "the gateway stays ready while HubSpot is down");
        tokio::time::sleep(Duration::from_secs(18)).await;
    }
    assert!(
        hubspot_failures(&harness).await > failures_before,
        "sync calls were given up during the outage"
    );
    tokio::time::sleep_until(outage_end).await;

    update_all(&harness, &contacts[30..], "After").await;
    harness.converge(Duration::from_secs(60)).await;
    harness.stop().await;
}

/// The gateway's `hubspot_failures` counter: calls that failed after their retries.
async fn hubspot_failures(harness: &Harness) -> f64 {
    let (status, body) = harness
        .gateway
        .get("/metrics", Some(crate::support::READ_TOKEN))
        .await;
    assert_eq!(status, 200);
    let text = body.as_str().expect("metrics are text");
    let samples = crate::support::metrics_text::parse(text).expect("valid exposition");
    // Every portal's series (this gateway has one).
    samples
        .iter()
        .filter(|(series, _)| series.starts_with("hubspot_gateway_hubspot_failures_total{"))
        .map(|(_, count)| count)
        .sum()
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

/// The real `hubspot-gateway serve` with its store at a given path (its config and log in
/// `config_dir`), so that its exit code is what systemd would see.
struct OnStore {
    process: Process,
    base: String,
    http: reqwest::Client,
}

const PUBLIC_URL: &str = "https://hooks.example.com/gw";

impl OnStore {
    /// `notify`: a `NOTIFY_SOCKET` for the daemon's sd_notify messages.
    async fn start(store: &Path, config_dir: &Path, notify: Option<&Path>) -> OnStore {
        let port = free_port();
        let text = config_with(
            &format!("127.0.0.1:{port}"),
            PUBLIC_URL,
            store,
            &Options::default(),
        );
        let config = config_dir.join("config.toml");
        std::fs::write(&config, text).unwrap();
        let systemd = Systemd {
            notify_socket: notify,
            ..Systemd::default()
        };
        let mut process = Process::under_systemd(&config, &systemd);
        let base = format!("http://127.0.0.1:{port}");
        process.wait_ready(&base).await;
        OnStore {
            process,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Posts the next 100 events from `next_id`; returns their ids, the status and error code
    /// (`None`: the daemon no longer answers).
    async fn post_next(&self, next_id: &mut i64) -> Option<(Range<i64>, u16, String)> {
        let ids = *next_id..*next_id + 100;
        *next_id = ids.end;
        let body = batch(ids.start, 100, 0);
        let uri = format!("{PUBLIC_URL}/webhooks/hubspot");
        let mut request = self
            .http
            .post(format!("{}/webhooks/hubspot", self.base))
            .body(body.clone());
        for (name, value) in Signing::FRESH.headers(&uri, body.as_bytes()) {
            request = request.header(name, value);
        }
        let (status, body) = answer(request.send().await.ok()?).await;
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        Some((ids, status, code))
    }

    /// The event ids `GET /v1/webhooks/events` lists (the most recent 1000).
    async fn listed_event_ids(&self) -> BTreeSet<i64> {
        let response = self
            .http
            .get(format!("{}/v1/webhooks/events?limit=1000", self.base))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let (status, body) = answer(response).await;
        assert_eq!(status, 200, "{body}");
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|entry| entry["event"]["eventId"].as_i64())
            .collect()
    }

    async fn readyz(&self) -> Option<(u16, String)> {
        let response = self.http.get(format!("{}/readyz", self.base));
        let (status, body) = answer(response.send().await.ok()?).await;
        Some((
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        ))
    }

    /// SIGTERM and the exit status.
    async fn stop(mut self) -> std::process::ExitStatus {
        self.process.signal(libc::SIGTERM);
        self.process.wait_exit().await
    }
}

/// Every event id in the inbox at `store`.
async fn stored_event_ids(store: &Path) -> BTreeSet<i64> {
    let store = crate::support::open_sled(store).await;
    let events = store.inbox().recent(usize::MAX).unwrap();
    events
        .iter()
        .rev()
        .map(|event| {
            let value: serde_json::Value = serde_json::from_str(&event.raw).unwrap();
            value["eventId"].as_i64().unwrap()
        })
        .collect()
}

/// A full disk: webhooks get 503 `storage_unavailable`, nothing unstored is acknowledged and
/// no part of a refused batch is kept (sled may have written part of it before the failed
/// flush: the restart drops what the ledger does not cover);
/// sled 0.34 keeps the I/O error even once space returns, so the daemon turns not-ready at
/// once (`/readyz` 503) and exits 1 after its grace (systemd's `Restart=on-failure` then
/// restarts it); the restarted daemon, with space back, stores again and has every event it
/// ever acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_turns_not_ready_exits_1_and_a_restart_recovers() {
    let tmpfs = match Tmpfs::mount(48) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => {
            eprintln!("SKIPPED a_full_disk_answers_503_...: {reason}");
            return;
        }
    };
    let config_dir = tempfile::tempdir().unwrap();
    let store = tmpfs.path().join("store");
    let notify_path = config_dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    let gateway = OnStore::start(&store, config_dir.path(), Some(&notify_path)).await;
    let mut acked = BTreeSet::new();
    let mut next_id = 1_000i64;
    for _ in 0..5 {
        let (ids, status, code) = gateway.post_next(&mut next_id).await.unwrap();
        assert_eq!(status, 204, "{code}");
        acked.extend(ids);
    }

    let filler = tmpfs.fill();
    let full_at = tokio::time::Instant::now();
    let mut refusals = 0;
    let mut refused = BTreeSet::new();
    for _ in 0..400 {
        let Some((ids, status, code)) = gateway.post_next(&mut next_id).await else {
            break;
        };
        match status {
            204 => acked.extend(ids),
            503 => {
                assert_eq!(code, "storage_unavailable");
                refused.extend(ids);
                refusals += 1;
                if refusals == 3 {
                    break;
                }
            }
            other => panic!("a full disk answered {other} {code}"),
        }
    }
    assert_eq!(refusals, 3, "the store never ran out of space");
    // The refused events are in sled's memory (its I/O error keeps them from the disk and
    // from being removed): they are not shown, nor handed to the sync.
    let listed = gateway.listed_event_ids().await;
    let shown: Vec<&i64> = refused.intersection(&listed).take(10).collect();
    assert!(
        shown.is_empty(),
        "refused events listed as stored: {shown:?}…"
    );
    assert!(acked.iter().rev().take(100).all(|id| listed.contains(id)));
    // The daemon's store check runs every 250 ms.
    let mut ready = gateway.readyz().await;
    for _ in 0..20 {
        if ready.as_ref().is_some_and(|(status, _)| *status == 503) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = gateway.readyz().await;
    }
    assert_eq!(
        ready,
        Some((503, "storage_unavailable".to_owned())),
        "not ready once the store failed, still up within the grace"
    );

    // Space back: this process still cannot write (sled keeps the error), so it answers 503
    // until it exits 1 for a restart.
    std::fs::remove_file(filler).unwrap();
    if let Some((ids, status, code)) = gateway.post_next(&mut next_id).await {
        assert_eq!((status, code.as_str()), (503, "storage_unavailable"));
        refused.extend(ids);
    }
    let mut gateway = gateway;
    let exit = gateway.process.wait_exit().await;
    assert_eq!(exit.code(), Some(1), "{}", gateway.process.log_text());
    let waited = full_at.elapsed();
    assert!(
        waited >= daemon::STORE_FAILURE_GRACE && waited < Duration::from_secs(25),
        "exited {waited:?} after the disk filled"
    );
    assert!(
        gateway
            .process
            .log_text()
            .contains("the store is unwritable"),
        "{}",
        gateway.process.log_text()
    );
    notify.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 4096];
    let mut messages = Vec::new();
    while let Ok(length) = notify.recv(&mut buffer) {
        messages.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
    }
    assert!(
        messages
            .iter()
            .any(|message| message.starts_with("STATUS=store unwritable")),
        "systemd is told why: {messages:?}"
    );
    let stored = stored_event_ids(&store).await;
    let lost: Vec<&i64> = acked.difference(&stored).take(10).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}…");

    let gateway = OnStore::start(&store, config_dir.path(), None).await;
    let (ids, status, code) = gateway.post_next(&mut next_id).await.unwrap();
    assert_eq!(status, 204, "after a restart with space back: {code}");
    acked.extend(ids);
    assert_eq!(gateway.readyz().await, Some((200, String::new())));
    let exit = gateway.stop().await;
    assert!(exit.success(), "a clean stop once space is back: {exit}");
    let stored = stored_event_ids(&store).await;
    assert!(
        acked.is_subset(&stored),
        "every acknowledged event is stored"
    );
    let kept: Vec<&i64> = refused.intersection(&stored).take(10).collect();
    assert!(
        kept.is_empty(),
        "events of batches answered 503 are stored: {kept:?}…"
    );
}
