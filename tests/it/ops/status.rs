//! `hubspot-gateway status`: from the running daemon, then read from the store once stopped.

use super::*;

fn status(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = command(config)
        .arg("status")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_from_the_running_daemon_and_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let (code, stdout, _) = status(&config, &["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("--json"), "{stdout}");
    let (code, _, stderr) = status(&config, &["--no-such-flag"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = status(&config, &[]);
    // On sled no daemon and no store is a runtime error; a PostgreSQL store is the database,
    // which `status` then reads.
    let on_postgres = crate::support::backend_database(&dir.path().join("store")).is_some();
    assert_eq!(
        code,
        Some(if on_postgres { 0 } else { 1 }),
        "no daemon and no store: {stderr}"
    );

    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;
    let gateway_post = reqwest::Client::new();
    let body = batch(40, 4, 0);
    let mut request = gateway_post
        .post(format!("{base}/webhooks/hubspot"))
        .body(body.clone());
    for (name, value) in
        Signing::FRESH.headers(&format!("{PUBLIC_URL}/webhooks/hubspot"), body.as_bytes())
    {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 204);

    let (code, stdout, stderr) = status(&config, &["--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut running: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(running["webhooks"]["received"], 4, "{running}");
    assert_eq!(running["webhooks"]["inbox_depth"], 4, "{running}");
    let (code, table, _) = status(&config, &[]);
    assert_eq!(code, Some(0));
    assert!(table.contains("daemon: running at"), "{table}");
    assert!(table.contains("4 received"), "{table}");

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().await.code(), Some(0));
    let (code, stdout, stderr) = status(&config, &["--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let stopped: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // On PostgreSQL the daemon also says which replica answered; the store has none.
    if let Some(running) = running.as_object_mut() {
        running.remove("replica");
    }
    assert_eq!(stopped, running, "the store says what the daemon said");
    let (code, table, _) = status(&config, &[]);
    assert_eq!(code, Some(0));
    assert!(table.contains("daemon: not running"), "{table}");
    assert!(table.contains("4 received, 0 duplicates"), "{table}");
    assert!(!table.contains(READ_TOKEN) && !stdout.contains(ADMIN_TOKEN));
}

/// With `internal_listen`, the query API is there, and so is where `status` asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_asks_the_internal_listener_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let (port, internal) = (free_port(), free_port());
    let config = write_config(
        dir.path(),
        port,
        &format!("internal_listen = \"127.0.0.1:{internal}\""),
    );
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&format!("http://127.0.0.1:{port}")).await;
    let (code, table, stderr) = status(&config, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        table.contains(&format!("daemon: running at http://127.0.0.1:{internal}")),
        "{table}"
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().await.code(), Some(0));
}
