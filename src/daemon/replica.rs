//! The store a gateway opens: sled's directory, or the PostgreSQL database shared by the
//! replicas of a deployment, with this replica's lease on it (its role: leading or
//! following). Commands run without a daemon open it here too.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::config::Loaded;
use crate::store::Store;

/// This replica's lease on PostgreSQL: its task and what stops it.
pub(super) struct Lease {
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) stop: CancellationToken,
}

/// How many connections to PostgreSQL one gateway pools (the lease's session is one more):
/// the webhook committer, the sync's writes and the query API's reads at once.
const DATABASE_CONNECTIONS: usize = 16;

/// Opens the store `[store]` describes, upgrading one an older build wrote (its briefs are
/// derived by `ownership::brief`).
pub fn open_store(config: &crate::config::Store) -> crate::store::Result<Store> {
    Store::open_upgrading(&config.path, config.cache_mb, Some(crate::ownership::brief))
}

/// Opens the store on PostgreSQL (upgrading an older schema) and starts this replica's
/// lease; returns them with the replica's id.
pub(super) async fn open(loaded: &Loaded) -> anyhow::Result<(Store, Lease, String)> {
    use crate::store::postgres::{Candidate, Database};
    let url = loaded
        .secrets
        .database_url
        .as_ref()
        .context("no store.url")?;
    let database = Database::new(url.expose(), DATABASE_CONNECTIONS, ca_file(loaded))?;
    let replica = replica_id();
    let (role, roles) = tokio::sync::watch::channel(crate::store::Role::Following);
    let store = Store::open_postgres(database.clone(), &replica, roles)
        .context("opening the PostgreSQL store")?;
    let stop = CancellationToken::new();
    let candidate = Candidate::new(database, replica.clone());
    let task = tokio::spawn(candidate.run(role, stop.clone()));
    Ok((store, Lease { task, stop }, replica))
}

/// `store.ca_file`: what the database's certificate must chain to (with `sslmode=require`).
pub(super) fn ca_file(loaded: &Loaded) -> Option<&std::path::Path> {
    loaded.config.store.ca_file.as_deref()
}

/// This replica's name in the lease and in `GET /v1/status`: the host and the process (and,
/// from a process's second gateway on, as in tests, which one).
fn replica_id() -> String {
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let process = std::process::id();
    match STARTED.fetch_add(1, Ordering::Relaxed) {
        0 => format!("{host}/{process}"),
        nth => format!("{host}/{process}.{nth}"),
    }
}

/// A store a command opened itself (no daemon answered), and on PostgreSQL the lease it
/// holds while it runs (released when this is dropped).
pub struct Opened {
    pub store: Store,
    lease: Option<Lease>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.stop.cancel();
        }
    }
}

/// How long a command waits for the lease before it says that another gateway leads.
const COMMAND_LEASE_WAIT: Duration = Duration::from_secs(5);

/// The store for a command run while no daemon answers: sled's directory (which this process
/// then holds alone), or the PostgreSQL database. A command that `leads` (it syncs, exports
/// or subscribes) takes the lease first, as a replica would, and refuses to run while
/// another gateway holds it.
pub async fn open_for_command(loaded: &Loaded, leads: bool) -> anyhow::Result<Opened> {
    let config = &loaded.config.store;
    if config.backend == crate::config::Backend::Sled {
        let store = open_store(config)
            .with_context(|| format!("opening the store at {}", config.path.display()))?;
        return Ok(Opened { store, lease: None });
    }
    let (store, lease, replica) = open(loaded).await?;
    let opened = Opened {
        store,
        lease: Some(lease),
    };
    if leads {
        let mut roles = opened
            .store
            .roles()
            .context("a PostgreSQL store has roles")?;
        let leading = roles.wait_for(|role| matches!(role, crate::store::Role::Leading { .. }));
        if tokio::time::timeout(COMMAND_LEASE_WAIT, leading)
            .await
            .is_err()
        {
            anyhow::bail!(
                "another gateway leads on this database (this command, as {replica}, waited \
                 {} s for the lease): ask the leader through its API (`server.listen` of its \
                 config), or stop it",
                COMMAND_LEASE_WAIT.as_secs()
            );
        }
    }
    Ok(opened)
}
