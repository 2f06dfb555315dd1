//! bench-backends: the store's operations on sled and on PostgreSQL, in one run, below HTTP.
//! The PostgreSQL server is a throw-away cluster (`kit::postgres`) on this machine with its
//! default settings (fsync on); each run gets a fresh database and a fresh sled store.
//!
//! - `bench-backends inbox [--seconds N] [--runs N] [--group REQUESTS]`: appends groups of
//!   REQUESTS requests of 100 webhook events each (every event new), one group after another
//!   as the daemon's committer does, for N seconds on sled (`Store::store_events` then
//!   `Store::acknowledge`: group commit, fdatasync, ledger), on PostgreSQL with one
//!   committer (`store::postgres::Inbox`: one `INSERT` and one commit per group) and with two
//!   committers, each with its own pool (two replicas). Then, on sled and on the one-committer
//!   database, the leader's reading: windows of 2,000 events read and marked applied until
//!   none is left, as the webhook consumer does without applying them to a mirror (on
//!   PostgreSQL this is where redeliveries are dropped and events recorded for detecting them).
//! - `bench-backends mirror [--contacts N] [--seconds N] [--runs N]`: fills each mirror with N
//!   contacts (about 40 properties each, in writes of 100 records as a backfill page), then
//!   looks up random contacts by email from two tasks for N seconds, then removes the portal
//!   (`Store::erase_portal`); prints records/s of the fill, bytes per record, lookups/s and
//!   their p50/p99, and records/s of the erase.
//! - `bench-backends failover [--kills N] [--replicas N]`: replicas as processes campaign for
//!   the leader lease; the leader is killed with SIGKILL N times; the time from each kill to
//!   another replica leading (p50, p99, max). PostgreSQL only: sled has one process.
//! - `bench-backends cluster [--databases N]`: for scripts (`scripts/bench-replicas`):
//!   starts a throw-away cluster, prints the URL of each of N fresh databases (default 1),
//!   one a line, then waits until its stdin is closed or SIGTERM comes; the cluster stops
//!   with it.
//!
//! - `bench-backends sled-rows [--contacts N] [--runs N]`: a backfill's mirror write on sled
//!   against the same rows written with less around them (see `bench_backends/rows.rs`).
//!
//! Each benchmark prints one line per run and backend, then the medians as JSON on the last
//! line. The allocator and page settings are the daemon's (`src/main.rs`), so that CPU
//! figures compare with its.

#[path = "bench_backends/cluster.rs"]
mod cluster;
#[path = "bench_backends/failover.rs"]
mod failover;
#[path = "bench_backends/inbox.rs"]
mod inbox;
#[path = "bench_backends/mirror.rs"]
mod mirror;
#[path = "bench_backends/rows.rs"]
mod rows;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The value after `name` on the command line, else `default`.
pub(crate) fn argument(name: &str, default: u64) -> anyhow::Result<u64> {
    let arguments: Vec<String> = std::env::args().collect();
    match arguments.iter().position(|argument| argument == name) {
        Some(at) => Ok(arguments
            .get(at + 1)
            .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hubspot_gateway::store::use_regular_pages();
    match std::env::args().nth(1).as_deref() {
        Some("inbox") => inbox::run().await,
        Some("mirror") => mirror::run().await,
        Some("failover") => failover::run().await,
        Some("candidate") => failover::candidate().await,
        Some("cluster") => cluster::run().await,
        Some("sled-rows") => rows::run().await,
        _ => anyhow::bail!(
            "usage: bench-backends inbox|mirror|sled-rows|failover|cluster [options] (see its \
             source's doc)"
        ),
    }
}
