//! The `hubspot-sim` binary: usage errors exit 2, `serve` prints its URL and serves,
//! `fire --json` reports a run against a verifying receiver.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

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
