//! The `export` CLI on a file larger than one job: cut into jobs of at most `max_records`,
//! through the running daemon and directly on a store, each record written once and one
//! summary counting them all; and what a person sees at a terminal (progress bar, tables).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use hubspot_gateway::sim::{self, ObjectType, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::json;

use crate::mirror::{small_portal, Harness};
use crate::support::process::{command, sim_config_file};
use crate::support::{config_with, pty, Options, ADMIN_TOKEN, EXPORT_TOKEN};

const RECORDS: usize = 100;
const USER: &str = "seller@internal.example";

/// The count of `action` in the summary table printed on stdout.
pub fn summary_count(stdout: &str, action: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        match cells[..] {
            ["", name, count, ""] if name == action => count.parse().ok(),
            _ => None,
        }
    })
}

/// A CSV file of `RECORDS` new contacts at `domain`.
fn write_csv(path: &Path, domain: &str) {
    let mut text = String::from("ref,email,first_name,last_name,company\n");
    for index in 0..RECORDS {
        text.push_str(&format!(
            "r{index},p{index}@{domain},Pat,Split{index},\"Split, Inc\"\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// The emails at `domain` HubSpot holds, each as often as a contact has it.
fn emails_at(sim: &SimHandle, domain: &str) -> Vec<String> {
    let mut emails: Vec<String> = sim.control().snapshot().objects[&ObjectType::Contacts]
        .iter()
        .filter_map(|record| record.properties.get("email"))
        .filter(|email| email.ends_with(&format!("@{domain}")))
        .cloned()
        .collect();
    emails.sort();
    emails
}

fn assert_each_once(sim: &SimHandle, domain: &str) {
    let emails = emails_at(sim, domain);
    let mut distinct = emails.clone();
    distinct.dedup();
    assert_eq!(
        (emails.len(), distinct.len()),
        (RECORDS, RECORDS),
        "each record written once"
    );
}

fn export(config: &Path, file: &Path, dry_run: bool) -> Command {
    let mut export = command(config);
    export.args(["export", "--type", "contacts", "--user", USER]);
    if dry_run {
        export.arg("--dry-run");
    }
    export.arg(file);
    export
}

async fn output(mut command: Command) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_one_job_goes_through_the_daemon_as_several_jobs() {
    let h = Harness::start(small_portal()).await;
    // The daemon takes at most 30 records a job.
    let (status, saved) = h
        .gateway
        .send(
            Method::PUT,
            "/v1/export/settings",
            ADMIN_TOKEN,
            &json!({"contacts": {"max_records": 30, "associate_company": true}}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let dir = tempfile::tempdir().unwrap();
    let listen = h.gateway.addr.to_string();
    let unused = dir.path().join("unused");
    let same_limit = Options {
        store: "[export.contacts]\nmax_records = 30".into(),
        ..Options::default()
    };
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        config_with(&listen, "https://h.example", &unused, &same_limit),
    )
    .unwrap();
    // This one believes in the default 100,000: the daemon refuses its first jobs.
    let stale = dir.path().join("stale.toml");
    std::fs::write(
        &stale,
        config_with(&listen, "https://h.example", &unused, &Options::default()),
    )
    .unwrap();
    let csv = dir.path().join("people.csv");
    write_csv(&csv, "daemon-split.example");

    let dry = output(export(&stale, &csv, true)).await;
    let (stdout, stderr) = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        summary_count(&stdout, "created"),
        Some(RECORDS as u64),
        "{stdout}"
    );
    assert_eq!(
        summary_count(&stdout, "total"),
        Some(RECORDS as u64),
        "{stdout}"
    );
    assert!(
        stderr.contains("the daemon refused a job of 100 records"),
        "{stderr}"
    );
    assert!(
        emails_at(&h.sim, "daemon-split.example").is_empty(),
        "a dry run writes nothing"
    );

    let real = output(export(&config, &csv, false)).await;
    let (stdout, stderr) = text(&real);
    assert_eq!(real.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        summary_count(&stdout, "created"),
        Some(RECORDS as u64),
        "{stdout}"
    );
    assert_eq!(summary_count(&stdout, "failed"), Some(0), "{stdout}");
    assert!(stdout.contains("in 4 jobs"), "{stdout}");
    assert!(
        !stderr.contains("refused") && !stderr.contains("records ("),
        "no bar off a terminal: {stderr}"
    );
    assert_each_once(&h.sim, "daemon-split.example");
    let (_, jobs) = h
        .gateway
        .get("/v1/exports?limit=4", Some(EXPORT_TOKEN))
        .await;
    let totals: Vec<u64> = jobs["exports"]
        .as_array()
        .unwrap_or_else(|| panic!("{jobs}"))
        .iter()
        .map(|job| job["total"].as_u64().unwrap())
        .collect();
    assert_eq!(totals, [10, 30, 30, 30], "newest first: {jobs}");

    // `status` at a terminal: the daemon's table of types.
    let mut status = command(&config);
    status.arg("status");
    let (exit, shown) = tokio::task::spawn_blocking(move || pty::run(status))
        .await
        .unwrap();
    assert!(exit.success(), "{shown}");
    let shown = shown.replace("\r\n", "\n");
    assert!(
        shown.contains(&format!("daemon: running at http://{listen}")),
        "{shown}"
    );
    let contacts = shown
        .lines()
        .find(|line| line.starts_with("| contacts "))
        .unwrap_or_else(|| panic!("{shown}"));
    let count: u64 = contacts.split('|').nth(2).unwrap().trim().parse().unwrap();
    assert!(count >= RECORDS as u64, "{shown}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_daemon_the_jobs_run_on_the_store_with_one_progress_bar_at_a_terminal() {
    let sim_config = SimConfig {
        owners: 5,
        contacts: 20,
        companies: 5,
        deals: 0,
        tasks: 0,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    };
    let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objects = ["owners", "contacts", "companies"];
    let (config, _port) = sim_config_file(dir.path(), &sim.base_url(), &objects);
    let mut text_config = std::fs::read_to_string(&config).unwrap();
    text_config.push_str("\n[export.contacts]\nmax_records = 30\n");
    std::fs::write(&config, text_config).unwrap();
    let csv = dir.path().join("people.csv");
    write_csv(&csv, "direct-split.example");

    let (status, shown) = tokio::task::spawn_blocking({
        let (config, csv) = (config.clone(), csv.clone());
        move || pty::run(export(&config, &csv, false))
    })
    .await
    .unwrap();
    assert!(status.success(), "{shown}");
    // The bar is drawn over itself (escape sequences), ends full, and the table follows.
    assert!(shown.contains("\u{1b}["), "{shown:?}");
    assert!(
        shown.contains(&format!("[{}] {RECORDS}/{RECORDS} records", "#".repeat(30))),
        "{shown}"
    );
    assert!(shown.contains("in job 4"), "{shown}");
    let stdout = shown.replace("\r\n", "\n");
    assert_eq!(
        summary_count(&stdout, "created"),
        Some(RECORDS as u64),
        "{shown}"
    );
    assert!(stdout.contains("in 4 jobs"), "{shown}");
    assert_each_once(&sim, "direct-split.example");

    // The same file again, as a dry run off a terminal: every record is found as written.
    let dry = output(export(&config, &csv, true)).await;
    let (stdout, stderr) = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        summary_count(&stdout, "total"),
        Some(RECORDS as u64),
        "{stdout}"
    );
    assert_eq!(summary_count(&stdout, "created"), Some(0), "{stdout}");
    assert!(
        !stderr.contains("records ("),
        "no bar off a terminal: {stderr}"
    );
    assert_each_once(&sim, "direct-split.example");

    // The direct path checks what the API checks: export disabled, nothing is sent.
    let mut text_config = std::fs::read_to_string(&config).unwrap();
    text_config.push_str("\n[export]\nenabled = false\n");
    std::fs::write(&config, text_config).unwrap();
    write_csv(&csv, "disabled.example");
    let refused = output(export(&config, &csv, false)).await;
    let (stdout, stderr) = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("export is disabled in the settings"),
        "{stdout}\n{stderr}"
    );
    let snapshot = sim.control().snapshot();
    assert!(
        !snapshot.objects[&ObjectType::Contacts].iter().any(|r| r
            .properties
            .get("email")
            .is_some_and(|e| e.ends_with("disabled.example"))),
        "nothing exported"
    );

    sim.shutdown().await;
}
