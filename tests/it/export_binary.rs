//! The real binary: an export job survives `kill -9` (after a restart it resumes, reconciles
//! the creates whose outcome it did not see, and HubSpot holds each record once), and the
//! `export` CLI on CSV and JSON Lines files.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hubspot_gateway::sim::{self, ObjectType, SimConfig};
use serde_json::{json, Value};

use crate::export_split::summary_count;
use crate::support::process::sim_config_file;
use crate::support::{
    answer, config_with, far_reconcile_window, Options, ADMIN_TOKEN, CLIENT_SECRET, EXPORT_TOKEN,
};

const BINARY: &str = env!("CARGO_BIN_EXE_hubspot-gateway");
const RECORDS: usize = 5_000;

fn start(config: &Path) -> Child {
    crate::support::process::command(config)
        .arg("serve")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn get(http: &reqwest::Client, url: String) -> Option<Value> {
    let response = http.get(url).bearer_auth(ADMIN_TOKEN).send().await.ok()?;
    Some(answer(response).await.1)
}

/// Waits (with a deadline) until `check` holds for the JSON at `url`.
async fn wait_for(http: &reqwest::Client, url: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if get(http, url.to_owned()).await.is_some_and(|v| check(&v)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn exported(sim: &sim::SimHandle) -> Vec<String> {
    let snapshot = sim.control().snapshot();
    snapshot.objects[&ObjectType::Contacts]
        .iter()
        .filter_map(|r| {
            r.properties
                .get("email")
                .filter(|e| e.ends_with("@restart.example"))
                .cloned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_way_resumes_and_creates_each_record_once() {
    let sim_config = SimConfig {
        owners: 5,
        contacts: 50,
        companies: 10,
        deals: 0,
        tasks: 0,
        // Slow enough to kill the daemon in the middle of the job.
        rate_limit: Some(sim::RateLimit {
            max: 30,
            interval_ms: 1_000,
        }),
        latency_ms: 40,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    };
    let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objects = ["owners", "contacts", "companies"];
    let (config, port) = sim_config_file(dir.path(), &sim.base_url(), &objects);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut daemon = start(&config);
    wait_for(&http, &format!("{base}/v1/status"), "backfill", |s| {
        !s["contacts"]["last_full_sync"].is_null()
    })
    .await;
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| json!({"ref": format!("r{i}"), "fields": {"email": format!("k{i}@restart.example"), "first_name": "K", "last_name": format!("N{i}")}}))
        .collect();
    let response = http
        .post(format!("{base}/v1/exports"))
        .bearer_auth(EXPORT_TOKEN)
        .json(&json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}))
        .send()
        .await
        .unwrap();
    let (status, started) = answer(response).await;
    assert_eq!(status, 202, "{started}");
    let id = started["export_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while exported(&sim).len() < RECORDS / 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job made no progress"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill().unwrap(); // SIGKILL, possibly with a batch create in flight
    daemon.wait().unwrap();
    let at_kill = exported(&sim).len();
    assert!(
        at_kill < RECORDS,
        "killed too late: {at_kill} already created"
    );

    let mut daemon = start(&config);
    let job_url = format!("{base}/v1/exports/{id}");
    wait_for(&http, &job_url, "the resumed job", |job| {
        job["state"] == "done"
    })
    .await;
    let job = get(&http, job_url).await.unwrap();
    assert_eq!(
        job["failed"],
        0,
        "{}",
        job["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == "failed")
            .cloned()
            .unwrap_or_default()
    );
    assert_eq!(
        job["created"].as_u64().unwrap() as usize,
        RECORDS,
        "every record created (by this job) once"
    );
    let mut emails = exported(&sim);
    assert_eq!(emails.len(), RECORDS, "records in HubSpot");
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), RECORDS, "no record twice");
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
    sim.shutdown().await;
}

/// Runs the real binary's `export` command (its config points at an in-process gateway).
async fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(BINARY);
    command
        .arg("--config")
        .arg(config)
        .arg("export")
        .args(args)
        .env("IT_CLIENT_SECRET", CLIENT_SECRET)
        .env("IT_ACCESS_TOKEN", "pat-na1-it")
        .env("IT_READ_TOKEN", "it-read-token")
        .env("IT_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("IT_EXPORT_TOKEN", EXPORT_TOKEN)
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exports_a_csv_file_through_the_running_daemon() {
    let h = crate::mirror::Harness::start(crate::mirror::small_portal()).await;
    let existing = h.sim.control().snapshot().objects[&ObjectType::Contacts]
        .iter()
        .find_map(|r| r.properties.get("email").cloned())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let text = config_with(
        &h.gateway.addr.to_string(),
        "https://h.example",
        &dir.path().join("unused"),
        &Options::default(),
    );
    std::fs::write(&config, text).unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        format!("email,first_name,last_name,company,on_duplicate\n{existing},Old,Timer,\"Acme, Inc\",skip\ncli1@cli.example,Cee,One,\"Acme, Inc\",\ncli2@cli.example,Cee,Two,Acme,\n"),
    )
    .unwrap();
    let csv_path = csv.to_str().unwrap();
    let dry = cli(
        &config,
        &[
            "--type",
            "contacts",
            "--user",
            "seller@internal.example",
            "--dry-run",
            csv_path,
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(
        (
            summary_count(&stdout, "created"),
            summary_count(&stdout, "skipped")
        ),
        (Some(2), Some(1)),
        "{stdout}"
    );
    assert!(
        !count_emails(&h).contains(&"cli1@cli.example".to_owned()),
        "a dry run writes nothing"
    );

    let real = cli(
        &config,
        &[
            "--type",
            "contacts",
            "--user",
            "seller@internal.example",
            csv_path,
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert_eq!(
        real.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert_eq!(summary_count(&stdout, "created"), Some(2), "{stdout}");
    let emails = count_emails(&h);
    for email in ["cli1@cli.example", "cli2@cli.example"] {
        assert_eq!(emails.iter().filter(|e| *e == email).count(), 1, "{email}");
    }
    // A failing record makes the exit code 1 and is listed with its reason.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"email\": \"not an email\", \"first_name\": \"Bad\"}\n",
    )
    .unwrap();
    let failed = cli(
        &config,
        &[
            "--type",
            "contacts",
            "--user",
            "seller@internal.example",
            bad.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("invalid_value [email]"), "{stdout}");
    h.stop().await;
}

fn count_emails(h: &crate::mirror::Harness) -> Vec<String> {
    h.sim.control().snapshot().objects[&ObjectType::Contacts]
        .iter()
        .filter_map(|r| r.properties.get("email").cloned())
        .collect()
}

/// A crash right after a batch create was sent, staged on the store: HubSpot created one of
/// the two companies (by domain, so only search finds it); the other never arrived. On start
/// the job reconciles: the first is `created` with HubSpot's id, the second is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_of_unknown_outcome_are_reconciled_by_search_before_being_resent() {
    use hubspot_gateway::export::job::{self, Header, Row, State};
    use hubspot_gateway::object::ObjectType as Kind;

    let h = crate::mirror::Harness::start(crate::mirror::small_portal()).await;
    let crate::mirror::Harness { sim, gateway } = h;
    sim.control().set_webhook_target(None);
    let dir = gateway.stop().await;
    let sent_ms = hubspot_gateway::time::now_ms() - 20_000;
    let landed = sim
        .control()
        .create(
            ObjectType::Companies,
            [("name", "Landed"), ("domain", "landed.example")],
        )
        .unwrap();
    {
        let store = crate::support::open_store(&dir.path().join("store")).await;
        let portal: Value =
            serde_json::from_slice(&store.meta("portal").unwrap().unwrap()).unwrap();
        let hub = portal["hub_id"].as_i64().unwrap();
        let row = |name: &str, domain: &str| Row {
            reference: name.into(),
            fields: [("name", name), ("domain", domain)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            on_duplicate: None,
            intent_at_ms: Some(sent_ms),
            known_at_intent: Vec::new(),
            outcome: None,
        };
        let header = Header {
            kind: Kind::Companies,
            user_email: "seller@internal.example".into(),
            state: State::Running,
            total: 2,
            created_at_ms: sent_ms,
            finished_at_ms: None,
            error: None,
            stalled: None,
        };
        job::enqueue(
            &store,
            hub,
            &header,
            &[row("Landed", "landed.example"), row("Lost", "lost.example")],
        )
        .unwrap();
    }
    let options = Options {
        hubspot: format!("api_base = \"{}\"\nmax_retry_secs = 10", sim.base_url()),
        sync: Some(format!(
            "poll_interval_secs = 1\n{}",
            far_reconcile_window()
        )),
        ..Options::default()
    };
    let gateway =
        crate::support::Gateway::start_in(dir, "127.0.0.1:0", "http://unused.example", &options)
            .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let job = loop {
        let (_, job) = gateway.get("/v1/exports/1", Some(EXPORT_TOKEN)).await;
        if job["state"] == "done" {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not resumed: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let results = job["results"].as_array().unwrap();
    assert_eq!(
        (results[0]["action"].as_str(), results[0]["id"].as_str()),
        (Some("created"), Some(landed.as_str())),
        "{job}"
    );
    assert_eq!(results[1]["action"], "created", "{job}");
    let snapshot = sim.control().snapshot();
    for domain in ["landed.example", "lost.example"] {
        let count = snapshot.objects[&ObjectType::Companies]
            .iter()
            .filter(|r| r.properties.get("domain").map(String::as_str) == Some(domain))
            .count();
        assert_eq!(count, 1, "{domain}");
    }
    gateway.stop().await;
    sim.shutdown().await;
}
