//! Refresh timing, and what happens when HubSpot's token endpoint fails (a scripted server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[test]
fn refreshes_well_before_expiry() {
    let secs = |s| Duration::from_secs(s);
    assert_eq!(refresh_after(secs(1800)), secs(1440));
    assert_eq!(refresh_after(secs(3600)), secs(2880));
    assert_eq!(refresh_after(secs(21_600)), secs(17_280));
    assert_eq!(refresh_after(secs(600)), secs(300));
    assert_eq!(refresh_after(secs(10)), secs(5));
    assert_eq!(refresh_after(secs(0)), secs(0));
}

/// Answers the first token request with a 1-second token and every later one with a 503.
async fn flaky_token_endpoint() -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = vec![0; 8192];
            let _ = socket.read(&mut buffer).await;
            let (status, body) = match n {
                0 => (
                    "200 OK",
                    r#"{"access_token":"first","refresh_token":"r2","expires_in":1}"#,
                ),
                _ => (
                    "503 Service Unavailable",
                    r#"{"status":"error","message":"down"}"#,
                ),
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (base, calls)
}

#[tokio::test]
async fn a_failing_refresh_keeps_the_valid_token_without_blocking_then_reports_the_outage() {
    let (base, calls) = flaky_token_endpoint().await;
    let credentials = Credentials::OAuth {
        client_id: "id".into(),
        client_secret: Secret::from("secret"),
        refresh_token: Secret::from("r1"),
    };
    let auth = Auth::new(credentials, reqwest::Client::new(), base, None);
    let retry = RetryPolicy {
        max_total: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let stats = ClientStats::default();
    let first = auth.token(&retry, &stats).await.unwrap();
    assert_eq!(first.secret.expose(), "first");
    assert_eq!(
        auth.refresh_token().unwrap().expose(),
        "r2",
        "a rotated refresh token is kept"
    );

    // Half its life passed: a refresh is due, fails once, and the valid token is used meanwhile.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let started = Instant::now();
    let kept = auth.token(&retry, &stats).await.unwrap();
    assert_eq!(kept.secret.expose(), "first");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The next attempt is postponed, not made on every call.
    auth.token(&retry, &stats).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // HubSpot refused the token (401): no fallback to it, the outage is reported.
    let error = auth
        .force_refresh(kept.generation, &retry, &stats)
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert!(
        calls.load(Ordering::SeqCst) > 3,
        "retried within the budget"
    );
    assert_eq!(stats.snapshot().token_refreshes, 1);
}
