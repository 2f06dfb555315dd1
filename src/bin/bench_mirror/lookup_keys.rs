//! Keys for the lookup benchmark: existing domains and emails regenerated from a simulator
//! with the backfilled portal's seed and sizes, missing ones mixed in, and request bodies.

use bytes::Bytes;
use hubspot_gateway::sim::{self, ObjectType, RateLimit};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::load::Prepared;
use crate::lookups::Args;

pub struct Keys {
    pub domains: Vec<String>,
    pub emails: Vec<String>,
    pub fresh_domains: Vec<String>,
    pub owners: Vec<String>,
}

fn sample(
    control: &sim::Control,
    kind: ObjectType,
    count: usize,
    property: &str,
    rng: &mut StdRng,
) -> Vec<String> {
    let mut ids = control.ids(kind, "0", 2_000_000_000);
    ids.shuffle(rng);
    ids.iter()
        .filter_map(|id| control.record(kind, id)?.properties.get(property).cloned())
        .filter(|value| !value.is_empty())
        .take(count)
        .collect()
}

/// Existing keys from the simulator (same seed and sizes), with 20 % that do not exist mixed in.
pub async fn keys(args: &Args) -> anyhow::Result<Keys> {
    let unlimited = RateLimit {
        max: u32::MAX,
        interval_ms: 10_000,
    };
    let sim = sim::start(args.portal.sim_config(unlimited), "127.0.0.1:0".parse()?).await?;
    let control = sim.control();
    let mut rng = StdRng::seed_from_u64(7);
    let mut domains = sample(
        control,
        ObjectType::Companies,
        args.keys * 2,
        "domain",
        &mut rng,
    );
    let fresh_domains = domains.split_off(domains.len().min(args.keys));
    let mut emails = sample(control, ObjectType::Contacts, args.keys, "email", &mut rng);
    for i in 0..args.keys / 4 {
        domains.push(format!("nx{i}-{}.bench.example", rng.gen::<u32>()));
        emails.push(format!("nobody{i}@nx{}.bench.example", rng.gen::<u32>()));
    }
    domains.shuffle(&mut rng);
    emails.shuffle(&mut rng);
    let owners = control
        .owners()
        .iter()
        .filter(|o| !o.archived)
        .take(2)
        .map(|o| o.id.to_string())
        .collect();
    sim.shutdown().await;
    Ok(Keys {
        domains,
        emails,
        fresh_domains,
        owners,
    })
}

pub fn get(path: String) -> Prepared {
    Prepared {
        post: false,
        path,
        body: Bytes::new(),
    }
}

pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// 100-item indicator bodies: 50 companies and 50 contacts each, with an owners-exclude and
/// company-types filter.
pub fn indicator_bodies(keys: &Keys, count: usize, filtered: bool) -> Vec<Prepared> {
    (0..count)
        .map(|n| {
            let companies: Vec<Value> = (0..50)
                .map(|i| json!({"ref": format!("c{i}"), "domain": keys.domains[(n * 50 + i) % keys.domains.len()]}))
                .collect();
            let contacts: Vec<Value> = (0..50)
                .map(|i| json!({"ref": format!("p{i}"), "email": keys.emails[(n * 50 + i) % keys.emails.len()]}))
                .collect();
            let mut body = json!({"companies": companies, "contacts": contacts});
            if filtered {
                body["filter"] = json!({"owners": {"exclude": keys.owners}, "company_types": ["PROSPECT", "CUSTOMER"]});
            }
            Prepared { post: true, path: "/v1/indicators".into(), body: Bytes::from(body.to_string()) }
        })
        .collect()
}
