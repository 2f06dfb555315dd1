//! `hubspot-gateway demo --no-webhooks`: no webhook is ever sent, yet the demo's changes
//! reach the mirror through the Webhooks Journal and its printed lookups find them.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::process::{free_port, lines_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_without_webhooks_keeps_the_mirror_current_through_the_journal() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubspot-gateway"))
        .args([
            "demo",
            "--no-webhooks",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        // No input: the demo walks the consent pages itself.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut receiver = lines_of(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(240), async {
        while let Some(line) = receiver.recv().await {
            let done = line.starts_with("Press Ctrl-C");
            lines.push(line);
            if done {
                return;
            }
        }
    });
    ready.await.expect("the demo became ready");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("the Webhooks Journal delivered (no webhooks)")),
        "{lines:#?}"
    );
    // The contact the demo created is found: the journal brought its creation.
    let lookup = lines
        .iter()
        .find(|line| line.contains("/v1/contacts/lookup?email="))
        .expect("a contact lookup line");
    let quoted: Vec<&str> = lookup.split('\'').skip(1).step_by(2).collect();
    let token = quoted[0].strip_prefix("Authorization: Bearer ").unwrap();
    let body: serde_json::Value = reqwest::Client::new()
        .get(quoted[1])
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["in_crm"], true, "{body}");
    let status: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["journal"]["enabled"], true, "{status}");
    assert!(
        status["journal"]["events"].as_u64().unwrap() > 0,
        "{status}"
    );
    // Every event in the inbox came through the journal: no webhook was received.
    assert_eq!(
        status["webhooks"]["received"], status["journal"]["events"],
        "{status}"
    );
    assert!(status["webhooks"]["last_received_at"].is_null(), "{status}");
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit}");
}
