//! `hubspot-gateway connect` and `status`, the real binary: without a daemon it answers the
//! callback itself on `server.listen`; with one it goes through its API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::{consent, follow, portal, store_lines, PORTAL};
use crate::support::process::{command, free_port, lines_of, Process};
use crate::support::{config_with, far_reconcile_window, Options};

/// Runs `connect`, consents as `email` with the printed link, and returns the command's
/// output and whether it succeeded.
async fn connect(config: &Path, email: &str) -> (bool, Vec<String>) {
    let mut child = command(config)
        .arg("connect")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = lines_of(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let link = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.recv().await {
            seen.push(line.clone());
            if let Some(url) = line
                .trim()
                .strip_prefix("http")
                .map(|rest| format!("http{rest}"))
            {
                return url;
            }
        }
        panic!("no link printed: {seen:?}");
    })
    .await
    .expect("connect printed a link");
    let (status, html) = follow(&consent(&link, email, PORTAL).await).await;
    assert_eq!(status, 200, "{html}");
    let finished = tokio::task::spawn_blocking(move || child.wait().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(30), finished)
        .await
        .expect("connect exits after the callback")
        .unwrap();
    // The rest of the output: the reader ends at the pipe's end, after the last line.
    let rest = async {
        while let Some(line) = lines.recv().await {
            seen.push(line);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), rest)
        .await
        .expect("the output ends when connect exits");
    (status.success(), seen)
}

fn status_text(config: &Path) -> String {
    let output = command(config)
        .arg("status")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_answers_the_callback_itself_or_goes_through_the_daemon() {
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let options = Options {
        hubspot: format!("api_base = \"{0}\"\napp_base = \"{0}\"", sim.base_url()),
        store: store_lines(Some("IT_SECRETS_KEY")),
        sync: Some(format!(
            "poll_interval_secs = 1\n{}",
            far_reconcile_window()
        )),
        connect_client_id: Some(sim.config().client_id.clone()),
        ..Options::default()
    };
    let listen = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.toml");
    let text = config_with(
        &listen,
        &format!("http://{listen}"),
        &dir.path().join("store"),
        &options,
    );
    std::fs::write(&config, text).unwrap();
    let users: Vec<_> = sim
        .control()
        .users()
        .into_iter()
        .filter(|u| u.portal_ids.contains(&PORTAL))
        .collect();

    let (ok, output) = connect(&config, &users[1].email).await;
    assert!(ok, "{output:#?}");
    assert!(
        output.iter().any(|l| l.contains(&format!(
            "Connected to HubSpot account {PORTAL} as {}",
            users[1].email
        ))),
        "{output:#?}"
    );
    let status = status_text(&config);
    assert!(status.contains("connection: connected (oauth)"), "{status}");

    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&format!("http://{listen}")).await;
    let (ok, output) = connect(&config, &users[2].email).await;
    assert!(ok, "{output:#?}");
    assert!(
        output.iter().any(|l| l.contains(&users[2].email)),
        "{output:#?}"
    );
    let status = status_text(&config);
    assert!(
        status.contains("daemon: running") && status.contains("connection: connected (oauth)"),
        "{status}"
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().await.success());
}
