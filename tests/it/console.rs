//! The admin console, tested as a person uses it: real headless Chromium (through WebDriver)
//! against the real daemon mirroring the simulator. Screenshots go to `target/screenshots/`.

mod browser;
mod connection;
mod exports;
mod mapping;
mod pages;
mod portals;
mod removal;
mod security;
mod sync;
mod users;

use std::time::Duration;

use hubspot_gateway::sim::{self, SimConfig, SimHandle};

use crate::mirror::wait_until;
use crate::support::process::free_port;
use crate::support::{far_reconcile_window, webhooks_to, Gateway, Options, READ_TOKEN};
pub use browser::Browser;

/// A simulator, a gateway mirroring it, and a browser pointed at the gateway.
pub struct Setup {
    pub sim: SimHandle,
    pub gateway: Gateway,
}

impl Setup {
    /// Polls once after the backfill and then only when asked (Run Now), so a test sees its
    /// own sync pass.
    pub async fn start() -> Setup {
        let mut config = SimConfig {
            owners: 8,
            contacts: 120,
            companies: 60,
            deals: 20,
            tasks: 20,
            access_token: "pat-na1-it".into(),
            ..SimConfig::default()
        };
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        config.webhook = Some(webhooks_to(&public_url));
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let options = Options {
            hubspot: format!("api_base = \"{}\"\nmax_retry_secs = 10", sim.base_url()),
            sync: Some(format!(
                "poll_interval_secs = 3600\nlookback_secs = 5\n{}",
                far_reconcile_window()
            )),
            ..Options::default()
        };
        let gateway = Gateway::start_in(
            tempfile::tempdir().unwrap(),
            &format!("127.0.0.1:{port}"),
            &public_url,
            &options,
        )
        .await;
        wait_until("backfill", Duration::from_secs(60), || async {
            let (status, body) = gateway.get("/v1/status", Some(READ_TOKEN)).await;
            status == 200
                && ["contacts", "companies", "deals", "tasks"]
                    .iter()
                    .all(|kind| !body[kind]["last_full_sync"].is_null())
        })
        .await;
        Setup { sim, gateway }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.gateway.addr)
    }

    pub async fn browser(&self) -> Browser {
        Browser::start(&self.base()).await
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        self.sim.shutdown().await;
    }
}
