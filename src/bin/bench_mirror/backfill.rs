//! Backfill benchmark: an in-process simulated portal, the real gateway binary mirroring it
//! from scratch; wall time, API calls vs the minimum the page sizes allow, pacing under a
//! rate limit, and the footprint afterwards (RSS, store on disk, start-to-ready on restart).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hubspot_gateway::sim::ObjectType;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, disk_usage, Gateway, Setup};
use crate::portal::{classify, minimum_calls, parse_rate_limit, Portal};
use crate::report::{self, mib, round3};
use crate::simulator::Simulator;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub portal: Portal,
    /// The simulator's limit as MAX/SECONDS; the default is high enough never to bind, and
    /// still sends the headers the client paces by.
    #[arg(long, default_value = "1000000/10")]
    pub rate_limit: String,
    /// Result name: `target/bench/NAME.json`, store in `target/bench/NAME/store`.
    #[arg(long, default_value = "backfill")]
    pub name: String,
    /// Restarts on the finished store to time start-to-ready.
    #[arg(long, default_value_t = 3)]
    pub restarts: usize,
    /// Give up after this long.
    #[arg(long, default_value_t = 1800)]
    pub timeout_secs: u64,
    /// Backfills from scratch; the result is the median run by wall time (the store left
    /// behind is the last run's).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Run this `hubspot-sim` binary as a process of its own instead of the simulator in
    /// this process (e.g. `target/release/hubspot-sim`).
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// The gateway's `store.cache_mb` (sled's cache), else the default.
    #[arg(long)]
    pub cache_mb: Option<u64>,
    /// After each restart, how long the idle gateway is watched (RSS each second, CPU); on
    /// a large store sled's segment cleaner saws RSS up and down over about a minute.
    #[arg(long, default_value_t = 60)]
    pub idle_secs: u64,
}

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let runs = report::repeat("backfill", args.runs, || {
        run_once(binary.clone(), &out, &args)
    })
    .await?;
    let result = report::median_of(
        runs,
        "/wall_secs",
        &[
            "/wall_secs",
            "/records_per_sec",
            "/gateway_cpu/secs",
            "/gateway_cpu/us_per_record",
            "/calls/ratio_to_minimum",
            "/calls/rate_limited_429",
            "/pacing/fraction_of_allowed_records_per_sec",
            "/footprint/rss_after_backfill_kib",
            "/footprint/store_allocated_bytes",
            "/footprint/ready_secs_median",
            "/machine/load_average_1m",
        ],
    );
    report::write(&out, &args.name, &result)?;
    Ok(result)
}

async fn run_once(binary: PathBuf, out: &std::path::Path, args: &Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    let limit = parse_rate_limit(&args.rate_limit)?;
    let mut sim = Simulator::start(args.sim.clone(), &args.portal, &args.rate_limit).await?;
    let dir = out.join(&args.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let setup = Setup {
        binary,
        dir,
        port: gateway::free_port(),
        api_base: sim.base_url(),
        sync: true,
        journal_poll_ms: None,
    };
    let started = Instant::now();
    let cache = gateway::cache_of(args.cache_mb);
    let gw = Gateway::start_with(&setup, "backfill.log", Duration::from_secs(60), cache).await?;
    let empty_ready = gw.ready_after;
    let mut done: BTreeMap<&str, f64> = BTreeMap::new();
    let mut progress = Vec::new();
    let mut last_print = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut peak_rss = 0;
    loop {
        let status = gw.status().await.unwrap_or(Value::Null);
        for kind in ObjectType::ALL {
            let entry = &status[kind.name()];
            if !entry["last_full_sync"].is_null() && entry["backfill_in_progress"] == false {
                done.entry(kind.name())
                    .or_insert(started.elapsed().as_secs_f64());
            }
        }
        peak_rss = peak_rss.max(gw.memory_kib().0);
        if last_print.elapsed() >= Duration::from_secs(10) || done.len() == 4 {
            last_print = Instant::now();
            let counts: BTreeMap<&str, u64> = ObjectType::ALL
                .iter()
                .map(|kind| {
                    (
                        kind.name(),
                        status[kind.name()]["count"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            let calls: u64 = sim.counts().await?.calls.values().sum();
            let secs = round3(started.elapsed().as_secs_f64());
            eprintln!(
                "[{secs:>7.1} s] mirrored {counts:?}, {calls} API calls, rss {} MiB, load {}",
                gw.memory_kib().0 / 1024,
                crate::machine::load_average()
            );
            let load = crate::machine::load_average();
            progress.push(json!({"secs": secs, "counts": counts, "calls": calls, "rss_kib": gw.memory_kib().0, "load_average_1m": load}));
        }
        if done.len() == 4 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "backfill did not finish within {} s",
            args.timeout_secs
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    // The daemon's own CPU (start-up and the backfill); the simulator's process apart.
    let gateway_cpu = gw.cpu_secs();
    let sim_cpu = sim.cpu_secs();
    let stats = sim.counts().await?;
    let status = gw.status().await?;
    let (rss_kib, hwm_kib) = gw.memory_kib();
    let running_disk = disk_usage(&setup.store());
    let stop_secs = gw.stop().await?.as_secs_f64();
    let disk = disk_usage(&setup.store());

    let mut restarts = Vec::new();
    for i in 0..args.restarts {
        let gw = Gateway::start_with(
            &setup,
            &format!("restart-{i}.log"),
            Duration::from_secs(300),
            cache,
        )
        .await?;
        let ready = gw.ready_after.as_secs_f64();
        let (highest, last, cpu) = gw.idle(Duration::from_secs(args.idle_secs)).await;
        gw.stop().await?;
        restarts.push(json!({
            "ready_secs": round3(ready),
            "idle_secs": args.idle_secs,
            "idle_rss_max_kib": highest,
            "idle_rss_last_kib": last,
            "idle_cpu_secs": round3(cpu),
        }));
    }
    let ready_values: Vec<f64> = restarts
        .iter()
        .map(|r| r["ready_secs"].as_f64().unwrap_or(0.0))
        .collect();
    sim.shutdown().await;

    let classes = classify(&stats.calls);
    let (min_list, min_assoc) = minimum_calls(&args.portal);
    let reference = classes.get("reference").copied().unwrap_or(0);
    let backfill_calls = classes.get("list").copied().unwrap_or(0)
        + classes.get("associations").copied().unwrap_or(0)
        + classes.get("batch_read").copied().unwrap_or(0)
        + reference;
    let minimum = min_list + min_assoc + reference;
    let records = args.portal.records() as f64;
    let allowed_calls_per_sec = f64::from(limit.max) / (limit.interval_ms as f64 / 1000.0);
    let ideal_secs = minimum as f64 / allowed_calls_per_sec;
    let counts: BTreeMap<&str, u64> = ObjectType::ALL
        .iter()
        .map(|kind| {
            (
                kind.name(),
                status[kind.name()]["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let result = json!({
        "benchmark": "backfill",
        "machine": machine,
        "portal": {
            "contacts": args.portal.contacts, "companies": args.portal.companies,
            "deals": args.portal.deals, "tasks": args.portal.tasks, "owners": args.portal.owners,
            "records": args.portal.records(),
        },
        "rate_limit": {"max": limit.max, "interval_ms": limit.interval_ms},
        "wall_secs": round3(wall),
        "type_done_at_secs": done,
        "records_per_sec": round3(records / wall),
        "gateway_cpu": {
            "secs": round3(gateway_cpu),
            "us_per_record": round3(gateway_cpu * 1e6 / records),
            "share_of_one_core": round3(gateway_cpu / wall),
        },
        "simulator": {
            "own_process": args.sim.is_some(),
            "cpu_secs": sim_cpu.map(round3),
        },
        "mirrored_counts": counts,
        "calls": {
            "by_endpoint": stats.calls,
            "by_class": classes,
            "statuses": stats.statuses,
            "rate_limited_429": stats.rate_limited,
            "backfill_calls": backfill_calls,
            "minimum": {"list": min_list, "associations": min_assoc, "reference": reference, "total": minimum},
            "ratio_to_minimum": round3(backfill_calls as f64 / minimum as f64),
            "calls_per_record": round3(backfill_calls as f64 / records),
            "minimum_calls_per_record": round3(minimum as f64 / records),
            "share_429": round3(stats.rate_limited as f64 / stats.calls.values().sum::<u64>().max(1) as f64),
        },
        "pacing": {
            "allowed_calls_per_sec": allowed_calls_per_sec,
            "achieved_calls_per_sec": round3(stats.calls.values().sum::<u64>() as f64 / wall),
            "ideal_secs_at_limit": round3(ideal_secs),
            "fraction_of_allowed_records_per_sec": round3(ideal_secs / wall),
        },
        "footprint": {
            "cache_mb": args.cache_mb.unwrap_or(hubspot_gateway::store::DEFAULT_CACHE_MB),
            "rss_after_backfill_kib": rss_kib,
            "rss_peak_kib": hwm_kib.max(peak_rss),
            "store_apparent_bytes_running": running_disk.0,
            "store_apparent_bytes": disk.0,
            "store_allocated_bytes": disk.1,
            "store_bytes_per_record": round3(disk.1 as f64 / records),
            "ready_secs_empty_store": round3(empty_ready.as_secs_f64()),
            "restarts": restarts,
            "ready_secs_median": report::median(&ready_values),
            "stop_secs": round3(stop_secs),
        },
        "progress": progress,
    });
    print(&result);
    Ok(result)
}

fn print(r: &Value) {
    let c = &r["calls"];
    let f = &r["footprint"];
    let p = &r["pacing"];
    let rows = vec![
        vec!["figure".into(), "value".into()],
        vec!["portal".into(), r["portal"].to_string()],
        vec![
            "rate limit".into(),
            format!(
                "{}/{} ms",
                r["rate_limit"]["max"], r["rate_limit"]["interval_ms"]
            ),
        ],
        vec![
            "wall time".into(),
            format!(
                "{} s (types done at {})",
                r["wall_secs"], r["type_done_at_secs"]
            ),
        ],
        vec!["records/s".into(), r["records_per_sec"].to_string()],
        vec![
            "gateway CPU".into(),
            format!(
                "{} s = {} µs per record ({} of one core); simulator {} s",
                r["gateway_cpu"]["secs"],
                r["gateway_cpu"]["us_per_record"],
                r["gateway_cpu"]["share_of_one_core"],
                r["simulator"]["cpu_secs"]
            ),
        ],
        vec![
            "load average (1 min, at start)".into(),
            r["machine"]["load_average_1m"].to_string(),
        ],
        vec!["calls by class".into(), c["by_class"].to_string()],
        vec![
            "calls / minimum".into(),
            format!(
                "{} / {} = {}x",
                c["backfill_calls"], c["minimum"]["total"], c["ratio_to_minimum"]
            ),
        ],
        vec![
            "calls per record".into(),
            format!(
                "{} (minimum {})",
                c["calls_per_record"], c["minimum_calls_per_record"]
            ),
        ],
        vec![
            "429s".into(),
            format!("{} ({} of calls)", c["rate_limited_429"], c["share_429"]),
        ],
        vec![
            "pacing".into(),
            format!(
                "{} calls/s achieved vs {} allowed; {} of the allowed records/s",
                p["achieved_calls_per_sec"],
                p["allowed_calls_per_sec"],
                p["fraction_of_allowed_records_per_sec"]
            ),
        ],
        vec![
            "RSS after backfill / peak".into(),
            format!(
                "{} / {} MiB",
                f["rss_after_backfill_kib"].as_u64().unwrap_or(0) / 1024,
                f["rss_peak_kib"].as_u64().unwrap_or(0) / 1024
            ),
        ],
        vec![
            "store on disk".into(),
            format!(
                "{} allocated ({} B/record)",
                mib(f["store_allocated_bytes"].as_u64().unwrap_or(0)),
                f["store_bytes_per_record"]
            ),
        ],
        vec![
            "start to ready".into(),
            format!(
                "empty {} s; on the store {} s median of {}",
                f["ready_secs_empty_store"], f["ready_secs_median"], f["restarts"]
            ),
        ],
    ];
    report::table("backfill", &rows);
}
