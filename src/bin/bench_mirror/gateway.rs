//! The real `hubspot-gateway serve` binary as a child process: its config, start until
//! `/readyz` answers 200, RSS from /proc, disk usage of its store, and a clean stop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use hubspot_gateway::config::{Config, Scope, SecretRef};
use hubspot_gateway::kit::{cpu_secs_of, GatewayConfig};
use serde_json::Value;
use tokio::time::Instant;

pub const CLIENT_SECRET: &str = "bench-client-secret";
pub const ACCESS_TOKEN: &str = "pat-na1-bench";
pub const READ_TOKEN: &str = "bench-read-token";
pub const ADMIN_TOKEN: &str = "bench-admin-token";

/// How one gateway process is configured.
#[derive(Debug, Clone)]
pub struct Setup {
    pub binary: PathBuf,
    /// Holds config.toml and the logs; the store is `dir/store`.
    pub dir: PathBuf,
    pub port: u16,
    pub api_base: String,
    pub sync: bool,
    /// Read the simulator's Webhooks Journal, polling every this many ms while caught up.
    pub journal_poll_ms: Option<u64>,
}

impl Setup {
    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The config: the simulator's API, sync polling every 5 minutes, no reconciliation,
    /// the journal when asked for, a read and an admin token; then `tune`'s changes.
    fn config_text(&self, tune: impl FnOnce(&mut Config)) -> String {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut gateway = GatewayConfig::new(&listen, self.base_url(), &self.store())
            .token("reader", "env:BENCH_READ_TOKEN", Scope::Read)
            .token("operator", "env:BENCH_ADMIN_TOKEN", Scope::Admin);
        let config = &mut gateway.config;
        config.hubspot.api_base = self.api_base.clone();
        config.hubspot.client_secret = Some(SecretRef::new("env:BENCH_CLIENT_SECRET"));
        config.hubspot.access_token = Some(SecretRef::new("env:BENCH_ACCESS_TOKEN"));
        config.hubspot.max_retry_secs = 120;
        if let Some(ms) = self.journal_poll_ms {
            config.hubspot.client_id = Some(hubspot_gateway::sim::SimConfig::default().client_id);
            config.hubspot.journal.enabled = true;
            config.hubspot.journal.poll_interval_ms = ms;
        }
        config.sync.enabled = self.sync;
        config.sync.poll_interval_secs = 300;
        config.sync.lookback_secs = 5;
        config.sync.reconcile_window_utc = hubspot_gateway::kit::far_reconcile_window_utc();
        tune(config);
        gateway.text()
    }
}

/// A running gateway process.
pub struct Gateway {
    child: Child,
    pub pid: u32,
    pub base: String,
    /// From spawn to the first 200 from `/readyz`.
    pub ready_after: Duration,
    pub http: reqwest::Client,
}

pub use hubspot_gateway::kit::free_port;

/// A `tune` for [`Gateway::start_with`]: sled's cache (`store.cache_mb`) at `cache_mb` MiB
/// when given, else the config's default.
pub fn cache_of(cache_mb: Option<u64>) -> impl Fn(&mut Config) + Copy {
    move |config| {
        if let Some(mb) = cache_mb {
            config.store.cache_mb = mb;
        }
    }
}

impl Gateway {
    /// Spawns the binary and waits (≤ `within`) until it is ready; `log` names its stderr file.
    pub async fn start(setup: &Setup, log: &str, within: Duration) -> anyhow::Result<Gateway> {
        Self::start_with(setup, log, within, |_| {}).await
    }

    /// Like `start`, with `tune`'s changes to the config.
    pub async fn start_with(
        setup: &Setup,
        log: &str,
        within: Duration,
        tune: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Gateway> {
        std::fs::create_dir_all(&setup.dir)?;
        let config = setup.dir.join("config.toml");
        std::fs::write(&config, setup.config_text(tune))?;
        let log_file = std::fs::File::create(setup.dir.join(log))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let base = setup.base_url();
        let spawned = Instant::now();
        let child = Command::new(&setup.binary)
            .args(["--log-format", "json", "--config"])
            .arg(&config)
            .arg("serve")
            .env("BENCH_CLIENT_SECRET", CLIENT_SECRET)
            .env("BENCH_ACCESS_TOKEN", ACCESS_TOKEN)
            .env("BENCH_READ_TOKEN", READ_TOKEN)
            .env("BENCH_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("spawning {}", setup.binary.display()))?;
        let mut gateway = Gateway {
            pid: child.id(),
            child,
            base,
            ready_after: Duration::ZERO,
            http,
        };
        let deadline = spawned + within;
        loop {
            if let Some(status) = gateway.child.try_wait()? {
                bail!("the gateway exited during start-up ({status}); see {log}");
            }
            let ready = gateway
                .http
                .get(format!("{}/readyz", gateway.base))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200);
            if ready {
                gateway.ready_after = spawned.elapsed();
                return Ok(gateway);
            }
            if Instant::now() > deadline {
                gateway.kill();
                bail!("the gateway was not ready within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `GET path` with the read token: (status, JSON body or Null).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(READ_TOKEN)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    pub async fn status(&self) -> anyhow::Result<Value> {
        let (code, body) = self.get("/v1/status").await?;
        if code != 200 {
            bail!("GET /v1/status answered {code}: {body}");
        }
        Ok(body)
    }

    /// (VmRSS, VmHWM) in KiB from /proc/PID/status.
    pub fn memory_kib(&self) -> (u64, u64) {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find(|line| line.starts_with(name))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU seconds (user + system) the process has used so far.
    pub fn cpu_secs(&self) -> f64 {
        cpu_secs_of(&format!("/proc/{}/stat", self.pid))
    }

    /// Watches the gateway for `window` with nothing asked of it, RSS read every second:
    /// (highest RSS, last RSS, CPU seconds used). A figure read once just after the start
    /// misses what store work in the background (sled's) does to memory later.
    pub async fn idle(&self, window: Duration) -> (u64, u64, f64) {
        let cpu = self.cpu_secs();
        let end = Instant::now() + window;
        let (mut highest, mut last) = self.memory_kib();
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_secs(1)).await;
            last = self.memory_kib().0;
            highest = highest.max(last);
        }
        (highest, last, self.cpu_secs() - cpu)
    }

    /// SIGTERM, then wait (≤ 60 s, then SIGKILL); returns how long the stop took.
    pub async fn stop(mut self) -> anyhow::Result<Duration> {
        let asked = Instant::now();
        // SAFETY: kill(2) on our own child's pid with a valid signal has no memory effects.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        while asked.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the gateway stopped with {status}");
                }
                return Ok(asked.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill();
        bail!("the gateway did not stop within 60 s after SIGTERM; killed")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// (apparent bytes, allocated bytes) of every file under `path`.
pub fn disk_usage(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(path) else {
        return total;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (apparent, allocated) = disk_usage(&entry.path());
            total.0 += apparent;
            total.1 += allocated;
        } else {
            total.0 += meta.len();
            total.1 += meta.blocks() * 512;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_loads_with_the_journal_and_the_tuning() {
        let setup = Setup {
            binary: PathBuf::from("hubspot-gateway"),
            dir: PathBuf::from("/tmp/bench"),
            port: 20_001,
            api_base: "http://127.0.0.1:20002".into(),
            sync: true,
            journal_poll_ms: Some(250),
        };
        let text = setup.config_text(|config| config.server.max_body_bytes = 16 << 20);
        let env = |name: &str| Some(format!("{name}-value"));
        let config = hubspot_gateway::config::load_str(&text, &env)
            .expect(&text)
            .config;
        assert_eq!(config.server.listen, "127.0.0.1:20001");
        assert_eq!(config.server.max_body_bytes, 16 << 20);
        assert_eq!(config.hubspot.api_base, setup.api_base);
        assert_eq!(config.hubspot.journal.poll_interval_ms, 250);
        assert_eq!(config.store.path, setup.store());
        assert_eq!((config.sync.enabled, config.sync.lookback_secs), (true, 5));
        assert_eq!(config.api.tokens.len(), 2);
    }
}
