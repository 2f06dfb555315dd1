//! `bench-mirror`: benchmarks of the mirror (backfill, freshness), the lookup API and export,
//! run against the real `hubspot-gateway serve` binary and an in-process `hubspot-sim`; prints
//! tables and writes `target/bench/*.json`. `scripts/bench-mirror` runs the whole set;
//! docs/bench/ describes each benchmark.

#[path = "bench_mirror/backfill.rs"]
mod backfill;
#[path = "bench_mirror/catchup.rs"]
mod catchup;
#[path = "bench_mirror/export.rs"]
mod export;
#[path = "bench_mirror/freshness.rs"]
mod freshness;
#[path = "bench_mirror/gateway.rs"]
mod gateway;
#[path = "bench_mirror/load.rs"]
mod load;
#[path = "bench_mirror/lookup_keys.rs"]
mod lookup_keys;
#[path = "bench_mirror/lookups.rs"]
mod lookups;
#[path = "bench_mirror/machine.rs"]
mod machine;
#[path = "bench_mirror/notify.rs"]
mod notify;
#[path = "bench_mirror/notify_delivery.rs"]
mod notify_delivery;
#[path = "bench_mirror/notify_ingest.rs"]
mod notify_ingest;
#[path = "bench_mirror/notify_receiver.rs"]
mod notify_receiver;
#[path = "bench_mirror/pages.rs"]
mod pages;
#[path = "bench_mirror/portal.rs"]
mod portal;
#[path = "bench_mirror/portals.rs"]
mod portals;
#[path = "bench_mirror/portals_removal.rs"]
mod portals_removal;
#[path = "bench_mirror/portals_store.rs"]
mod portals_store;
#[path = "bench_mirror/portals_table.rs"]
mod portals_table;
#[path = "bench_mirror/report.rs"]
mod report;
#[path = "bench_mirror/simulator.rs"]
mod simulator;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmarks of hubspot-gateway's mirror and lookup API.
#[derive(Parser)]
struct Cli {
    /// The gateway binary to run (a release build).
    #[arg(long, default_value = "target/release/hubspot-gateway")]
    gateway: PathBuf,
    /// Where results (JSON) and stores go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Tokio worker threads of this process (the simulator, pollers, load generator).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Backfill from scratch: wall time, API calls vs minimum, pacing, footprint, restarts.
    Backfill(backfill::Args),
    /// N new contacts exported at the simulator's rate limit: calls, wall time, dry run.
    Export(export::Args),
    /// Mutation → visible through webhooks, after a backfill.
    Freshness(freshness::Args),
    /// A journal-only gateway stopped for hours of mutations, then started: catch-up time, calls.
    JournalCatchup(catchup::Args),
    /// Lookup and indicator throughput/latency on a backfilled store, vs `/healthz`.
    Lookups(lookups::Args),
    /// Notifications: change → arrival latency, backlog throughput, ingest with a dead target.
    Notify(notify::Args),
    /// Where a backfill page's time goes (list, associations, store write), in-process.
    Pages(pages::Args),
    /// Many portals in one deployment: Connect each, backfill, idle footprint, restart,
    /// removal (`--postgres`: on a throw-away PostgreSQL database).
    Portals(portals::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench-mirror: {error}");
            return ExitCode::from(1);
        }
    };
    let (gateway, out) = (cli.gateway, cli.out);
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Backfill(args) => backfill::run(gateway, out, args).await,
            Command::Export(args) => export::run(gateway, out, args).await,
            Command::Freshness(args) => freshness::run(gateway, out, args).await,
            Command::JournalCatchup(args) => catchup::run(gateway, out, args).await,
            Command::Lookups(args) => lookups::run(gateway, out, args).await,
            Command::Notify(args) => notify::run(gateway, out, args).await,
            Command::Pages(args) => pages::run(out, args).await,
            Command::Portals(args) => portals::run(gateway, out, args).await,
        }
    });
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-mirror: {error:#}");
            ExitCode::from(1)
        }
    }
}
