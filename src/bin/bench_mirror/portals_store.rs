//! Where `bench-mirror portals` runs the gateway's store: the sled directory (the default)
//! or, with `--postgres`, a fresh database on a throw-away PostgreSQL server; its size, and
//! the server's CPU.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hubspot_gateway::kit::postgres::Cluster;
use serde_json::{json, Value};

use crate::gateway::{disk_usage, Setup};

/// Where the gateway keeps its state.
pub enum Backend {
    /// The sled store in `Setup::store()`.
    Sled,
    /// A fresh database (`url`) on a server this benchmark started; `url_file` holds the URL
    /// for the config (`store.url = "file:..."`: the child gets no variables of ours).
    Postgres {
        _cluster: Cluster,
        url: String,
        url_file: PathBuf,
    },
}

impl Backend {
    pub async fn start(postgres: bool, dir: &Path) -> anyhow::Result<Backend> {
        if !postgres {
            return Ok(Backend::Sled);
        }
        let cluster = tokio::task::spawn_blocking(Cluster::start).await??;
        let url = cluster.fresh_database().await?;
        let url_file = dir.join("database_url");
        std::fs::write(&url_file, &url)?;
        Ok(Backend::Postgres {
            _cluster: cluster,
            url,
            url_file,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sled => "sled",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The store's size: `{measure, bytes}` (sled: allocated bytes of its directory, with
    /// the apparent size too; PostgreSQL: `pg_database_size` of the gateway's database).
    pub async fn size(&self, setup: &Setup) -> anyhow::Result<Value> {
        match self {
            Backend::Sled => {
                let (apparent, allocated) = disk_usage(&setup.store());
                Ok(json!({
                    "measure": "allocated bytes of the sled directory",
                    "bytes": allocated,
                    "apparent_bytes": apparent,
                }))
            }
            Backend::Postgres { url, .. } => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .context("connecting to the benchmark's database")?;
                let connection = tokio::spawn(connection);
                let row = client
                    .query_one("SELECT pg_database_size(current_database())", &[])
                    .await?;
                let bytes: i64 = row.get(0);
                drop(client);
                let _ = connection.await;
                Ok(json!({"measure": "pg_database_size", "bytes": bytes}))
            }
        }
    }

    /// CPU seconds the PostgreSQL server has used so far (`None` on sled): the postmaster
    /// (a child of this process) with its reaped children, and its live children.
    pub fn server_cpu_secs(&self) -> Option<f64> {
        matches!(self, Backend::Postgres { .. }).then(postgres_cpu_secs)
    }
}

/// utime + stime of the PostgreSQL server: the postmaster (the `postgres` child of this
/// process; its cutime + cstime count the backends that have ended) and its live children.
fn postgres_cpu_secs() -> f64 {
    let stat = |pid: &str| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let (head, rest) = text.rsplit_once(')').unwrap_or_default();
        let comm = head.split_once('(').map_or("", |(_, comm)| comm).to_owned();
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0.0))
            .collect();
        (comm, fields)
    };
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let field = |fields: &[f64], index: usize| fields.get(index).copied().unwrap_or(0.0);
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| name.bytes().all(|byte| byte.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default();
    let stats: Vec<(String, String, Vec<f64>)> = pids
        .into_iter()
        .map(|pid| {
            let (comm, fields) = stat(&pid);
            (pid, comm, fields)
        })
        .collect();
    // Fields after the command name: ppid is 1, utime 11, stime 12, cutime 13, cstime 14.
    let me = f64::from(std::process::id());
    let Some((postmaster, _, fields)) = stats
        .iter()
        .find(|(_, comm, fields)| comm == "postgres" && field(fields, 1) == me)
    else {
        return 0.0;
    };
    let own: f64 = (11..=14).map(|index| field(fields, index)).sum();
    let parent: f64 = postmaster.parse().unwrap_or(-1.0);
    let children: f64 = stats
        .iter()
        .filter(|(_, _, fields)| field(fields, 1) == parent)
        .map(|(_, _, fields)| field(fields, 11) + field(fields, 12))
        .sum();
    (own + children) / hz
}
