//! A webhook receiver for tests: checks v3 (and v1 when sent), records batches, can fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hubspot_gateway::secret::Secret;
use hubspot_gateway::time;
use hubspot_gateway::webhook::signature::{sign_v1, SignatureHeaders, Signed, Verifier};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;

pub const SECRET: &str = "test-client-secret";

#[derive(Default)]
pub struct Received {
    /// Every accepted batch, in arrival order.
    pub batches: Mutex<Vec<Vec<Value>>>,
    pub rejected: AtomicUsize,
    /// Answer 500 to this many requests first.
    pub fail_first: AtomicUsize,
}

impl Received {
    pub fn events(&self) -> Vec<Value> {
        self.batches.lock().iter().flatten().cloned().collect()
    }

    /// Waits until `done` holds for the received events, at most 10 s.
    pub async fn wait_for(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let events = self.events();
            if done(&events) || tokio::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Starts a receiver at `http://127.0.0.1:PORT/hooks/hubspot?portal=1`; returns that URL.
pub async fn start(received: Arc<Received>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/hooks/hubspot?portal=1",
        listener.local_addr().expect("addr")
    );
    let public_url = url.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (received, url) = (received.clone(), public_url.clone());
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let (received, url) = (received.clone(), url.clone());
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|collected| collected.to_bytes())
                        .unwrap_or_default();
                    let status = accept(&received, &url, &parts.headers, &body);
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::new()))
                            .expect("valid response"),
                    )
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    url
}

fn accept(received: &Received, url: &str, headers: &hyper::HeaderMap, body: &[u8]) -> u16 {
    let verifier = Verifier {
        client_secret: Secret::new(SECRET.to_string()),
        max_age_secs: 300,
        accept_legacy: true,
    };
    let signed = Signed {
        method: "POST",
        uri: url,
        body,
    };
    let v3_ok = verifier
        .verify(
            &SignatureHeaders::from_map(headers),
            &signed,
            time::now_ms(),
        )
        .is_ok();
    // The verifier checks only v3 when both come (as from the simulator): check v1 too.
    let both = headers.contains_key("x-hubspot-signature-v3")
        && headers
            .get("x-hubspot-signature-version")
            .is_some_and(|version| version == "v1");
    let v1_ok = !both
        || headers.get("x-hubspot-signature").is_some_and(|signature| {
            signature.to_str().ok() == Some(sign_v1(SECRET.as_bytes(), body).as_str())
        });
    if !v3_ok || !v1_ok {
        received.rejected.fetch_add(1, Ordering::SeqCst);
        return 401;
    }
    if received.fail_first.load(Ordering::SeqCst) > 0 {
        received.fail_first.fetch_sub(1, Ordering::SeqCst);
        return 500;
    }
    match serde_json::from_slice::<Vec<Value>>(body) {
        Ok(events) => {
            received.batches.lock().push(events);
            204
        }
        Err(_) => 400,
    }
}
