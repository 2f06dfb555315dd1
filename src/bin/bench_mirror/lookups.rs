//! Lookup API benchmark: the real gateway on a backfilled store (sync off), the load
//! generator against `/healthz` (the ceiling), `GET /v1/companies/lookup`,
//! `GET /v1/contacts/lookup`, and 100-item `POST /v1/indicators` with a filter.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hubspot_gateway::kit::cpu_secs_of;
use serde_json::{json, Value};

use crate::gateway::{self, Gateway, Setup};
use crate::load::{self, Plan, Prepared};
use crate::lookup_keys::{encode, get, indicator_bodies, keys};
use crate::portal::Portal;
use crate::report::{self, median_run};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Must match the portal the store was backfilled from (the keys are regenerated).
    #[command(flatten)]
    pub portal: Portal,
    /// The backfill run whose store to serve (`target/bench/NAME/store`).
    #[arg(long, default_value = "backfill")]
    pub from: String,
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Distinct existing keys per type (plus a fifth as many that do not exist).
    #[arg(long, default_value_t = 20_000)]
    pub keys: usize,
    /// Indicator requests per second (open loop), each 100 items.
    #[arg(long, default_value_t = 100.0)]
    pub indicator_rate: f64,
    /// Result name: `target/bench/NAME.json`.
    #[arg(long, default_value = "lookups")]
    pub name: String,
    /// The gateway's `store.cache_mb` (sled's cache), else the default.
    #[arg(long)]
    pub cache_mb: Option<u64>,
}

/// Runs `plan` and adds the CPU both processes used: the gateway's CPU per request does not
/// depend on how busy the shared machine is, unlike requests/s.
async fn measured(
    gw: &Gateway,
    plan: &Plan,
    requests: Arc<Vec<Prepared>>,
) -> anyhow::Result<Value> {
    let (gw_before, self_before) = (gw.cpu_secs(), cpu_secs_of("/proc/self/stat"));
    let mut figures = load::run(plan, requests).await?;
    let (gw_cpu, self_cpu) = (
        gw.cpu_secs() - gw_before,
        cpu_secs_of("/proc/self/stat") - self_before,
    );
    let count = figures["requests"].as_f64().unwrap_or(0.0).max(1.0);
    // Counted over warm-up and measurement alike; requests only over the measurement.
    let secs = (plan.warmup + plan.duration)
        .as_secs_f64()
        .min(figures["secs"].as_f64().unwrap_or(0.0) + plan.warmup.as_secs_f64());
    let all = count * secs / figures["secs"].as_f64().unwrap_or(1.0).max(1e-9);
    figures["gateway_cpu_secs"] = json!(report::round3(gw_cpu));
    figures["loadgen_cpu_secs"] = json!(report::round3(self_cpu));
    figures["gateway_cpu_us_per_request"] = json!(report::round3(gw_cpu * 1e6 / all));
    figures["load_average_1m"] = json!(crate::machine::load_average());
    Ok(figures)
}

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    let keys = keys(&args).await?;
    let setup = Setup {
        binary,
        dir: out.join(&args.from),
        port: gateway::free_port(),
        api_base: "http://127.0.0.1:9".into(),
        sync: false,
        journal_poll_ms: None,
    };
    anyhow::ensure!(
        setup.store().exists(),
        "no store at {}: run the backfill first",
        setup.store().display()
    );
    let cache = gateway::cache_of(args.cache_mb);
    let gw = Gateway::start_with(&setup, "lookups.log", Duration::from_secs(300), cache).await?;
    let ready_secs = gw.ready_after.as_secs_f64();
    let status = gw.status().await?;
    let (code, probe) = gw
        .get(&format!(
            "/v1/companies/lookup?domain={}",
            encode(&keys.fresh_domains[0])
        ))
        .await?;
    anyhow::ensure!(
        code == 200 && probe["in_crm"] == true,
        "an existing domain is not found ({code}: {probe}): is --portal the one backfilled?"
    );
    let addr = gw
        .base
        .trim_start_matches("http://")
        .parse()
        .context("gateway address")?;
    let plan = Plan {
        addr,
        token: Some(gateway::READ_TOKEN.into()),
        connections: args.connections,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(args.duration_secs),
        rate: None,
        once: false,
    };
    let scenarios: Vec<(&str, Arc<Vec<Prepared>>)> = vec![
        ("healthz", Arc::new(vec![get("/healthz".into())])),
        (
            "companies_lookup",
            Arc::new(
                keys.domains
                    .iter()
                    .map(|d| get(format!("/v1/companies/lookup?domain={}", encode(d))))
                    .collect(),
            ),
        ),
        (
            "contacts_lookup",
            Arc::new(
                keys.emails
                    .iter()
                    .map(|e| get(format!("/v1/contacts/lookup?email={}", encode(e))))
                    .collect(),
            ),
        ),
    ];
    let mut results = serde_json::Map::new();
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); scenarios.len()];
    for run in 0..args.runs {
        for (i, (name, requests)) in scenarios.iter().enumerate() {
            let figures = measured(&gw, &plan, requests.clone()).await?;
            eprintln!(
                "run {run} {name}: {} req/s p50 {} ms p99 {} ms",
                figures["requests_per_sec"], figures["p50_ms"], figures["p99_ms"]
            );
            runs[i].push(figures);
        }
    }
    for (i, (name, _)) in scenarios.iter().enumerate() {
        results.insert(
            name.to_string(),
            json!({"median": median_run(&runs[i], "requests_per_sec"), "runs": runs[i]}),
        );
    }
    // First matches: existing domains never looked up before (each records its `matched_at`).
    let fresh: Vec<Prepared> = keys
        .fresh_domains
        .iter()
        .map(|d| get(format!("/v1/companies/lookup?domain={}", encode(d))))
        .collect();
    let once = Plan {
        warmup: Duration::ZERO,
        duration: Duration::from_secs(60),
        once: true,
        ..plan.clone()
    };
    let first = measured(&gw, &once, Arc::new(fresh)).await?;
    eprintln!(
        "first matches: {} req/s p99 {} ms",
        first["requests_per_sec"], first["p99_ms"]
    );
    results.insert("companies_lookup_first_match".into(), first);

    let bodies = Arc::new(indicator_bodies(&keys, 2_000, true));
    let open = Plan {
        rate: Some(args.indicator_rate),
        connections: 16.min(args.connections),
        ..plan.clone()
    };
    let mut indicator_runs = Vec::new();
    for run in 0..args.runs {
        let figures = measured(&gw, &open, bodies.clone()).await?;
        eprintln!(
            "run {run} indicators at {}/s: p50 {} ms p99 {} ms",
            args.indicator_rate, figures["p50_ms"], figures["p99_ms"]
        );
        indicator_runs.push(figures);
    }
    results.insert("indicators_open_loop".into(), json!({"rate": args.indicator_rate, "items_per_request": 100, "median": median_run(&indicator_runs, "p99_ms"), "runs": indicator_runs}));
    let closed = measured(
        &gw,
        &Plan {
            connections: 16.min(args.connections),
            ..plan.clone()
        },
        bodies.clone(),
    )
    .await?;
    eprintln!(
        "indicators closed loop: {} req/s p99 {} ms",
        closed["requests_per_sec"], closed["p99_ms"]
    );
    results.insert("indicators_closed_loop".into(), closed);
    let unfiltered = Arc::new(indicator_bodies(&keys, 2_000, false));
    let plain = measured(
        &gw,
        &Plan {
            connections: 16.min(args.connections),
            ..plan.clone()
        },
        unfiltered,
    )
    .await?;
    eprintln!(
        "indicators without filter, closed loop: {} req/s p99 {} ms",
        plain["requests_per_sec"], plain["p99_ms"]
    );
    results.insert("indicators_no_filter_closed_loop".into(), plain);
    let (rss_kib, hwm_kib) = gw.memory_kib();
    gw.stop().await?;

    let result = json!({
        "benchmark": "lookups",
        "machine": machine,
        "portal": {"contacts": args.portal.contacts, "companies": args.portal.companies, "deals": args.portal.deals},
        "mirrored_counts": {"contacts": status["contacts"]["count"], "companies": status["companies"]["count"]},
        "connections": args.connections,
        "duration_secs": args.duration_secs,
        "keys": {"domains": keys.domains.len(), "emails": keys.emails.len(), "missing_share": 0.2},
        "gateway": {"ready_secs": ready_secs, "rss_kib": rss_kib, "rss_peak_kib": hwm_kib, "cache_mb": args.cache_mb.unwrap_or(hubspot_gateway::store::DEFAULT_CACHE_MB)},
        "results": results,
    });
    print(&result);
    report::write(&out, &args.name, &result)?;
    Ok(result)
}

fn print(r: &Value) {
    let mut rows = vec![vec![
        "scenario".into(),
        "req/s".into(),
        "p50 ms".into(),
        "p99 ms".into(),
        "max ms".into(),
        "gateway CPU µs/req".into(),
        "in_crm share".into(),
        "load".into(),
        "statuses".into(),
    ]];
    for (name, entry) in r["results"].as_object().into_iter().flatten() {
        let m = if entry["median"].is_null() {
            entry
        } else {
            &entry["median"]
        };
        rows.push(vec![
            name.clone(),
            m["requests_per_sec"].to_string(),
            m["p50_ms"].to_string(),
            m["p99_ms"].to_string(),
            m["max_ms"].to_string(),
            m["gateway_cpu_us_per_request"].to_string(),
            m["in_crm_share"].to_string(),
            m["load_average_1m"].to_string(),
            m["statuses"].to_string(),
        ]);
    }
    report::table(
        &format!(
            "lookups ({} connections, medians of runs)",
            r["connections"]
        ),
        &rows,
    );
}
