//! Freshness benchmark: after a backfill, records are changed through the simulator's
//! `Control` (which posts signed webhooks to the gateway) and `GET /v1/objects/{type}/{id}`
//! is polled until the change shows: mutation → visible, p50/p99. With `--journal-poll-ms`
//! the gateway also reads the Webhooks Journal; with `--no-webhooks` only the journal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hubspot_gateway::sim::fire::Latencies;
use hubspot_gateway::sim::{self, ObjectType, WebhookTarget};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::portal::{parse_rate_limit, Portal};
use crate::report::{self, percentiles, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 50_000)]
    pub contacts: usize,
    #[arg(long, default_value_t = 15_000)]
    pub companies: usize,
    #[arg(long, default_value_t = 5_000)]
    pub deals: usize,
    #[arg(long, default_value = "1000000/10")]
    pub rate_limit: String,
    #[arg(long, default_value_t = 300)]
    pub mutations: usize,
    /// Mutations per second (open loop).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// How often each pending mutation polls the gateway.
    #[arg(long, default_value_t = 2)]
    pub poll_ms: u64,
    #[arg(long, default_value = "freshness")]
    pub name: String,
    /// Read the Webhooks Journal too, polling every this many ms while caught up.
    #[arg(long)]
    pub journal_poll_ms: Option<u64>,
    /// Send no webhooks: changes arrive through the journal alone.
    #[arg(long, requires = "journal_poll_ms")]
    pub no_webhooks: bool,
    /// Fresh simulator and gateway per run; the result is the median run by p99.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let runs = report::repeat("freshness", args.runs, || {
        run_once(binary.clone(), &out, &args)
    })
    .await?;
    let result = report::median_of(
        runs,
        "/mutation_to_visible/p99_ms",
        &[
            "/mutation_to_visible/p50_ms",
            "/mutation_to_visible/p99_ms",
            "/mutation_to_visible/max_ms",
            "/api_calls_per_mutation",
            "/machine/load_average_1m",
        ],
    );
    report::write(&out, &args.name, &result)?;
    Ok(result)
}

async fn run_once(binary: PathBuf, out: &std::path::Path, args: &Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    let portal = Portal {
        contacts: args.contacts,
        companies: args.companies,
        deals: args.deals,
        tasks: 100,
        owners: 20,
        seed: 42,
    };
    let port = gateway::free_port();
    let mut config = portal.sim_config(parse_rate_limit(&args.rate_limit)?);
    let mut target = WebhookTarget::new(
        format!("http://127.0.0.1:{port}/webhooks/hubspot"),
        gateway::CLIENT_SECRET,
    );
    target.retry_base_ms = 200;
    if !args.no_webhooks {
        config.webhook = Some(target);
    }
    config.client_secret = gateway::CLIENT_SECRET.into();
    let sim = sim::start(config, "127.0.0.1:0".parse()?).await?;
    let dir = out.join(&args.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let setup = Setup {
        binary,
        dir,
        port,
        api_base: sim.base_url(),
        sync: true,
        journal_poll_ms: args.journal_poll_ms,
    };
    let started = Instant::now();
    let gw = Arc::new(Gateway::start(&setup, "freshness.log", Duration::from_secs(60)).await?);
    loop {
        let status = gw.status().await.unwrap_or(Value::Null);
        let done = ObjectType::ALL.iter().all(|kind| {
            !status[kind.name()]["last_full_sync"].is_null()
                && status[kind.name()]["backfill_in_progress"] == false
        });
        if done {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "backfill did not finish in 15 min"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let backfill_secs = started.elapsed().as_secs_f64();
    eprintln!("backfill done in {backfill_secs:.1} s; mutating");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls_before: u64 = sim.stats().calls.values().sum();

    let control = sim.control().clone();
    let mut rng = StdRng::seed_from_u64(11);
    let mut contacts = control.ids(ObjectType::Contacts, "0", args.contacts);
    let mut companies = control.ids(ObjectType::Companies, "0", args.companies);
    contacts.shuffle(&mut rng);
    companies.shuffle(&mut rng);
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let first = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..args.mutations {
        tokio::time::sleep_until(first + interval.mul_f64(n as f64)).await;
        let (kind, id, property) = if n % 3 == 2 {
            (
                ObjectType::Companies,
                companies[n % companies.len()].clone(),
                "city",
            )
        } else {
            (
                ObjectType::Contacts,
                contacts[n % contacts.len()].clone(),
                "jobtitle",
            )
        };
        let value = format!("bench-{n}-{}", rng.gen::<u32>());
        let (control, gw, poll) = (
            control.clone(),
            gw.clone(),
            Duration::from_millis(args.poll_ms),
        );
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            control.update(kind, &id, [(property, value.as_str())])?;
            let path = format!("/v1/objects/{}/{id}", kind.name());
            while t0.elapsed() < Duration::from_secs(30) {
                let (code, body) = gw.get(&path).await?;
                if code == 200 && body["properties"][property] == value.as_str() {
                    return Ok::<_, anyhow::Error>(Some(t0.elapsed()));
                }
                tokio::time::sleep(poll).await;
            }
            Ok(None)
        }));
    }
    let mut latencies = Latencies::default();
    let mut timed_out = 0;
    let mut failed = 0;
    for task in tasks {
        match task.await? {
            Ok(Some(latency)) => latencies.record(latency),
            Ok(None) => timed_out += 1,
            Err(error) => {
                failed += 1;
                eprintln!("mutation failed: {error:#}");
            }
        }
    }
    let stats = sim.stats();
    let calls_after: u64 = stats.calls.values().sum();
    let status = gw.status().await?;
    let gw = Arc::into_inner(gw).expect("every poller finished");
    gw.stop().await?;
    sim.shutdown().await;
    let figures = percentiles(&latencies);
    let result = json!({
        "benchmark": "freshness",
        "machine": machine,
        "portal": {"contacts": args.contacts, "companies": args.companies, "deals": args.deals, "tasks": 100},
        "rate_limit": args.rate_limit,
        "backfill_secs": round3(backfill_secs),
        "mutations": args.mutations,
        "mutation_rate_per_sec": args.rate,
        "poll_ms": args.poll_ms,
        "journal_poll_ms": args.journal_poll_ms,
        "webhooks": !args.no_webhooks,
        "mutation_to_visible": figures,
        "timed_out_30s": timed_out,
        "failed": failed,
        "api_calls_during_mutations": calls_after - calls_before,
        "api_calls_per_mutation": round3((calls_after - calls_before) as f64 / args.mutations as f64),
        "sim_webhooks": stats.webhooks,
        "gateway_webhooks": status["webhooks"],
        "gateway_journal": status["journal"],
    });
    let f = &result["mutation_to_visible"];
    report::table(
        "freshness: mutation → visible in GET /v1/objects",
        &[
            vec![
                "mutations".into(),
                "p50 ms".into(),
                "p90 ms".into(),
                "p99 ms".into(),
                "max ms".into(),
                "timed out".into(),
                "API calls/mutation".into(),
            ],
            vec![
                f["count"].to_string(),
                f["p50_ms"].to_string(),
                f["p90_ms"].to_string(),
                f["p99_ms"].to_string(),
                f["max_ms"].to_string(),
                timed_out.to_string(),
                result["api_calls_per_mutation"].to_string(),
            ],
        ],
    );
    Ok(result)
}
