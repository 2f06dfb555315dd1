//! Tests of the real `hubspot-gateway` binary: config errors and exit codes, `kill -9` in the
//! middle of ingest losing no acknowledged event, and `kill -9` during a backfill.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::process::{free_port, sim_config_file, Process};
use crate::support::signing::Signing;
use hubspot_gateway::sim::{self, SimConfig};

use crate::support::{answer, batch, config_text, ADMIN_TOKEN, CLIENT_SECRET};

fn command(config: &Path) -> Command {
    crate::support::process::command(config)
}

#[test]
fn check_config_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        config_text("127.0.0.1:0", "https://h.example", dir.path(), ""),
    )
    .unwrap();
    let output = command(&good).arg("check-config").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let bad = dir.path().join("bad.toml");
    let text = config_text(
        "nowhere",
        "https://h.example",
        dir.path(),
        "max_body_bytes = 1",
    );
    std::fs::write(&bad, text).unwrap();
    let output = command(&bad).arg("check-config").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.listen:") && stderr.contains("server.max_body_bytes:"),
        "{stderr}"
    );
    assert!(!stderr.contains(CLIENT_SECRET), "secrets never printed");

    let missing = command(&dir.path().join("absent.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let usage = command(&good).arg("no-such-command").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

struct Daemon {
    child: Child,
    base: String,
}

impl Daemon {
    async fn start(config: &Path, port: u16) -> Daemon {
        let child = command(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("{base}/readyz")).send().await {
                if response.status() == 200 {
                    break;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Daemon { child, base }
    }
}

/// Posts batches from several tasks until killed; returns the event ids that got a 204.
async fn ingest_until_killed(base: &str, public_url: &str, first: i64) -> BTreeSet<i64> {
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8i64 {
        let (http, base, public_url) = (http.clone(), base.to_owned(), public_url.to_owned());
        tasks.spawn(async move {
            let mut acked = Vec::new();
            for round in 0..10_000i64 {
                let start = first + (worker * 10_000 + round) * 10;
                let body = batch(start, 10, 0);
                let mut request = http
                    .post(format!("{base}/webhooks/hubspot"))
                    .body(body.clone());
                for (name, value) in Signing::FRESH
                    .headers(&format!("{public_url}/webhooks/hubspot"), body.as_bytes())
                {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(response) if response.status() == 204 => acked.extend(start..start + 10),
                    _ => break,
                }
            }
            acked
        });
    }
    let mut acked = BTreeSet::new();
    while let Some(ids) = tasks.join_next().await {
        acked.extend(ids.unwrap());
    }
    acked
}

async fn post_batch(http: &reqwest::Client, base: &str, public_url: &str, body: &str) -> u16 {
    let mut request = http
        .post(format!("{base}/webhooks/hubspot"))
        .body(body.to_owned());
    for (name, value) in
        Signing::FRESH.headers(&format!("{public_url}/webhooks/hubspot"), body.as_bytes())
    {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn webhook_counters(http: &reqwest::Client, base: &str) -> (u64, u64) {
    let status = http
        .get(format!("{base}/v1/status"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let (_, status) = answer(status).await;
    (
        status["webhooks"]["received"].as_u64().unwrap(),
        status["webhooks"]["duplicates"].as_u64().unwrap(),
    )
}

/// A config for a gateway on a free port with its store in `dir`: its path and the port.
fn write_config(dir: &std::path::Path, public_url: &str) -> (std::path::PathBuf, u16) {
    let port = free_port();
    let config = dir.join("config.toml");
    let text = config_text(
        &format!("127.0.0.1:{port}"),
        public_url,
        &dir.join("store"),
        "",
    );
    std::fs::write(&config, text).unwrap();
    (config, port)
}

/// Dedup rows are written after the acknowledging commit; `kill -9` right after the last 204
/// (before they are durable) must not let a redelivery be stored a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_after_kill_9_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let public_url = "https://hooks.example.com";
    let (config, port) = write_config(dir.path(), public_url);
    let http = reqwest::Client::new();

    let mut daemon = Daemon::start(&config, port).await;
    for round in 0..20 {
        let body = batch(round * 10, 10, 1);
        assert_eq!(
            post_batch(&http, &daemon.base, public_url, &body).await,
            204
        );
    }
    daemon.child.kill().unwrap(); // SIGKILL, right after the last acknowledgement
    daemon.child.wait().unwrap();

    let mut daemon = Daemon::start(&config, port).await;
    let (received, _) = webhook_counters(&http, &daemon.base).await;
    for round in 0..20 {
        // HubSpot's retry: same events, next attemptNumber.
        let body = batch(round * 10, 10, 2);
        assert_eq!(
            post_batch(&http, &daemon.base, public_url, &body).await,
            204
        );
    }
    let (after, duplicates) = webhook_counters(&http, &daemon.base).await;
    if !crate::support::on_postgres() {
        // sled drops redeliveries on arrival; PostgreSQL's leader when it applies them (this
        // daemon syncs nothing: the window below is what it would apply).
        assert_eq!(after, received, "a redelivered event was stored again");
        assert!(duplicates >= 200, "{duplicates} duplicates counted");
    }
    unsafe { libc::kill(daemon.child.id() as i32, libc::SIGTERM) };
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));

    let store = crate::support::open_store(&dir.path().join("store")).await;
    let stored = store.inbox().recent(usize::MAX).unwrap();
    assert_eq!(stored.len(), 200, "each event shown exactly once");
    let window = store.inbox().window(1_000).unwrap();
    assert_eq!(window.events.len(), 200, "each event applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let public_url = "https://hooks.example.com";
    let (config, port) = write_config(dir.path(), public_url);

    let mut all_acked = BTreeSet::new();
    for round in 0..3i64 {
        let mut daemon = Daemon::start(&config, port).await;
        let base = daemon.base.clone();
        let ingest = tokio::spawn(async move {
            ingest_until_killed(&base, public_url, round * 1_000_000_000).await
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        daemon.child.kill().unwrap(); // SIGKILL
        daemon.child.wait().unwrap();
        let acked = ingest.await.unwrap();
        assert!(
            !acked.is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );
        all_acked.extend(acked);
    }

    let mut daemon = Daemon::start(&config, port).await;
    let http = reqwest::Client::new();
    let status = http
        .get(format!("{}/v1/status", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let (_, status) = answer(status).await;
    let received = status["webhooks"]["received"].as_u64().unwrap();
    assert!(
        received >= all_acked.len() as u64,
        "{received} < {}",
        all_acked.len()
    );
    // Check a spread of acknowledged ids one by one through the API.
    let step = (all_acked.len() / 200).max(1);
    for id in all_acked
        .iter()
        .step_by(step)
        .chain(all_acked.iter().last())
    {
        let response = http
            .get(format!("{}/v1/webhooks/events/{id}", daemon.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "acknowledged event {id} is missing after kill -9"
        );
    }
    // SIGTERM: a clean stop with exit code 0.
    unsafe { libc::kill(daemon.child.id() as i32, libc::SIGTERM) };
    assert_eq!(daemon.child.wait().unwrap().code(), Some(0));

    // Every acknowledged event is in the store, exactly once.
    let store = crate::support::open_store(&dir.path().join("store")).await;
    let mut stored = BTreeSet::new();
    for event in store.inbox().recent(usize::MAX).unwrap() {
        let event: serde_json::Value = serde_json::from_str(&event.raw).unwrap();
        assert!(
            stored.insert(event["eventId"].as_i64().unwrap()),
            "stored twice: {event}"
        );
    }
    let missing: Vec<&i64> = all_acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// `kill -9` three times during a backfill (once a quarter, half and three quarters of the
/// contacts' pages are read): each restart resumes where the durable cursor is instead of starting over,
/// and the finished mirror holds every contact exactly as the simulator has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_repeatedly_resumes_without_starting_over_and_converges() {
    let contacts = 20_000u64;
    let sim_config = SimConfig {
        owners: 5,
        contacts: contacts as usize,
        companies: 10,
        deals: 0,
        tasks: 0,
        rate_limit: Some(sim::RateLimit {
            max: 100_000,
            interval_ms: 10_000,
        }),
        latency_ms: 3,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    };
    let portal_id = sim_config.portal_id;
    let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, port) = sim_config_file(dir.path(), &sim.base_url(), &["owners", "contacts"]);
    let http = reqwest::Client::new();
    let contacts_status = |base: String| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("{base}/v1/status"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            answer(response).await.1["contacts"].clone()
        }
    };
    let lists = |stats: &sim::Stats| {
        stats
            .calls
            .get("GET /crm/v3/objects/{type}")
            .copied()
            .unwrap_or(0)
    };

    // Killed by how far the listing got, not by what is stored: the store's pace differs
    // by backend (PostgreSQL stores more slowly, so more pages are fetched ahead). Every
    // run's log is kept: what interrupted a backfill besides the kills, and for failures.
    let base = format!("http://127.0.0.1:{port}");
    let mut logs = String::new();
    let pages = contacts / 100;
    for quarter in 1..=3 {
        let mut daemon = Process::serve(&config);
        daemon.wait_ready(&base).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while lists(&sim.stats()) < pages * quarter / 4 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "backfill made no progress after restart {quarter}: {}",
                problems(&daemon.log_text())
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stored = contacts_status(base.clone()).await["count"]
            .as_u64()
            .unwrap_or(0);
        daemon.signal(libc::SIGKILL);
        daemon.wait_exit().await;
        logs.push_str(&daemon.log_text());
        assert!(
            stored < contacts,
            "killed after the backfill at kill {quarter}"
        );
    }

    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = contacts_status(base.clone()).await;
        if !status["last_full_sync"].is_null() {
            assert_eq!(status["count"].as_u64(), Some(contacts), "{status}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "backfill did not finish after the restarts: {}",
            problems(&daemon.log_text())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every page was read once, plus per interruption at most the steps read but not stored
    // (10 pages each): the one being stored, the one fetched ahead, the one being read. The
    // kills interrupt it three times; a failed pass or a lost lease (PostgreSQL) would too.
    let total = lists(&sim.stats());
    logs.push_str(&daemon.log_text());
    let interruptions =
        3 + logs.matches("sync pass failed").count() + logs.matches("stopped leading").count();
    assert!(
        total <= pages + interruptions as u64 * 30,
        "{total} list calls for {pages} pages and {interruptions} interruptions: a restart \
         started over: {}",
        problems(&logs)
    );
    daemon.signal(libc::SIGTERM);
    let exit = daemon.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", problems(&daemon.log_text()));
    // What the sync logs names its portal (a deployment may mirror hundreds).
    let last_log = daemon.log_text();
    let completed = last_log
        .lines()
        .find(|line| line.contains("backfill complete"))
        .unwrap_or_else(|| panic!("{last_log}"));
    assert!(
        completed.contains(&format!("\"portal\":{portal_id}")),
        "{completed}"
    );

    // The mirror converged: every contact, property for property.
    let snapshot = sim.control().snapshot();
    sim.shutdown().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    let live = &snapshot.objects[&sim::ObjectType::Contacts];
    assert_eq!(live.len() as u64, contacts);
    for expected in live {
        let id: i64 = expected.id.parse().unwrap();
        let mirrored = store
            .mirror()
            .get(portal_id, hubspot_gateway::object::ObjectType::Contacts, id)
            .unwrap()
            .unwrap_or_else(|| panic!("contact {id} missing"));
        assert!(!mirrored.archived, "contact {id} archived");
        assert_eq!(mirrored.properties, expected.properties, "contact {id}");
    }
}

/// The warnings and errors of a daemon's log (JSON lines).
fn problems(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\"WARN\"") || line.contains("\"ERROR\""))
        .collect();
    lines.join("\n")
}
