//! Where a backfill page's time goes: the product's own steps (`Client::list_page`,
//! `Syncer::associations`, `Syncer::write_fetched`) called in-process one page at a time, as
//! `Syncer::backfill` does, each timed; reported per bucket of pages as the store grows.

use std::path::PathBuf;
use std::time::Duration;

use hubspot_gateway::hubspot::{self, ClientConfig, Credentials, ListCursor};
use hubspot_gateway::object::ObjectType;
use hubspot_gateway::secret::Secret;
use hubspot_gateway::sim::{self, RateLimit};
use hubspot_gateway::store::Store;
use hubspot_gateway::sync::{Links, Settings, Syncer};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::portal::Portal;
use crate::report::{self, median, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub portal: Portal,
    /// Contact pages to time (100 records each).
    #[arg(long, default_value_t = 1000)]
    pub pages: usize,
    /// Pages per reported bucket.
    #[arg(long, default_value_t = 100)]
    pub bucket: usize,
}

fn ms(from: Instant, to: Instant) -> f64 {
    (to - from).as_secs_f64() * 1000.0
}

pub async fn run(out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(None);
    println!("{}", crate::machine::describe(&machine));
    let limit = RateLimit {
        max: 1_000_000,
        interval_ms: 10_000,
    };
    let sim = sim::start(args.portal.sim_config(limit), "127.0.0.1:0".parse()?).await?;
    let dir = out.join("pages");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let store = Store::open(&dir.join("store"))?;
    let credentials = Credentials::PrivateApp {
        access_token: Secret::new(crate::gateway::ACCESS_TOKEN.to_string()),
    };
    let client = hubspot::Client::new(ClientConfig::new(sim.base_url().parse()?, credentials))?;
    let objects = vec![
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Tasks,
    ];
    let portal = sim.config().portal_id;
    let syncer = Syncer::new(
        client.clone(),
        store.clone(),
        portal,
        objects,
        true,
        Settings::default(),
    );
    syncer.refresh_reference().await?;
    let kind = ObjectType::Contacts;
    let fields = syncer.fields(kind)?;
    let mut cursor = ListCursor::default();
    let mut rows: Vec<[f64; 4]> = Vec::new();
    let mut buckets = Vec::new();
    let mut table = vec![vec![
        "pages".into(),
        "records in store".into(),
        "list ms".into(),
        "assoc ms".into(),
        "write ms".into(),
        "page ms".into(),
        "records/s".into(),
        "load".into(),
    ]];
    for page_no in 0..args.pages {
        let t0 = Instant::now();
        let page = client.list_page(kind, &fields, false, &cursor).await?;
        let t1 = Instant::now();
        let ids: Vec<i64> = page.items.iter().map(|record| record.id).collect();
        let associations = syncer.associations(kind, &ids, Links::Canonical).await?;
        let t2 = Instant::now();
        syncer
            .write_fetched(kind, &page.items, true, &associations, None)
            .await?;
        let t3 = Instant::now();
        rows.push([ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t0, t3)]);
        if rows.len() == args.bucket || page_no + 1 == args.pages || page.next.is_none() {
            let column = |c: usize| round3(median(&rows.iter().map(|r| r[c]).collect::<Vec<_>>()));
            let total: f64 = rows.iter().map(|r| r[3]).sum();
            let records = (page_no + 1) * 100;
            let bucket = json!({
                "pages_done": page_no + 1, "records_in_store": records,
                "median_ms": {"list": column(0), "associations": column(1), "write_fetched": column(2), "page": column(3)},
                "records_per_sec": round3(rows.len() as f64 * 100.0 / (total / 1000.0)),
                "load_average_1m": crate::machine::load_average(),
            });
            eprintln!("{bucket}");
            table.push(vec![
                (page_no + 1).to_string(),
                records.to_string(),
                column(0).to_string(),
                column(1).to_string(),
                column(2).to_string(),
                column(3).to_string(),
                bucket["records_per_sec"].to_string(),
                bucket["load_average_1m"].to_string(),
            ]);
            buckets.push(bucket);
            rows.clear();
        }
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    drop(syncer);
    drop(store);
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.shutdown().await;
    let result = json!({
        "benchmark": "backfill_page_cost",
        "machine": machine,
        "what": "contacts pages timed step by step with the product's own functions, in-process; medians per bucket",
        "buckets": buckets,
    });
    report::table("backfill page cost (contacts, 100 records/page)", &table);
    report::write(&out, "backfill-pages", &result)?;
    Ok(result)
}
