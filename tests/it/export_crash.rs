//! The real binary killed (SIGKILL) at every step of a batch create, and at a random moment
//! of a 2,000-contact job: the resumed job's report (each row's action and id, the counts)
//! must equal what HubSpot (the simulator) holds. Exact steps use the writer's crash points
//! (`HUBSPOT_GATEWAY_EXPORT_CRASH`, see `export::writer::crash`): the process kills itself
//! there, as `kill -9` would, on the real code path.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hubspot_gateway::export::writer::crash;
use hubspot_gateway::sim::{self, ObjectType, SimConfig, SimHandle};
use serde_json::{json, Value};

use crate::support::process::{command, sim_config_file_on, Process};
use crate::support::{answer, EXPORT_TOKEN};

pub(crate) fn portal() -> SimConfig {
    SimConfig {
        owners: 5,
        contacts: 40,
        companies: 10,
        deals: 0,
        tasks: 0,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    }
}

/// The property a type's export rows are told apart by in these tests.
fn key_of(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Companies => "domain",
        _ => "email",
    }
}

/// Records in the simulator by lower-cased key.
pub(crate) fn by_key(sim: &SimHandle, kind: ObjectType) -> BTreeMap<String, BTreeSet<String>> {
    let mut by = BTreeMap::<String, BTreeSet<String>>::new();
    for record in &sim.control().snapshot().objects[&kind] {
        if let Some(value) = record.properties.get(key_of(kind)) {
            by.entry(value.to_lowercase())
                .or_default()
                .insert(record.id.clone());
        }
    }
    by
}

/// `new` contacts HubSpot has never seen, then a row for each existing email in
/// `existing` (each becomes `updated` or `skipped`, never `created`).
pub(crate) fn contacts(new: usize, existing: &[String]) -> Vec<Value> {
    let fresh = (0..new).map(|i| {
        json!({"ref": format!("n{i}"), "fields": {"email": format!("c{i}@crash.example"),
               "first_name": "Crash", "last_name": format!("N{i}")}})
    });
    let known = existing.iter().enumerate().map(|(i, email)| {
        let phone = if i % 2 == 0 { "+1 555 0199" } else { "" };
        json!({"ref": format!("e{i}"), "fields": {"email": email, "mobile_phone": phone}})
    });
    fresh.chain(known).collect()
}

/// The job's report equals HubSpot: every row has a result and none failed; a `created`
/// row names a record with its key that did not exist before the job, an `updated` or
/// `skipped` one a record that did; per key, the records HubSpot gained are exactly those
/// the job's rows report as created (nothing created twice or unreported); the counts add up.
pub(crate) fn assert_report_matches(
    kind: ObjectType,
    job: &Value,
    rows: &[Value],
    before: &BTreeMap<String, BTreeSet<String>>,
    sim: &SimHandle,
) {
    let after = by_key(sim, kind);
    let results = job["results"].as_array().unwrap();
    assert_eq!(results.len(), rows.len(), "{job}");
    let mut created = BTreeMap::<String, BTreeSet<String>>::new();
    let none = BTreeSet::new();
    for (row, result) in rows.iter().zip(results) {
        let key = row["fields"][key_of(kind)].as_str().unwrap().to_lowercase();
        let id = result["id"].as_str().unwrap_or_default().to_owned();
        let existed = before.get(&key).unwrap_or(&none);
        match result["action"].as_str().unwrap() {
            "created" => {
                assert!(
                    !existed.contains(&id),
                    "{key}: existed before, yet {result}"
                );
                let held = after.get(&key).is_some_and(|ids| ids.contains(&id));
                assert!(held, "{key}: HubSpot has no {id}: {result}");
                assert!(created.entry(key).or_default().insert(id), "{result} twice");
            }
            "updated" | "skipped" => {
                assert!(
                    existed.contains(&id),
                    "{key}: created by the job, yet {result}"
                )
            }
            _ => panic!("{key}: {result}"),
        }
    }
    for key in rows
        .iter()
        .map(|row| row["fields"][key_of(kind)].as_str().unwrap())
    {
        let key = key.to_lowercase();
        let gained: BTreeSet<String> = after[&key]
            .difference(before.get(&key).unwrap_or(&none))
            .cloned()
            .collect();
        assert_eq!(
            gained,
            created.get(&key).cloned().unwrap_or_default(),
            "{key}"
        );
    }
    for action in ["created", "updated", "skipped", "failed"] {
        let counted = results.iter().filter(|r| r["action"] == action).count();
        assert_eq!(job[action], counted, "{action}: {job}");
    }
}

/// A daemon for `config`, armed with `crash_at` (`STEP:N`) when given.
pub(crate) fn serve(config: &Path, crash_at: Option<&str>) -> Process {
    let mut command = command(config);
    command.arg("serve");
    if let Some(crash_at) = crash_at {
        command.env(crash::VARIABLE, crash_at);
    }
    Process::spawn(command, config)
}

pub(crate) async fn get(base: &str, path: &str) -> Option<Value> {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(EXPORT_TOKEN)
        .send()
        .await
        .ok()?;
    Some(answer(response).await.1)
}

/// Waits (with a deadline) until the job at `path` is `done` (`Some`) or `daemon` exits.
pub(crate) async fn until_done(daemon: &mut Process, base: &str, path: &str) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(job) = get(base, path).await.filter(|job| job["state"] == "done") {
            return Some(job);
        }
        if daemon.child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not done: {:?}\n{}",
            get(base, path).await,
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A gateway's config (companies may be created beside a duplicate) and its base URL.
pub(crate) fn gateway_config(sim: &SimHandle, dir: &Path) -> (PathBuf, String) {
    gateway_config_on(sim, dir, None)
}

/// Like [`gateway_config`], on PostgreSQL at `database_url` when given.
pub(crate) fn gateway_config_on(
    sim: &SimHandle,
    dir: &Path,
    database_url: Option<&str>,
) -> (PathBuf, String) {
    let objects = ["owners", "contacts", "companies"];
    let (config, port) = sim_config_file_on(dir, &sim.base_url(), &objects, database_url);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[export.companies]\nallow_duplicates = true\n");
    std::fs::write(&config, text).unwrap();
    (config, format!("http://127.0.0.1:{port}"))
}

/// Waits until `daemon` has mirrored the portal, then starts an export of `rows`; returns
/// the job's path.
pub(crate) async fn start_export(
    daemon: &mut Process,
    base: &str,
    kind: ObjectType,
    rows: &[Value],
) -> String {
    daemon.wait_ready(base).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while get(base, "/v1/status")
        .await
        .is_none_or(|status| status[kind.name()]["last_full_sync"].is_null())
    {
        assert!(tokio::time::Instant::now() < deadline, "no backfill");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    post_export(base, kind, rows).await
}

/// Starts an export of `rows` at the gateway at `base`; returns the job's path.
pub(crate) async fn post_export(base: &str, kind: ObjectType, rows: &[Value]) -> String {
    let request = json!({"type": kind.name(), "user_email": "seller@internal.example",
                         "records": rows});
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/exports"))
        .bearer_auth(EXPORT_TOKEN)
        .json(&request)
        .send()
        .await
        .unwrap();
    let (status, started) = answer(response).await;
    assert_eq!(status, 202, "{started}");
    format!("/v1/exports/{}", started["export_id"].as_str().unwrap())
}

/// Exports `rows` with a daemon that kills itself at `crashes[0]`, then one armed with
/// `crashes[1]`, and so on; returns the job a last, unarmed daemon finishes.
async fn export_through_crashes(
    sim: &SimHandle,
    kind: ObjectType,
    rows: &[Value],
    crashes: &[&str],
) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (config, base) = gateway_config(sim, dir.path());
    let mut daemon = serve(&config, crashes.first().copied());
    let path = start_export(&mut daemon, &base, kind, rows).await;
    for next in crashes.iter().skip(1).copied().map(Some).chain([None]) {
        let done = until_done(&mut daemon, &base, &path).await;
        assert!(
            done.is_none(),
            "the job ended before its crash point: {done:?}"
        );
        let status = daemon.wait_exit().await;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{}",
            daemon.log_text()
        );
        daemon = serve(&config, next);
        daemon.wait_ready(&base).await;
    }
    let job = until_done(&mut daemon, &base, &path).await;
    let job =
        job.unwrap_or_else(|| panic!("the resumed job never finished: {}", daemon.log_text()));
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit().await;
    job
}

/// The crash points of the batch-create runs: every step of the second batch, and once more
/// while the resumed job reconciles.
pub(crate) fn batch_crashes() -> Vec<Vec<String>> {
    crash::Step::ALL
        .iter()
        .filter(|step| **step != crash::Step::Reconciled)
        .map(|step| vec![format!("{}:2", step.name())])
        .chain([vec!["after_send:2".into(), "reconciled:1".into()]])
        .collect()
}

/// Exports 250 new contacts and 6 existing ones (3 of them changed) through `crashes`, with
/// `export` (a daemon per crash, or replicas taking over); the report must equal HubSpot.
pub(crate) async fn contacts_through<F, Fut>(crashes: &[String], export: F)
where
    F: FnOnce(SimHandle, ObjectType, Vec<Value>, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = (SimHandle, Value)>,
{
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let kind = ObjectType::Contacts;
    let before = by_key(&sim, kind);
    let existing: Vec<String> = before.keys().take(6).cloned().collect();
    let rows = contacts(250, &existing);
    let (sim, job) = export(sim, kind, rows.clone(), crashes.to_vec()).await;
    assert_eq!(job["created"], 250, "{crashes:?}: {job}");
    assert_eq!(job["updated"], 3, "{crashes:?}: {job}");
    assert_report_matches(kind, &job, &rows, &before, &sim);
    sim.shutdown().await;
}

/// Contacts (found again by email): the binary is killed at every step of the second batch
/// create of a 256-row job, and once more while the resumed job reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_killed_at_every_step_of_a_batch_report_what_hubspot_holds() {
    for crashes in batch_crashes() {
        contacts_through(&crashes, |sim, kind, rows, crashes| async move {
            let crashes: Vec<&str> = crashes.iter().map(String::as_str).collect();
            let job = export_through_crashes(&sim, kind, &rows, &crashes).await;
            (sim, job)
        })
        .await;
    }
}

/// Companies (found again only by search, which lags): one row is created on purpose beside
/// an existing company with its domain. Killed after HubSpot answered or before the results
/// are saved, the search finds both: the row gets its own, not the older one (before: the
/// older one, reported `created`). Killed once the mirror holds the batch, with search
/// lagging longer than the gateway waits, the mirror's records settle the rows (before:
/// `skipped`/`unchanged`, and the twin row created a third company). A crash before the
/// mirror write with search lagging that long cannot be settled by anyone: such a batch is
/// created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_killed_after_sending_or_mirroring_report_what_hubspot_holds() {
    for (crash_at, search_lag_ms) in [
        ("after_send:2", 0),
        ("after_mirror:2", 120_000),
        ("before_save:2", 0),
    ] {
        let config = SimConfig {
            search_lag_ms,
            ..portal()
        };
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let kind = ObjectType::Companies;
        let twin = [("name", "Twin"), ("domain", "twin.example")];
        sim.control().create(kind, twin).unwrap();
        let before = by_key(&sim, kind);
        // 30 rows in the second batch: search answers 5 requests a second, one per row.
        let mut rows: Vec<Value> = (0..130)
            .map(|i| {
                json!({"ref": format!("n{i}"), "fields": {"name": format!("Crash {i}"),
                             "domain": format!("co{i}.crash.example")}})
            })
            .collect();
        rows[110] = json!({"ref": "twin", "on_duplicate": "create",
                           "fields": {"name": "Twin Two", "domain": "twin.example"}});
        let job = export_through_crashes(&sim, kind, &rows, &[crash_at]).await;
        assert_eq!(job["created"], 130, "{crash_at}: {job}");
        assert_report_matches(kind, &job, &rows, &before, &sim);
        sim.shutdown().await;
    }
}

/// The outside finding: `kill -9` at a random moment of a 2,000-contact job (once a random
/// number of its contacts are in HubSpot), then a restart; the report must equal HubSpot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_at_a_random_moment_reports_what_hubspot_holds() {
    let seed = hubspot_gateway::time::now_ms() as u64;
    let kill_after = 1 + (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as usize % 1_999;
    eprintln!("killing once {kill_after} contacts are in HubSpot (seed {seed})");
    let config = SimConfig {
        latency_ms: 20,
        ..portal()
    };
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let kind = ObjectType::Contacts;
    let before = by_key(&sim, kind);
    let rows = contacts(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (config, base) = gateway_config(&sim, dir.path());
    let mut daemon = serve(&config, None);
    let path = start_export(&mut daemon, &base, kind, &rows).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while by_key(&sim, kind).len() - before.len() < kill_after {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit().await;
    let mut daemon = serve(&config, None);
    daemon.wait_ready(&base).await;
    let job = until_done(&mut daemon, &base, &path).await;
    let job =
        job.unwrap_or_else(|| panic!("the resumed job never finished: {}", daemon.log_text()));
    assert_eq!(job["created"], 2_000, "{job}");
    assert_report_matches(kind, &job, &rows, &before, &sim);
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit().await;
    sim.shutdown().await;
}
