//! SIGHUP: a valid new config swaps the API tokens live and names what needs a restart; an
//! invalid one is refused with every problem logged, and the old config keeps running.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let original = std::fs::read_to_string(&config).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let status_url = format!("{base}/v1/status");
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;
    assert_eq!(get(&status_url, Some(READ_TOKEN)).await, 200);
    assert_eq!(get(&status_url, Some("it-read-token-2")).await, 401);
    let acknowledged = "webhook batch acknowledged";
    post_webhook(&base, 1).await;
    assert!(!daemon.log_text().contains(acknowledged), "debug is off");

    // A new read token, the debug level, and a key that cannot change live.
    let changed = original
        .replace("env:IT_READ_TOKEN\"", "env:IT_READ_TOKEN_2\"")
        .replace(
            "shutdown_grace_secs = 5",
            "shutdown_grace_secs = 5\nmax_body_bytes = 4096\nlog_level = \"hubspot_gateway=debug,info\"",
        );
    assert_ne!(changed, original);
    std::fs::write(&config, &changed).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_log("configuration reloaded", 1).await;
    assert_eq!(get(&status_url, Some("it-read-token-2")).await, 200);
    assert_eq!(get(&status_url, Some(READ_TOKEN)).await, 401);
    assert_eq!(get(&status_url, Some(ADMIN_TOKEN)).await, 200);
    post_webhook(&base, 2).await;
    daemon.wait_log(acknowledged, 1).await;
    let log = daemon.log_text();
    assert!(
        log.contains("server.max_body_bytes") && log.contains("takes effect after a restart"),
        "{log}"
    );

    // An invalid config (two problems) is refused as a whole: the tokens stay as they are.
    let invalid = original
        .replace("listen = \"127.0.0.1", "listen = \"nowhere")
        .replace(
            "shutdown_grace_secs = 5",
            "shutdown_grace_secs = 5\nmax_in_flight = 0",
        );
    std::fs::write(&config, invalid).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_log("reload refused", 1).await;
    let log = daemon.log_text();
    assert!(
        log.contains("server.listen") && log.contains("server.max_in_flight"),
        "every problem is logged: {log}"
    );
    assert_eq!(get(&status_url, Some("it-read-token-2")).await, 200);
    assert_eq!(get(&status_url, Some(READ_TOKEN)).await, 401);
    assert!(
        !log.contains(READ_TOKEN) && !log.contains("it-read-token-2"),
        "tokens never logged"
    );

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().await.code(), Some(0));
}

async fn post_webhook(base: &str, event_id: i64) {
    let body = batch(event_id, 1, 0);
    let mut request = reqwest::Client::new()
        .post(format!("{base}/webhooks/hubspot"))
        .body(body.clone());
    let signed_uri = format!("{PUBLIC_URL}/webhooks/hubspot");
    for (name, value) in Signing::FRESH.headers(&signed_uri, body.as_bytes()) {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 204);
}
