//! Operations: readiness and drain, reload on SIGHUP, TLS, `/metrics`, socket activation, the
//! systemd units, and the `status` command, mostly against the real binary.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::process::{command, free_port, Process};
use crate::support::signing::Signing;
use crate::support::{answer, batch, config_text, Gateway, ADMIN_TOKEN, READ_TOKEN};

mod activation;
mod metrics;
mod notify;
mod reload;
mod status;
mod tls;
mod units;

const PUBLIC_URL: &str = "https://hooks.example.com";

/// A config file for a gateway on `port` with its store in `dir`.
fn write_config(dir: &Path, port: u16, server_extra: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = config_text(
        &format!("127.0.0.1:{port}"),
        PUBLIC_URL,
        &dir.join("store"),
        server_extra,
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn get(url: &str, token: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_answers_503_on_readyz_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;

    // A webhook request in flight when SIGTERM arrives: with `Expect: 100-continue` the
    // server says "100 Continue" once its handler reads the body; the body follows later.
    let body = batch(7_000, 3, 0);
    let mut head = format!(
        "POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n",
        body.len()
    );
    let signed_uri = format!("{PUBLIC_URL}/webhooks/hubspot");
    for (name, value) in Signing::FRESH.headers(&signed_uri, body.as_bytes()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let continued = read_head(&mut stream).await;
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");

    daemon.signal(libc::SIGTERM);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = reqwest::Client::new()
            .get(format!("{base}/readyz"))
            .send()
            .await;
        if let Ok(response) = response {
            if response.status() == 503 {
                let (_, body) = answer(response).await;
                assert_eq!(body["error"]["code"], "not_ready", "{body}");
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never answered 503 while draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // New work is refused while draining; health still answers.
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/status"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(get(&format!("{base}/healthz"), None).await, 200);
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    // The in-flight request completes and is acknowledged.
    stream.write_all(body.as_bytes()).await.unwrap();
    let acknowledged = read_head(&mut stream).await;
    assert!(acknowledged.starts_with("HTTP/1.1 204"), "{acknowledged}");

    let status = daemon.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log_text());
    assert!(daemon.log_text().contains("stopped cleanly"));
    let store = crate::support::open_store(&dir.path().join("store")).await;
    assert_eq!(store.inbox().counters().unwrap().received, 3);
}

/// Reads one response head (up to the blank line) byte by byte.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(Duration::from_secs(10), stream.read_u8())
            .await
            .expect("an answer in time")
            .expect("the connection stays open until the answer");
        head.push(byte);
    }
    String::from_utf8_lossy(&head).into_owned()
}
