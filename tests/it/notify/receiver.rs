//! A notification target for tests: verifies each request's Standard Webhooks signature,
//! records the verified ones, and answers as scripted (2xx, an error status, slowly, never).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hubspot_gateway::notify::signature;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;

/// How the receiver answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Status(u16),
    /// Answers 204 after this long.
    Slowly(Duration),
    /// Never answers.
    Hang,
}

/// One verified notification that was answered 2xx.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub id: String,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    key: Vec<u8>,
    /// Answered 2xx, in arrival order.
    arrivals: Mutex<Vec<Arrival>>,
    /// Every request that reached the receiver.
    pub attempts: AtomicUsize,
    /// Requests whose signature did not verify.
    pub refused: AtomicUsize,
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Option<Answer>>,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on 127.0.0.1 (on `port`, or any), verifying with `key`.
    pub async fn start(key: &[u8], port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let state = Arc::new(State {
            key: key.to_vec(),
            otherwise: Mutex::new(Some(Answer::Ok)),
            ..State::default()
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { url, state, task }
    }

    /// Answers `answers` first, in order, then `otherwise`.
    pub fn script(&self, answers: &[Answer], otherwise: Answer) {
        *self.state.script.lock() = answers.iter().copied().collect();
        *self.state.otherwise.lock() = Some(otherwise);
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.arrivals.lock().clone()
    }

    /// The verified notifications of `kind` (`type`), without repeats of a webhook-id.
    pub fn of(&self, kind: &str) -> Vec<Value> {
        let mut seen = std::collections::HashSet::new();
        self.arrivals()
            .into_iter()
            .filter(|arrival| arrival.body["type"] == kind && seen.insert(arrival.id.clone()))
            .map(|arrival| arrival.body)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Reply = hyper::Response<Full<Bytes>>;

async fn answer(
    state: Arc<State>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, std::convert::Infallible> {
    state.attempts.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let verified = signature::verify(
        &state.key,
        id.as_deref(),
        timestamp.as_deref(),
        signatures.as_deref(),
        &body,
        now,
        300,
    );
    if verified.is_err() {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return Ok(reply(401));
    }
    let scripted = state.script.lock().pop_front();
    let answer = scripted.or(*state.otherwise.lock()).unwrap_or(Answer::Ok);
    match answer {
        Answer::Status(status) => return Ok(reply(status)),
        Answer::Hang => std::future::pending::<()>().await,
        Answer::Slowly(pause) => tokio::time::sleep(pause).await,
        Answer::Ok => {}
    }
    state.arrivals.lock().push(Arrival {
        id: id.unwrap_or_default(),
        body: serde_json::from_slice(&body).unwrap(),
    });
    Ok(reply(204))
}

fn reply(status: u16) -> Reply {
    hyper::Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .unwrap()
}
