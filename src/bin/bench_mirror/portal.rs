//! The simulated portal's size and limits, and the fewest API calls a backfill of it needs
//! (list pages + association batch reads at HubSpot's page sizes) vs what the simulator counted.

use std::collections::BTreeMap;

use anyhow::Context as _;
use hubspot_gateway::sim::{RateLimit, SimConfig};

use crate::gateway;

/// The simulated portal's size.
#[derive(Debug, Clone, clap::Args)]
pub struct Portal {
    #[arg(long, default_value_t = 1_000_000)]
    pub contacts: usize,
    #[arg(long, default_value_t = 300_000)]
    pub companies: usize,
    #[arg(long, default_value_t = 100_000)]
    pub deals: usize,
    /// The simulator's default is 100.
    #[arg(long, default_value_t = 100)]
    pub tasks: usize,
    #[arg(long, default_value_t = 20)]
    pub owners: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl Portal {
    pub fn sim_config(&self, rate_limit: RateLimit) -> SimConfig {
        SimConfig {
            seed: self.seed,
            owners: self.owners,
            contacts: self.contacts,
            companies: self.companies,
            deals: self.deals,
            tasks: self.tasks,
            rate_limit: Some(rate_limit),
            access_token: gateway::ACCESS_TOKEN.into(),
            ..SimConfig::default()
        }
    }

    pub fn records(&self) -> usize {
        self.contacts + self.companies + self.deals + self.tasks
    }
}

pub fn parse_rate_limit(text: &str) -> anyhow::Result<RateLimit> {
    let (max, secs) = text
        .split_once('/')
        .context("--rate-limit is MAX/SECONDS")?;
    Ok(RateLimit {
        max: max.parse()?,
        interval_ms: secs.parse::<u64>()? * 1000,
    })
}

const LIST: &str = "GET /crm/v3/objects/{type}";
const ASSOC: &str = "POST /crm/v4/associations/{from}/{to}/batch/read";
const BATCH_READ: &str = "POST /crm/v3/objects/{type}/batch/read";
const SEARCH: &str = "POST /crm/v3/objects/{type}/search";

fn pages(records: usize, per_page: usize) -> u64 {
    records.div_ceil(per_page) as u64
}

/// The fewest list and association calls the page sizes allow for the gateway's canonical
/// association directions (contacts→companies, deals→companies+contacts, tasks→the other 3).
pub fn minimum_calls(portal: &Portal) -> (u64, u64) {
    let list = pages(portal.contacts, 100).max(1)
        + pages(portal.companies, 100).max(1)
        + pages(portal.deals, 50).max(1)
        + pages(portal.tasks, 100).max(1);
    let assoc = pages(portal.contacts, 1000)
        + 2 * pages(portal.deals, 1000)
        + 3 * pages(portal.tasks, 1000);
    (list, assoc)
}

/// Calls by class: (list, associations, batch read, search, other = reference + connect).
pub fn classify(calls: &BTreeMap<String, u64>) -> BTreeMap<&'static str, u64> {
    let mut classes = BTreeMap::new();
    for (endpoint, count) in calls {
        let class = match endpoint.as_str() {
            LIST => "list",
            ASSOC => "associations",
            BATCH_READ => "batch_read",
            SEARCH => "search",
            _ => "reference",
        };
        *classes.entry(class).or_default() += count;
    }
    classes
}
