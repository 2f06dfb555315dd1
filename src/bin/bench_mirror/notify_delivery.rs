//! The notifications benchmark's delivery figures: latency from a change to its
//! notification arriving at a steady rate, and the throughput of a backlog to a target
//! answering in 1 ms.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hubspot_gateway::sim::fire::Latencies;
use hubspot_gateway::sim::ObjectType;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::Gateway;
use crate::notify::{admin, Args, Run};
use crate::notify_receiver::Receiver;
use crate::report::{percentiles, round3};

/// Changes at `rate`/s; each one's time from the change to its notification's arrival.
pub async fn latency(run: &mut Run, receiver: &Receiver, args: &Args) -> anyhow::Result<Value> {
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
pub async fn throughput(
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
