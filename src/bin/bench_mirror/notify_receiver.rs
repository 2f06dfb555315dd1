//! The notifications benchmark's targets: a receiver answering 204 (after a set delay) or
//! 503, noting when each record's notification arrived; what that receiver alone can take
//! (so a throughput figure is known not to be the receiver's); and a black hole that accepts
//! connections and never answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::time::Instant;

/// The receiver: answers 204 after `delay_us` (or 503 while `refusing`).
#[derive(Default)]
pub struct Receiver {
    pub refusing: AtomicBool,
    pub delay_us: AtomicU64,
    pub delivered: AtomicU64,
    /// When each record's notification last arrived, by record id.
    pub arrivals: Mutex<HashMap<String, Instant>>,
    pub first_last: Mutex<Option<(Instant, Instant)>>,
}

async fn receive(
    receiver: Arc<Receiver>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Empty<Bytes>>, std::convert::Infallible> {
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status = if receiver.refusing.load(Ordering::Relaxed) {
        503
    } else {
        let delay = receiver.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        let now = Instant::now();
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            if let Some(id) = value["data"]["id"].as_str() {
                receiver.arrivals.lock().insert(id.to_owned(), now);
            }
        }
        receiver.delivered.fetch_add(1, Ordering::Relaxed);
        let mut first_last = receiver.first_last.lock();
        let first = first_last.map_or(now, |(first, _)| first);
        *first_last = Some((first, now));
        204
    };
    let mut response = hyper::Response::new(Empty::new());
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    Ok(response)
}

/// Starts the receiver on 127.0.0.1; it and its URL.
pub async fn start() -> anyhow::Result<(Arc<Receiver>, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    let receiver = Arc::new(Receiver::default());
    let shared = receiver.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let receiver = shared.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| receive(receiver.clone(), request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((receiver, url))
}

/// A target that accepts connections and never answers: each attempt waits out the
/// gateway's timeout. Its URL.
pub async fn black_hole() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(url)
}

/// What `receiver` alone takes, in requests per second: `requests` POSTs of a notification
/// sized body from `concurrency` keep-alive connections, as the gateway sends them.
pub async fn ceiling(
    receiver: &Receiver,
    url: &str,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let body = Bytes::from_static(
        br#"{"type":"owner.changed","timestamp":"2026-01-01T00:00:00.000Z","data":{"portal_id":62515001,"object_type":"contacts","id":"ceiling","owner_before":"1","owner_after":"2"}}"#,
    );
    let before = receiver.delivered.load(Ordering::Relaxed);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, body, next) =
            (client.clone(), url.to_owned(), body.clone(), next.clone());
        senders.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests as u64 {
                let sent = client.post(&url).body(body.clone()).send().await?;
                anyhow::ensure!(
                    sent.status() == 204,
                    "the receiver answered {}",
                    sent.status()
                );
            }
            Ok(())
        });
    }
    while let Some(done) = senders.join_next().await {
        done??;
    }
    let secs = started.elapsed().as_secs_f64();
    receiver.arrivals.lock().remove("ceiling");
    let delivered = receiver.delivered.load(Ordering::Relaxed) - before;
    anyhow::ensure!(
        delivered == requests as u64,
        "{delivered} of {requests} delivered"
    );
    Ok(requests as f64 / secs)
}
