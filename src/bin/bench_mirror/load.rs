//! An HTTP/1.1 load generator: N keep-alive hyper connections, closed loop (as fast as answers
//! come) or open loop at a fixed total rate (latency counted from each request's scheduled
//! send time, so a slow server cannot hide queueing). Requests are prepared beforehand.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hubspot_gateway::sim::fire::Latencies;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::report::{percentiles, round3};

/// One prepared request.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub post: bool,
    pub path: String,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Total requests per second (open loop); `None` = closed loop.
    pub rate: Option<f64>,
    /// Send each request once, in order, then stop (closed loop; for first-time lookups).
    pub once: bool,
}

#[derive(Default)]
struct Tally {
    latencies: Latencies,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    in_crm: u64,
    checked: u64,
    last_error: Option<String>,
}

const IN_CRM: &[u8] = b"\"in_crm\":true";

/// Runs `plan` with `requests` (connections take every N-th one, cycling); returns the figures.
pub async fn run(plan: &Plan, requests: Arc<Vec<Prepared>>) -> anyhow::Result<Value> {
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for conn in 0..plan.connections {
        let (plan, requests, next) = (plan.clone(), requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            if let Err(error) = connection(
                conn,
                &plan,
                &requests,
                &next,
                (start, measure_from, end),
                &mut tally,
            )
            .await
            {
                tally.errors += 1;
                tally.last_error = Some(format!("{error:#}"));
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.latencies.add(&tally.latencies);
        for (status, count) in tally.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
        all.errors += tally.errors;
        all.in_crm += tally.in_crm;
        all.checked += tally.checked;
        all.last_error = tally.last_error.or(all.last_error);
    }
    let elapsed = if plan.once {
        measure_from.elapsed().min(end - measure_from)
    } else {
        plan.duration
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let requests = all.latencies.count() as f64;
    let mut figures = percentiles(&all.latencies);
    figures["requests"] = json!(requests);
    figures["secs"] = json!(round3(secs));
    figures["requests_per_sec"] = json!(round3(requests / secs));
    figures["statuses"] = json!(all.statuses);
    figures["transport_errors"] = json!(all.errors);
    figures["last_error"] = json!(all.last_error);
    figures["in_crm_share"] = json!(round3(all.in_crm as f64 / all.checked.max(1) as f64));
    Ok(figures)
}

async fn connection(
    conn: usize,
    plan: &Plan,
    requests: &[Prepared],
    next: &std::sync::atomic::AtomicUsize,
    (start, measure_from, end): (Instant, Instant, Instant),
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    let host = plan.addr.to_string();
    let interval = plan
        .rate
        .map(|rate| Duration::from_secs_f64(plan.connections as f64 / rate));
    // Spread the open-loop connections evenly over one interval.
    let mut scheduled = start
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(conn as f64 / plan.connections as f64)
        });
    let mut i = conn;
    tokio::time::sleep_until(start).await;
    loop {
        if interval.is_some() {
            tokio::time::sleep_until(scheduled).await;
            if scheduled >= end {
                return Ok(());
            }
        } else if Instant::now() >= end {
            return Ok(());
        }
        let index = if plan.once {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if index >= requests.len() {
                return Ok(());
            }
            index
        } else {
            i % requests.len()
        };
        let prepared = &requests[index];
        let mut builder = hyper::Request::builder()
            .method(if prepared.post { "POST" } else { "GET" })
            .uri(&prepared.path)
            .header("host", &host);
        if let Some(token) = &plan.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if prepared.post {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder.body(Full::new(prepared.body.clone()))?;
        let sent = if interval.is_some() {
            scheduled
        } else {
            Instant::now()
        };
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        let done = Instant::now();
        if sent >= measure_from && (plan.once || sent < end) {
            tally.latencies.record(done - sent);
            *tally.statuses.entry(status).or_default() += 1;
            if i % 8 == 0 {
                tally.checked += 1;
                if body.windows(IN_CRM.len()).any(|w| w == IN_CRM) {
                    tally.in_crm += 1;
                }
            }
        }
        i += plan.connections;
        if let Some(interval) = interval {
            scheduled += interval;
        }
    }
}
