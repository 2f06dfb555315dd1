//! Export benchmark: N new contacts exported through the real gateway
//! binary into an in-process simulator at its default rate limit (190 calls / 10 s). API calls
//! during the job vs the minimum (⌈N/100⌉ batch creates; validation uses the property
//! definitions mirrored at connect, so it needs no call), wall time vs what the rate limit
//! allows, and a dry run of the same N records over HTTP. Median of `--runs` runs, each on a
//! fresh simulator and store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hubspot_gateway::export::job::{Effect, State};
use hubspot_gateway::sim::{self, ObjectType, SimConfig};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::portal::parse_rate_limit;
use crate::report::{self, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// New contacts per job.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// The simulator's limit as MAX/SECONDS (its default: HubSpot's 190 per 10 s).
    #[arg(long, default_value = "190/10")]
    pub rate_limit: String,
    /// Size of the portal mirrored before the export (contacts; companies a third of it).
    #[arg(long, default_value_t = 2_000)]
    pub contacts: usize,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Result name: `target/bench/NAME.json`.
    #[arg(long, default_value = "export")]
    pub name: String,
}

const CREATE: &str = "POST /crm/v3/objects/{type}/batch/create";
const SEARCH: &str = "POST /crm/v3/objects/{type}/search";

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    let mut runs = Vec::new();
    for run in 0..args.runs {
        let result = one_run(&binary, &out, &args, run).await?;
        eprintln!("run {run}: {result}");
        runs.push(result);
    }
    let limit = parse_rate_limit(&args.rate_limit)?;
    let median = report::median_run(&runs, "wall_secs");
    let result = json!({
        "benchmark": "export",
        "machine": machine,
        "records": args.records,
        "rate_limit": {"max": limit.max, "interval_ms": limit.interval_ms},
        "portal_contacts": args.contacts,
        "runs": runs,
        "median": median,
    });
    print(&result);
    report::write(&out, &args.name, &result)?;
    Ok(result)
}

fn contacts(records: usize, run: usize) -> Vec<Value> {
    (0..records)
        .map(|i| {
            json!({"ref": format!("r{i}"), "fields": {
                "email": format!("new{i}.run{run}@export-bench.example"),
                "first_name": format!("First{i}"), "last_name": format!("Last{i}"),
                "company": format!("Bench Co {}", i % 500), "job_title": "Buyer"}})
        })
        .collect()
}

async fn one_run(
    binary: &std::path::Path,
    out: &std::path::Path,
    args: &Args,
    run: usize,
) -> anyhow::Result<Value> {
    let limit = parse_rate_limit(&args.rate_limit)?;
    let config = SimConfig {
        owners: 20,
        contacts: args.contacts,
        companies: args.contacts / 3,
        deals: args.contacts / 10,
        tasks: 100,
        rate_limit: Some(limit),
        access_token: gateway::ACCESS_TOKEN.into(),
        ..SimConfig::default()
    };
    let sim = sim::start(config, "127.0.0.1:0".parse()?).await?;
    let dir = out.join(format!("{}-run{run}", args.name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let setup = Setup {
        binary: binary.to_path_buf(),
        dir,
        port: gateway::free_port(),
        api_base: sim.base_url(),
        sync: true,
        journal_poll_ms: None,
    };
    // A job is one body: 10,000 contacts are ~1.6 MB.
    let gw = Gateway::start_with(&setup, "export.log", Duration::from_secs(60), |config| {
        config.server.max_body_bytes = 16 << 20
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = gw.status().await.unwrap_or(Value::Null);
        let done = ObjectType::ALL.iter().all(|kind| {
            let entry = &status[kind.name()];
            !entry["last_full_sync"].is_null() && entry["backfill_in_progress"] == false
        });
        if done {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "backfill did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the backfill's calls leave the rolling window: the export starts with the window
    // as empty as a quiet gateway's.
    tokio::time::sleep(Duration::from_millis(limit.interval_ms + 500)).await;
    let records = contacts(args.records, run);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let post = |body: Value| {
        http.post(format!("{}/v1/exports", gw.base))
            .bearer_auth(gateway::ADMIN_TOKEN)
            .json(&body)
            .send()
    };
    // Dry run first (it writes nothing): the same records against the mirror, over HTTP.
    let dry_started = Instant::now();
    let response = post(
        json!({"type": "contacts", "user_email": "seller@bench.example",
                               "dry_run": true, "records": records}),
    )
    .await?;
    let dry_status = response.status().as_u16();
    let plan: Value = response.json().await?;
    let dry_ms = dry_started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(dry_status == 200, "dry run answered {dry_status}: {plan}");
    let planned_creates = plan["results"].as_array().map_or(0, |r| {
        let created = |r: &&Value| r["action"].as_str().and_then(Effect::parse);
        r.iter()
            .filter(|r| created(r) == Some(Effect::Created))
            .count()
    });

    let before = sim.stats();
    let started = Instant::now();
    let response = post(
        json!({"type": "contacts", "user_email": "seller@bench.example",
                               "records": records}),
    )
    .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 202, "export answered {status}: {body}");
    let id = body["export_id"].as_str().unwrap_or_default().to_owned();
    let job = loop {
        let response = http
            .get(format!("{}/v1/exports/{id}", gw.base))
            .bearer_auth(gateway::ADMIN_TOKEN)
            .send()
            .await?;
        let job: Value = response.json().await?;
        if job["state"]
            .as_str()
            .and_then(State::parse)
            .is_some_and(State::is_finished)
        {
            break job;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "export not done in 600 s: {}",
            job["created"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed().as_secs_f64();
    let after = sim.stats();
    gw.stop().await?;
    sim.shutdown().await;

    let mut spent: BTreeMap<String, u64> = BTreeMap::new();
    for (endpoint, count) in &after.calls {
        let delta = count - before.calls.get(endpoint).copied().unwrap_or(0);
        if delta > 0 {
            spent.insert(endpoint.clone(), delta);
        }
    }
    // Search has its own bucket (the sync's polling); everything else shares the limit.
    let general: u64 = spent
        .iter()
        .filter(|(endpoint, _)| endpoint.as_str() != SEARCH)
        .map(|(_, count)| count)
        .sum();
    let minimum = args.records.div_ceil(100) as u64;
    let allowed_per_sec = f64::from(limit.max) / (limit.interval_ms as f64 / 1000.0);
    let ideal = minimum as f64 / allowed_per_sec;
    Ok(json!({
        "run": run,
        "state": job["state"],
        "created": job["created"],
        "failed": job["failed"],
        "dry_run_ms": round3(dry_ms),
        "dry_run_planned_creates": planned_creates,
        "wall_secs": round3(wall),
        "calls": spent,
        "creates": spent.get(CREATE).copied().unwrap_or(0),
        "general_calls": general,
        "minimum_calls": minimum,
        "ratio_to_minimum": round3(general as f64 / minimum as f64),
        "ideal_secs_at_limit": round3(ideal),
        "wall_vs_ideal": round3(wall / ideal),
        "rate_limited_429": after.rate_limited - before.rate_limited,
        "load_average_1m": crate::machine::load_average(),
    }))
}

fn print(r: &Value) {
    let mut rows = vec![vec![
        "run".into(),
        "state".into(),
        "created".into(),
        "wall s".into(),
        "ideal s".into(),
        "wall/ideal".into(),
        "calls (non-search)".into(),
        "minimum".into(),
        "ratio".into(),
        "429s".into(),
        "dry run ms".into(),
        "load".into(),
    ]];
    for run in r["runs"].as_array().into_iter().flatten() {
        rows.push(vec![
            run["run"].to_string(),
            run["state"].to_string(),
            run["created"].to_string(),
            run["wall_secs"].to_string(),
            run["ideal_secs_at_limit"].to_string(),
            run["wall_vs_ideal"].to_string(),
            run["general_calls"].to_string(),
            run["minimum_calls"].to_string(),
            run["ratio_to_minimum"].to_string(),
            run["rate_limited_429"].to_string(),
            run["dry_run_ms"].to_string(),
            run["load_average_1m"].to_string(),
        ]);
    }
    report::table("export (median run by wall time is in the JSON)", &rows);
}
