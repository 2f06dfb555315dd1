//! The `hubspot-sim` binary: usage errors exit 2, `serve` prints its URL and serves (its
//! journal flags and `/_sim/journal` routes too), `fire --json` reports a run against a
//! verifying receiver.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::receiver::{self, Received, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_hubspot-sim");

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![
            "fire",
            "--target",
            "http://127.0.0.1:9/x",
            "--client-secret",
            "s",
            "--batch-size",
            "0",
        ],
        vec![
            "fire",
            "--target",
            "https://example.com/x",
            "--client-secret",
            "s",
        ],
        vec!["serve", "--rate-limit", "lots"],
        vec!["serve", "--journal-rate-limit", "0/1"],
        vec!["bogus"],
    ] {
        let status = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("runs");
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}

#[tokio::test]
async fn serve_prints_its_url_and_answers() {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--contacts", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    // Invariant: stdout was piped above.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let base = first.rsplit(' ').next().unwrap_or_default().to_string();
    let answer = reqwest::get(format!("{base}/_sim/config")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("hubspot-sim listening on http://127.0.0.1:"),
        "{first}"
    );
    let config: serde_json::Value = answer.expect("serves").json().await.expect("JSON");
    assert!(config["access_token"].as_str().unwrap().starts_with("pat-"));
}

#[tokio::test]
async fn serve_journal_flags_and_control_routes() {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--contacts", "50"])
        .args([
            "--journal-subscribe-all",
            "--journal-file-interval-ms",
            "20",
        ])
        .args(["--journal-rate-limit", "none"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    // Invariant: stdout was piped above.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let base = first.rsplit(' ').next().unwrap_or_default().to_string();
    let outcome = journal_over_http(&base).await;
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap();
}

/// Drives the journal of a `serve` process through `/_sim` and the API; `Err` names the step.
async fn journal_over_http(base: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let control = |path: &str, body: Value| {
        http.post(format!("{base}/_sim/journal/{path}"))
            .json(&body)
            .send()
    };
    let json = |response: reqwest::Response| async {
        response.json::<Value>().await.map_err(|e| e.to_string())
    };
    let listed = json(
        http.get(format!("{base}/_sim/journal/subscriptions"))
            .send()
            .await
            .map_err(|e| e.to_string())?,
    )
    .await?;
    if listed["results"].as_array().map(Vec::len) != Some(9) {
        return Err(format!("--journal-subscribe-all: {listed}"));
    }
    let created = http
        .post(format!("{base}/_sim/objects/contacts"))
        .json(&json!({"properties": {"firstname": "Bin"}}))
        .send()
        .await;
    if created.map(|response| response.status().as_u16()).ok() != Some(200) {
        return Err("creating a contact".into());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let offsets = loop {
        let body = json(
            http.get(format!("{base}/_sim/journal/offsets"))
                .send()
                .await
                .map_err(|e| e.to_string())?,
        )
        .await?;
        if body["offsets"]
            .as_array()
            .is_some_and(|offsets| !offsets.is_empty())
            || tokio::time::Instant::now() > deadline
        {
            break body["offsets"].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if offsets.as_array().map(Vec::len) != Some(1) {
        return Err(format!("one file within the interval, got {offsets}"));
    }
    let config = json(
        http.get(format!("{base}/_sim/config"))
            .send()
            .await
            .map_err(|e| e.to_string())?,
    )
    .await?;
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_id",
            config["client_id"].as_str().unwrap_or_default(),
        ),
        (
            "client_secret",
            config["client_secret"].as_str().unwrap_or_default(),
        ),
        ("scope", "developer.webhooks_journal.read"),
    ];
    let token = json(
        http.post(format!("{base}/oauth/v1/token"))
            .form(&form)
            .send()
            .await
            .map_err(|e| e.to_string())?,
    )
    .await?;
    let latest = format!("{base}/webhooks-journal/journal/2026-03/latest");
    let status = |response: Result<reqwest::Response, reqwest::Error>| {
        response.map(|r| r.status().as_u16()).unwrap_or(0)
    };
    let fault = control("faults", json!({"force_5xx": 1})).await;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let statuses = [
        status(fault),
        status(http.get(&latest).bearer_auth(&token).send().await),
        status(http.get(&latest).bearer_auth(&token).send().await),
        status(control("age", json!({"ms": 3 * 86_400_000u64})).await),
        status(http.get(&latest).bearer_auth(&token).send().await),
    ];
    if statuses != [204, 502, 200, 204, 204] {
        return Err(format!("faults, latest, latest, age, latest: {statuses:?}"));
    }
    Ok(())
}

#[tokio::test]
async fn fire_reports_json_and_exits_0() {
    let received = Arc::new(Received::default());
    let target = receiver::start(received.clone()).await;
    let args = [
        "fire",
        "--target",
        &target,
        "--client-secret",
        SECRET,
        "--events",
        "500",
        "--batch-size",
        "50",
        "--concurrency",
        "3",
        "--json",
    ];
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    // Blocking wait on a worker thread: the receiver runs on this test's runtime.
    let output = tokio::task::spawn_blocking(move || Command::new(BIN).args(&args).output())
        .await
        .expect("joins")
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(
        (
            report["events"].as_u64(),
            report["statuses"]["204"].as_u64()
        ),
        (Some(500), Some(10))
    );
    assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
    assert_eq!(received.events().len(), 500);
}
