//! bench-sink: the ingest benchmark's two references, served where the gateway would be.
//!
//! - `bench-sink [ADDR]`: the transport ceiling. A bare hyper 1 HTTP/1.1 server (same runtime
//!   and connection settings as the gateway's listener) that reads each request body to the end
//!   and answers 204 without verifying, parsing or storing anything.
//! - `bench-sink --durable DIR [ADDR]`: the minimal durable receiver. The same server, and each
//!   request's v3 signature verified (secret from `BENCH_CLIENT_SECRET`), its body parsed into
//!   typed events, stored as one sled value, and answered only after a group commit (sled flush
//!   plus fdatasync of the db file) covers it. Nothing else: no redelivery detection, no ledger,
//!   no metrics, no logs — the floor under what a durable acknowledgement costs.
//!
//! Prints `listening on ADDR` once bound and serves until killed.

use std::convert::Infallible;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hubspot_gateway::secret::Secret;
use hubspot_gateway::webhook::event::parse_batch;
use hubspot_gateway::webhook::signature::{SignatureHeaders, Signed, Verifier};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The durable receiver's state, shared by every connection.
struct Durable {
    verifier: Verifier,
    /// The URL HubSpot would have called, which v3 signs.
    url: String,
    events: sled::Tree,
    next_key: AtomicU64,
    /// Requests waiting for a commit that covers what they stored.
    commits: mpsc::Sender<oneshot::Sender<bool>>,
}

impl Durable {
    fn open(dir: &Path, url: String) -> anyhow::Result<Arc<Durable>> {
        let secret = std::env::var("BENCH_CLIENT_SECRET")
            .map_err(|_| anyhow::anyhow!("--durable needs BENCH_CLIENT_SECRET"))?;
        let db = sled::Config::new().path(dir).open()?;
        let events = db.open_tree("events")?;
        let data_file = File::options()
            .read(true)
            .write(true)
            .open(dir.join("db"))?;
        let (commits, waiting) = mpsc::channel();
        std::thread::spawn(move || group_commit(&db, &data_file, &waiting));
        Ok(Arc::new(Durable {
            verifier: Verifier {
                client_secret: Secret::new(secret),
                max_age_secs: 300,
                accept_legacy: false,
            },
            url,
            events,
            next_key: AtomicU64::new(0),
            commits,
        }))
    }

    async fn store(&self, headers: &http::HeaderMap, body: &[u8]) -> StatusCode {
        let signed = Signed {
            method: "POST",
            uri: &self.url,
            body,
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        let headers = SignatureHeaders::from_map(headers);
        if self.verifier.verify(&headers, &signed, now_ms).is_err() {
            return StatusCode::UNAUTHORIZED;
        }
        if parse_batch(body).is_err() {
            return StatusCode::BAD_REQUEST;
        }
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        if self.events.insert(key.to_be_bytes(), body).is_err() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let (done, committed) = oneshot::channel();
        if self.commits.send(done).is_err() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match committed.await {
            Ok(true) => StatusCode::NO_CONTENT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// One commit at a time, each covering every request that stored before it started: while a
/// commit runs, the next group gathers.
fn group_commit(db: &sled::Db, data_file: &File, waiting: &mpsc::Receiver<oneshot::Sender<bool>>) {
    while let Ok(first) = waiting.recv() {
        let mut group = vec![first];
        group.extend(waiting.try_iter());
        let committed = db.flush().is_ok() && data_file.sync_data().is_ok();
        for done in group {
            let _ = done.send(committed);
        }
    }
}

async fn answer(
    durable: Option<Arc<Durable>>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    // Read the whole body like the gateway must before it can verify a signature.
    let status = match (body.collect().await, durable) {
        (Err(_), _) => StatusCode::BAD_REQUEST,
        // Only deliveries are stored; a GET is the benchmark asking whether the sink is up.
        (Ok(body), Some(durable)) if parts.method == hyper::Method::POST => {
            durable.store(&parts.headers, &body.to_bytes()).await
        }
        (Ok(_), _) => StatusCode::NO_CONTENT,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}

async fn serve(addr: String, durable_dir: Option<String>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let durable = match durable_dir {
        Some(dir) => Some(Durable::open(
            Path::new(&dir),
            format!("http://{local}/webhooks/hubspot"),
        )?),
        None => None,
    };
    println!("listening on {local}");
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let durable = durable.clone();
        let service = service_fn(move |request| answer(durable.clone(), request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let durable_dir = match args.iter().position(|arg| arg == "--durable") {
        Some(at) if at + 1 < args.len() => {
            let dir = args.remove(at + 1);
            args.remove(at);
            Some(dir)
        }
        Some(_) => {
            eprintln!("bench-sink: --durable needs a directory");
            return ExitCode::from(2);
        }
        None => None,
    };
    let addr = args.pop().unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench-sink: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(addr, durable_dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-sink: {error:#}");
            ExitCode::from(1)
        }
    }
}
