//! Notifications benchmark: the real gateway mirroring the simulator, with a local receiver
//! as its target. Latency from a change to its `owner.changed` arriving, at a steady rate;
//! throughput of a backlog to a target answering in 1 ms; and the cost of a dead target to
//! webhook ingest (changes applied per second), against no target, interleaved in one run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hubspot_gateway::config::{Notify, NotifyTarget, SecretRef};
use hubspot_gateway::sim::fire::Latencies;
use hubspot_gateway::sim::{self, Control, ObjectType, SimHandle, WebhookTarget};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::portal::{parse_rate_limit, Portal};
use crate::report::{self, median, percentiles, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 30_000)]
    pub contacts: usize,
    /// Changes per second for the latency figure (open loop).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 1_000)]
    pub latency_changes: usize,
    /// Notifications queued while the target refuses, then drained at 1 ms per answer.
    #[arg(long, default_value_t = 20_000)]
    pub backlog: usize,
    /// Changes per ingest burst (no target / dead target).
    #[arg(long, default_value_t = 5_000)]
    pub burst: usize,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[arg(long, default_value = "notify")]
    pub name: String,
}

/// The receiver: answers 204 after `delay` (or 503 while `refusing`) and notes when each
/// record's `owner.changed` arrived.
#[derive(Default)]
struct Receiver {
    refusing: AtomicBool,
    delay_us: AtomicU64,
    delivered: AtomicU64,
    arrivals: Mutex<HashMap<String, Instant>>,
    first_last: Mutex<Option<(Instant, Instant)>>,
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

async fn start_receiver() -> anyhow::Result<(Arc<Receiver>, String)> {
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

/// `[notify]` with one target at `url`, told about owner changes, retrying fast.
fn notify_to(url: &str) -> Notify {
    Notify {
        retry_initial_ms: 50,
        retry_max_ms: 200,
        max_in_flight: 32,
        high_water: 1_000_000,
        targets: vec![NotifyTarget {
            name: "bench".into(),
            url: url.into(),
            secret: SecretRef::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            events: vec!["owner.changed".into()],
            types: None,
            allow_http: false,
        }],
        ..Notify::default()
    }
}

struct Run {
    sim: SimHandle,
    owners: Vec<String>,
    contacts: Vec<String>,
    next: usize,
}

impl Run {
    /// The next contact and an owner other than its current one.
    fn change(&mut self, control: &Control) -> (String, String) {
        let id = self.contacts[self.next % self.contacts.len()].clone();
        self.next += 1;
        let current = control
            .record(ObjectType::Contacts, &id)
            .and_then(|record| record.properties.get("hubspot_owner_id").cloned());
        let owner = self
            .owners
            .iter()
            .find(|owner| Some(*owner) != current.as_ref() && !owner.is_empty())
            .cloned()
            .unwrap_or_default();
        (id, owner)
    }
}

async fn start_gateway(
    run: &Run,
    out: &std::path::Path,
    binary: &std::path::Path,
    name: &str,
    notify: Option<Notify>,
) -> anyhow::Result<Gateway> {
    let port = gateway::free_port();
    let mut target = WebhookTarget::new(
        format!("http://127.0.0.1:{port}/webhooks/hubspot"),
        gateway::CLIENT_SECRET,
    );
    target.retry_base_ms = 200;
    run.sim.control().set_webhook_target(Some(target));
    let dir = out.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let setup = Setup {
        binary: binary.to_owned(),
        dir,
        port,
        api_base: run.sim.base_url(),
        sync: true,
        journal_poll_ms: None,
    };
    let within = Duration::from_secs(60);
    let gw = Gateway::start_with(&setup, "gateway.log", within, |config| {
        if let Some(notify) = notify {
            config.notify = notify;
        }
    })
    .await?;
    let started = Instant::now();
    loop {
        let status = gw.status().await.unwrap_or(Value::Null);
        if !status["contacts"]["last_full_sync"].is_null()
            && status["contacts"]["backfill_in_progress"] == false
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "no backfill in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(gw)
}

async fn admin(gw: &Gateway, path: &str) -> anyhow::Result<Value> {
    let response = gw
        .http
        .get(format!("{}{path}", gw.base))
        .bearer_auth(gateway::ADMIN_TOKEN)
        .send()
        .await?;
    Ok(response.json().await?)
}

/// Changes at `rate`/s; each one's time from the change to its notification's arrival.
async fn latency(run: &mut Run, receiver: &Receiver, args: &Args) -> anyhow::Result<Value> {
    let control = run.sim.control().clone();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let first = Instant::now();
    let mut changed = Vec::with_capacity(args.latency_changes);
    for n in 0..args.latency_changes {
        tokio::time::sleep_until(first + interval.mul_f64(n as f64)).await;
        let (id, owner) = run.change(&control);
        receiver.arrivals.lock().remove(&id);
        let t0 = Instant::now();
        control.set_owner(ObjectType::Contacts, &id, &owner)?;
        changed.push((id, t0));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut latencies = Latencies::default();
    let mut missing = changed.len();
    while Instant::now() < deadline && missing > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let arrivals = receiver.arrivals.lock();
        missing = changed
            .iter()
            .filter(|(id, _)| !arrivals.contains_key(id))
            .count();
    }
    let arrivals = receiver.arrivals.lock();
    for (id, t0) in &changed {
        if let Some(at) = arrivals.get(id) {
            latencies.record(at.saturating_duration_since(*t0));
        }
    }
    Ok(
        json!({"changes": changed.len(), "rate_per_sec": args.rate, "missing": missing, "change_to_arrival": percentiles(&latencies)}),
    )
}

/// A backlog queued while the target refuses, then delivered to it answering in 1 ms.
async fn throughput(
    run: &mut Run,
    gw: &Gateway,
    receiver: &Receiver,
    args: &Args,
) -> anyhow::Result<Value> {
    receiver.refusing.store(true, Ordering::Relaxed);
    let control = run.sim.control().clone();
    for _ in 0..args.backlog {
        let (id, owner) = run.change(&control);
        control.set_owner(ObjectType::Contacts, &id, &owner)?;
    }
    let started = Instant::now();
    loop {
        let status = admin(gw, "/v1/notifications").await?;
        let pending = status["targets"][0]["pending"].as_u64().unwrap_or(0);
        if pending as usize >= args.backlog {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {pending} queued"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = receiver.delivered.load(Ordering::Relaxed);
    *receiver.first_last.lock() = None;
    receiver.delay_us.store(1_000, Ordering::Relaxed);
    receiver.refusing.store(false, Ordering::Relaxed);
    let started = Instant::now();
    while receiver.delivered.load(Ordering::Relaxed) - before < args.backlog as u64 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "backlog not delivered in 5 min"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, last) = receiver.first_last.lock().expect("deliveries");
    let secs = last.duration_since(first).as_secs_f64();
    receiver.delay_us.store(0, Ordering::Relaxed);
    Ok(
        json!({"backlog": args.backlog, "answer_ms": 1, "secs": round3(secs),
              "per_sec": round3((args.backlog - 1) as f64 / secs)}),
    )
}

/// A burst of changes: from the first to all applied (acknowledged and in the mirror).
async fn ingest(run: &mut Run, gw: &Gateway, burst: usize) -> anyhow::Result<f64> {
    let control = run.sim.control().clone();
    let received = |status: &Value| status["webhooks"]["received"].as_u64().unwrap_or(0);
    let before = received(&gw.status().await?);
    let started = Instant::now();
    let mut last = (String::new(), String::new());
    for _ in 0..burst {
        last = run.change(&control);
        control.set_owner(ObjectType::Contacts, &last.0, &last.1)?;
    }
    loop {
        let status = gw.status().await?;
        if received(&status) - before >= burst as u64 && status["webhooks"]["inbox_depth"] == 0 {
            let (_, record) = gw.get(&format!("/v1/objects/contacts/{}", last.0)).await?;
            if record["properties"]["hubspot_owner_id"] == last.1.as_str() {
                break;
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "burst not applied in 5 min"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(burst as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(
    binary: std::path::PathBuf,
    out: std::path::PathBuf,
    args: Args,
) -> anyhow::Result<Value> {
    let portal = Portal {
        contacts: args.contacts,
        companies: 100,
        deals: 100,
        tasks: 100,
        owners: 20,
        seed: 42,
    };
    let sim = sim::start(
        portal.sim_config(parse_rate_limit("1000000/10")?),
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let control = sim.control().clone();
    let owners = control
        .owners()
        .iter()
        .filter(|o| !o.archived)
        .map(|o| o.id.to_string())
        .collect();
    let contacts = control.ids(ObjectType::Contacts, "0", args.contacts);
    let mut run = Run {
        sim,
        owners,
        contacts,
        next: 0,
    };
    let (receiver, url) = start_receiver().await?;
    let (mut latencies, mut throughputs, mut no_target, mut dead_target) =
        (vec![], vec![], vec![], vec![]);
    for at in 0..args.runs {
        eprintln!("run {}/{}: latency and throughput", at + 1, args.runs);
        let gw = start_gateway(
            &run,
            &out,
            &binary,
            &format!("{}-target", args.name),
            Some(notify_to(&url)),
        )
        .await?;
        latencies.push(latency(&mut run, &receiver, &args).await?);
        throughputs.push(throughput(&mut run, &gw, &receiver, &args).await?);
        gw.stop().await?;
        // Interleaved: no target, then a dead one (nothing listens at its port).
        let dead = format!("http://127.0.0.1:{}/hooks", gateway::free_port());
        for (label, extra, into) in [
            ("none", None, &mut no_target),
            ("dead", Some(notify_to(&dead)), &mut dead_target),
        ] {
            eprintln!("run {}/{}: ingest, target {label}", at + 1, args.runs);
            let gw = start_gateway(
                &run,
                &out,
                &binary,
                &format!("{}-{label}", args.name),
                extra,
            )
            .await?;
            into.push(ingest(&mut run, &gw, args.burst).await?);
            gw.stop().await?;
        }
    }
    let p = |key: &str| {
        median(
            &latencies
                .iter()
                .map(|l| l["change_to_arrival"][key].as_f64().unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        )
    };
    let per_sec = median(
        &throughputs
            .iter()
            .map(|t| t["per_sec"].as_f64().unwrap_or(0.0))
            .collect::<Vec<_>>(),
    );
    let (none, dead) = (median(&no_target), median(&dead_target));
    let result = json!({
        "benchmark": "notify",
        "machine": crate::machine::info(),
        "runs": args.runs,
        "latency_runs": latencies,
        "throughput_runs": throughputs,
        "ingest_changes_per_sec": {"no_target": no_target, "dead_target": dead_target},
        "median": {
            "change_to_arrival_p50_ms": p("p50_ms"), "change_to_arrival_p99_ms": p("p99_ms"),
            "throughput_per_sec": per_sec,
            "ingest_no_target_per_sec": round3(none), "ingest_dead_target_per_sec": round3(dead),
            "ingest_dead_vs_none": round3(dead / none),
        },
    });
    report::table(
        "notifications",
        &[
            vec![
                "change → arrival p50 / p99 (ms)".into(),
                format!("{:.1} / {:.1} at {}/s", p("p50_ms"), p("p99_ms"), args.rate),
            ],
            vec!["backlog to a 1 ms target".into(), format!("{per_sec:.0}/s")],
            vec![
                "ingest, no target / dead target".into(),
                format!(
                    "{none:.0} / {dead:.0} changes/s ({:+.1} %)",
                    (dead / none - 1.0) * 100.0
                ),
            ],
        ],
    );
    report::write(&out, &args.name, &result)?;
    run.sim.shutdown().await;
    Ok(result)
}
