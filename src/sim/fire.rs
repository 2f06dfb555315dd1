//! `hubspot-sim fire`: a signed-webhook load generator. One keep-alive HTTP/1 connection per
//! concurrency slot; every request is built and signed when sent (v3 timestamps stay fresh).

mod batch;
mod report;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::time::Instant;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::net::TcpStream;

pub use report::{Latencies, Report};

use crate::webhook::signature::Version;

#[derive(Debug, Clone)]
pub struct FireConfig {
    /// `http://host:port/path?query`: the exact URL, which v2/v3 signatures cover.
    pub target: String,
    pub client_secret: String,
    pub version: Version,
    pub events: u64,
    pub batch_size: usize,
    pub concurrency: usize,
    /// Probability that a batch is sent again as a redelivery (`attemptNumber` + 1).
    pub duplicate_rate: f64,
    pub portal_id: i64,
    pub app_id: i64,
    /// What the events say. `None`: a mix of kinds about random ids (ingest load). Some:
    /// event `n` says contact `changes[n % len].0` now has owner `changes[n % len].1` (a
    /// change the gateway applies, for benchmarks that need the mirror to move).
    pub owner_changes: Option<Arc<Vec<(i64, String)>>>,
}

/// Where to connect and what to put in the request line, from the target URL.
struct Target {
    address: String,
    host: String,
    path: String,
}

fn parse_target(url: &str) -> anyhow::Result<Target> {
    let parsed = url::Url::parse(url).with_context(|| format!("--target {url:?} is not a URL"))?;
    if parsed.scheme() != "http" {
        bail!("--target must be an http:// URL (the load generator speaks plain HTTP/1.1)");
    }
    let host = parsed
        .host_str()
        .context("--target needs a host")?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let host_header = parsed
        .port()
        .map_or(host.clone(), |port| format!("{host}:{port}"));
    Ok(Target {
        address: format!("{host}:{port}"),
        host: host_header,
        path,
    })
}

/// Validates the configuration without running (usage errors exit 2).
pub fn check(config: &FireConfig) -> anyhow::Result<()> {
    parse_target(&config.target)?;
    if config.batch_size == 0 || config.batch_size > 100 {
        bail!("--batch-size must be 1..=100 (HubSpot sends at most 100 events per request)");
    }
    if config.concurrency == 0 || config.concurrency > 4096 {
        bail!("--concurrency must be 1..=4096");
    }
    if !(0.0..=1.0).contains(&config.duplicate_rate) {
        bail!("--duplicate-rate must be within 0..=1");
    }
    Ok(())
}

pub async fn run(config: FireConfig) -> anyhow::Result<Report> {
    run_paced(config, None).await
}

/// Like `run`, but with `rate_per_sec` it sends requests on a fixed schedule (open loop):
/// request `n` is due at `start + n / rate`, and its latency counts from that due time, so a
/// slow receiver shows as latency instead of silently lowering the offered load.
pub async fn run_paced(config: FireConfig, rate_per_sec: Option<f64>) -> anyhow::Result<Report> {
    check(&config)?;
    if rate_per_sec.is_some_and(|rate| !(rate > 0.0 && rate.is_finite())) {
        bail!("--rate must be a positive number of requests per second");
    }
    let target = Arc::new(parse_target(&config.target)?);
    let config = Arc::new(config);
    let next_event = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let pace = rate_per_sec.map(|rate| Pace {
        start: started,
        interval_secs: 1.0 / rate,
    });
    let workers: Vec<_> = (0..config.concurrency)
        .map(|slot| {
            tokio::spawn(worker(
                slot,
                config.clone(),
                target.clone(),
                next_event.clone(),
                pace,
            ))
        })
        .collect();
    let mut report = Report::default();
    for worker in workers {
        report.merge(worker.await.context("a worker panicked")?);
    }
    report.finish(started.elapsed());
    Ok(report)
}

async fn connect(target: &Target) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(&target.address)
        .await
        .with_context(|| format!("connecting to {}", target.address))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The open-loop schedule of a paced run.
#[derive(Debug, Clone, Copy)]
struct Pace {
    start: Instant,
    interval_secs: f64,
}

impl Pace {
    fn due(&self, request: u64) -> Instant {
        self.start + std::time::Duration::from_secs_f64(request as f64 * self.interval_secs)
    }
}

async fn worker(
    slot: usize,
    config: Arc<FireConfig>,
    target: Arc<Target>,
    next_event: Arc<AtomicU64>,
    pace: Option<Pace>,
) -> Report {
    let mut report = Report::default();
    let mut sender = None;
    let mut builder = batch::Builder::new(&config, slot as u64);
    loop {
        let first = next_event.fetch_add(config.batch_size as u64, Ordering::Relaxed);
        if first >= config.events {
            break;
        }
        let count = (config.events - first).min(config.batch_size as u64) as usize;
        let due = pace.map(|pace| pace.due(first / config.batch_size as u64));
        if let Some(due) = due {
            tokio::time::sleep_until(due).await;
        }
        let occurred = crate::time::now_ms();
        let body = builder.build(first, count, 0, occurred);
        let redeliver =
            config.duplicate_rate > 0.0 && rand::thread_rng().gen_bool(config.duplicate_rate);
        let sending = Sending {
            events: count,
            duplicate: false,
            due,
        };
        send(&config, &target, &mut sender, body, sending, &mut report).await;
        if redeliver {
            let again = builder.build(first, count, 1, occurred);
            let sending = Sending {
                events: count,
                duplicate: true,
                due: None,
            };
            send(&config, &target, &mut sender, again, sending, &mut report).await;
        }
    }
    report
}

/// What one request carries, for the report; `due` is its scheduled time in a paced run.
struct Sending {
    events: usize,
    duplicate: bool,
    due: Option<Instant>,
}

/// Sends one batch, reconnecting once if the kept-alive connection was closed.
async fn send(
    config: &FireConfig,
    target: &Target,
    sender: &mut Option<http1::SendRequest<Full<Bytes>>>,
    body: Vec<u8>,
    sending: Sending,
    report: &mut Report,
) {
    let body = Bytes::from(body);
    for _ in 0..2 {
        if sender.as_ref().is_none_or(|sender| sender.is_closed()) {
            match connect(target).await {
                Ok(connected) => *sender = Some(connected),
                Err(error) => {
                    report.transport_error(&error);
                    return;
                }
            }
        }
        // Invariant: the branch above leaves `sender` set or returns.
        let connection = sender.as_mut().expect("connected above");
        let request = batch::request(
            config,
            target.host.as_str(),
            target.path.as_str(),
            body.clone(),
        );
        let started = sending.due.unwrap_or_else(Instant::now);
        let outcome = async {
            connection.ready().await?;
            let response = connection.send_request(request).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            Ok::<u16, hyper::Error>(status)
        }
        .await;
        match outcome {
            Ok(status) => {
                report.record(status, started.elapsed(), sending.events, sending.duplicate);
                return;
            }
            Err(error) => {
                *sender = None;
                report.transport_error(&anyhow::Error::from(error));
            }
        }
    }
}
