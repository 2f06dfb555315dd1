//! The simulator a benchmark runs against: inside the benchmark process (counters read
//! directly) or the `hubspot-sim` binary as a process of its own (counters from
//! `GET /_sim/stats`), so that the simulator's work never shares a process, nor a CPU figure,
//! with the load generator's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use hubspot_gateway::kit::cpu_secs_of;
use hubspot_gateway::sim::{self, SimHandle};
use serde_json::Value;
use tokio::time::Instant;

use crate::gateway;
use crate::portal::Portal;

/// What the simulator served: calls per endpoint and the 429s among them.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub calls: BTreeMap<String, u64>,
    pub statuses: BTreeMap<String, u64>,
    pub rate_limited: u64,
}

pub enum Simulator {
    InProcess(SimHandle),
    Process(SimProcess),
}

/// A `hubspot-sim` child process, killed when dropped (also on a benchmark's error path).
pub struct SimProcess {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Simulator {
    /// `binary`: run that `hubspot-sim` as a child process; `None`: in this process.
    pub async fn start(
        binary: Option<PathBuf>,
        portal: &Portal,
        rate_limit: &str,
    ) -> anyhow::Result<Simulator> {
        let limit = crate::portal::parse_rate_limit(rate_limit)?;
        let Some(binary) = binary else {
            let handle = sim::start(portal.sim_config(limit), "127.0.0.1:0".parse()?).await?;
            return Ok(Simulator::InProcess(handle));
        };
        let port = gateway::free_port();
        let search = sim::SimConfig::default()
            .search_rate_limit
            .map_or("none".to_string(), |limit| {
                format!("{}/{}", limit.max, limit.interval_ms / 1000)
            });
        let child = Command::new(&binary)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--seed", &portal.seed.to_string()])
            .args(["--owners", &portal.owners.to_string()])
            .args(["--contacts", &portal.contacts.to_string()])
            .args(["--companies", &portal.companies.to_string()])
            .args(["--deals", &portal.deals.to_string()])
            .args(["--tasks", &portal.tasks.to_string()])
            .args(["--rate-limit", rate_limit])
            .args(["--search-rate-limit", &search])
            .args(["--access-token", gateway::ACCESS_TOKEN])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let mut simulator = Simulator::Process(SimProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        while simulator.counts().await.is_err() {
            if Instant::now() > deadline {
                bail!("{} did not answer within 120 s", binary.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(simulator)
    }

    pub fn base_url(&self) -> String {
        match self {
            Simulator::InProcess(handle) => handle.base_url(),
            Simulator::Process(process) => process.base.clone(),
        }
    }

    pub async fn counts(&mut self) -> anyhow::Result<Counts> {
        let stats = match self {
            Simulator::InProcess(handle) => serde_json::to_value(handle.stats())?,
            Simulator::Process(process) => {
                if let Some(status) = process.child.try_wait()? {
                    bail!("hubspot-sim exited ({status})");
                }
                let url = format!("{}/_sim/stats", process.base);
                let response = process.http.get(url).send().await?;
                response.error_for_status()?.json::<Value>().await?
            }
        };
        let map = |value: &Value| -> BTreeMap<String, u64> {
            value.as_object().map_or_else(BTreeMap::new, |object| {
                object
                    .iter()
                    .map(|(key, count)| (key.clone(), count.as_u64().unwrap_or(0)))
                    .collect()
            })
        };
        Ok(Counts {
            calls: map(&stats["calls"]),
            statuses: map(&stats["statuses"]),
            rate_limited: stats["rate_limited"].as_u64().unwrap_or(0),
        })
    }

    /// CPU seconds of the simulator's own process; `None` in this process.
    pub fn cpu_secs(&self) -> Option<f64> {
        match self {
            Simulator::InProcess(_) => None,
            Simulator::Process(process) => {
                Some(cpu_secs_of(&format!("/proc/{}/stat", process.child.id())))
            }
        }
    }

    pub async fn shutdown(self) {
        match self {
            Simulator::InProcess(handle) => handle.shutdown().await,
            Simulator::Process(process) => drop(process),
        }
    }
}
