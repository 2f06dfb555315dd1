//! Notifications benchmark: the real gateway mirroring the simulator, with a local receiver
//! as its target. Latency from a change to its `owner.changed` arriving, at a steady rate;
//! throughput of a backlog to a target answering in 1 ms, beside what the receiver alone
//! takes; and the cost of a dead target to webhook ingest at full speed (`notify_ingest`),
//! against no target, interleaved in one run.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hubspot_gateway::config::{Notify, NotifyTarget, SecretRef};
use hubspot_gateway::sim::{self, Control, ObjectType, SimHandle, WebhookTarget};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::notify_delivery::{latency, throughput};
use crate::notify_ingest::{ingest, Ingest};
use crate::notify_receiver as receiver;
use crate::portal::{parse_rate_limit, Portal};
use crate::report::{self, median, round3};

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
    /// Owner-change events per ingest run (no target / refused / black hole), sent at full
    /// speed, about `--contacts` contacts in turn.
    #[arg(long, default_value_t = 300_000)]
    pub burst: usize,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    #[arg(long, default_value = "notify")]
    pub name: String,
}

/// Requests in flight per target (`notify.max_in_flight`).
const MAX_IN_FLIGHT: usize = 32;

/// `[notify]` with one target at `url`, told about owner changes, retrying fast.
fn notify_to(url: &str) -> Notify {
    Notify {
        retry_initial_ms: 50,
        retry_max_ms: 200,
        max_in_flight: MAX_IN_FLIGHT,
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

pub struct Run {
    pub sim: SimHandle,
    owners: Vec<String>,
    contacts: Vec<String>,
    next: usize,
}

impl Run {
    /// The next contact and an owner other than its current one.
    pub fn change(&mut self, control: &Control) -> (String, String) {
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

pub async fn admin(gw: &Gateway, path: &str) -> anyhow::Result<Value> {
    let response = gw
        .http
        .get(format!("{}{path}", gw.base))
        .bearer_auth(gateway::ADMIN_TOKEN)
        .send()
        .await?;
    Ok(response.json().await?)
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
    let (receiver, url) = receiver::start().await?;
    let black_hole = receiver::black_hole().await?;
    let (mut latencies, mut throughputs, mut ceilings) = (vec![], vec![], vec![]);
    let mut ingests: [(&str, Vec<Ingest>); 3] = [
        ("none", vec![]),
        ("refused", vec![]),
        ("black_hole", vec![]),
    ];
    for at in 0..args.runs {
        eprintln!("run {}/{}: latency and throughput", at + 1, args.runs);
        let name = format!("{}-target", args.name);
        let gw = start_gateway(&run, &out, &binary, &name, Some(notify_to(&url))).await?;
        latencies.push(latency(&mut run, &receiver, &args).await?);
        throughputs.push(throughput(&mut run, &gw, &receiver, &args).await?);
        gw.stop().await?;
        // What the receiver alone takes with the gateway's concurrency and 1 ms answers.
        receiver.delay_us.store(1_000, Ordering::Relaxed);
        ceilings.push(receiver::ceiling(&receiver, &url, MAX_IN_FLIGHT, args.backlog).await?);
        receiver.delay_us.store(0, Ordering::Relaxed);
        // Interleaved: no target, one refusing connections, one never answering; the order
        // turns each run, so that none always follows the same one.
        let refused = format!("http://127.0.0.1:{}/hooks", gateway::free_port());
        ingests.rotate_left(1);
        for (label, into) in ingests.iter_mut() {
            let notify = match *label {
                "none" => None,
                "refused" => Some(notify_to(&refused)),
                _ => Some(notify_to(&black_hole)),
            };
            eprintln!("run {}/{}: ingest, target {label}", at + 1, args.runs);
            let name = format!("{}-{label}", args.name);
            let gw = start_gateway(&run, &out, &binary, &name, notify).await?;
            into.push(ingest(&mut run, &gw, args.contacts, args.burst).await?);
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
    let ceiling = median(&ceilings);
    let acked = |runs: &[Ingest]| median(&runs.iter().map(|i| i.acked_per_sec).collect::<Vec<_>>());
    let applied =
        |runs: &[Ingest]| median(&runs.iter().map(|i| i.applied_per_sec).collect::<Vec<_>>());
    ingests.sort_by_key(|(label, _)| {
        ["none", "refused", "black_hole"]
            .iter()
            .position(|l| l == label)
    });
    let (none, refused, hole) = (&ingests[0].1, &ingests[1].1, &ingests[2].1);
    let ingest_runs: serde_json::Map<String, Value> = ingests
        .iter()
        .map(|(label, runs)| {
            let runs: Vec<Value> = runs.iter().map(Ingest::json).collect();
            (label.to_string(), Value::from(runs))
        })
        .collect();
    let result = json!({
        "benchmark": "notify",
        "machine": crate::machine::info(Some(&binary)),
        "runs": args.runs,
        "ingest_events_per_run": args.burst,
        "latency_runs": latencies,
        "throughput_runs": throughputs,
        "receiver_ceiling_runs": ceilings,
        "ingest_runs": ingest_runs,
        "median": {
            "change_to_arrival_p50_ms": p("p50_ms"), "change_to_arrival_p99_ms": p("p99_ms"),
            "throughput_per_sec": per_sec,
            "receiver_alone_per_sec": round3(ceiling),
            "ingest_acked_per_sec": {"none": round3(acked(none)),
                "refused": round3(acked(refused)), "black_hole": round3(acked(hole))},
            "ingest_applied_per_sec": {"none": round3(applied(none)),
                "refused": round3(applied(refused)), "black_hole": round3(applied(hole))},
            "ingest_refused_vs_none": round3(acked(refused) / acked(none)),
            "ingest_black_hole_vs_none": round3(acked(hole) / acked(none)),
        },
    });
    let share = |dead: f64, none: f64| format!("{:+.1} %", (dead / none - 1.0) * 100.0);
    report::table(
        "notifications",
        &[
            vec![
                "change → arrival p50 / p99 (ms)".into(),
                format!("{:.1} / {:.1} at {}/s", p("p50_ms"), p("p99_ms"), args.rate),
            ],
            vec![
                "backlog to a 1 ms target / the receiver alone".into(),
                format!("{per_sec:.0}/s / {ceiling:.0}/s"),
            ],
            vec![
                "ingest acked, none / refused / black hole".into(),
                format!(
                    "{:.0} / {:.0} ({}) / {:.0} ({}) events/s",
                    acked(none),
                    acked(refused),
                    share(acked(refused), acked(none)),
                    acked(hole),
                    share(acked(hole), acked(none))
                ),
            ],
            vec![
                "ingest applied, none / refused / black hole".into(),
                format!(
                    "{:.0} / {:.0} / {:.0} events/s",
                    applied(none),
                    applied(refused),
                    applied(hole)
                ),
            ],
        ],
    );
    report::write(&out, &args.name, &result)?;
    run.sim.shutdown().await;
    Ok(result)
}
