//! Journal catch-up benchmark: a gateway reading only the Webhooks Journal is stopped, the
//! simulated portal takes `--hours` of mutations at `--rate` per second (written in bulk,
//! `--rate` events per journal file: one file per simulated second), then the gateway starts
//! again: time until it is caught up (its cursor at the journal's newest entry, its inbox
//! empty, the last mutations visible) and the HubSpot calls it made meanwhile, by kind.

use std::path::PathBuf;
use std::time::Duration;

use hubspot_gateway::sim::{self, JournalConfig, ObjectType};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::portal::{parse_rate_limit, Portal};
use crate::report::{self, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 10_000)]
    pub contacts: usize,
    #[arg(long, default_value = "1000000/10")]
    pub rate_limit: String,
    /// Simulated hours the gateway is down.
    #[arg(long, default_value_t = 2.0)]
    pub hours: f64,
    /// Mutations per simulated second (and events per journal file).
    #[arg(long, default_value_t = 50)]
    pub rate: usize,
    #[arg(long, default_value_t = 1000)]
    pub journal_poll_ms: u64,
    #[arg(long, default_value = "journal-catchup")]
    pub name: String,
    /// Fresh simulator and gateway per run; the result is the median run by catch-up time.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    let runs = report::repeat("journal catch-up", args.runs, || {
        run_once(binary.clone(), &out, &args)
    })
    .await?;
    let result = report::median_of(
        runs,
        "/catch_up_secs",
        &[
            "/catch_up_secs",
            "/events_per_sec",
            "/calls/journal_api",
            "/calls/journal_api_per_1000_events",
            "/calls/crm",
        ],
    );
    report::write(&out, &args.name, &result)?;
    Ok(result)
}

/// Sim calls by kind: journal API calls, file downloads, CRM calls, token grants.
fn classify(calls: &std::collections::BTreeMap<String, u64>) -> (u64, u64, u64, u64) {
    let (mut journal, mut files, mut crm, mut tokens) = (0, 0, 0, 0);
    for (endpoint, count) in calls {
        if endpoint.contains("/journal-files/") {
            files += count;
        } else if endpoint.contains("/webhooks-journal/") {
            journal += count;
        } else if endpoint.contains("/oauth/") {
            tokens += count;
        } else {
            crm += count;
        }
    }
    (journal, files, crm, tokens)
}

fn difference(
    after: &std::collections::BTreeMap<String, u64>,
    before: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .map(|(name, count)| (name.clone(), count - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, count)| *count > 0)
        .collect()
}

async fn run_once(binary: PathBuf, out: &std::path::Path, args: &Args) -> anyhow::Result<Value> {
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    let portal = Portal {
        contacts: args.contacts,
        companies: 500,
        deals: 200,
        tasks: 100,
        owners: 20,
        seed: 42,
    };
    let mut config = portal.sim_config(parse_rate_limit(&args.rate_limit)?);
    config.client_secret = gateway::CLIENT_SECRET.into();
    // Files close when the bench says (one per simulated second), or at HubSpot's 10,000.
    config.journal = JournalConfig {
        file_interval_ms: 3_600_000,
        ..JournalConfig::default()
    };
    let sim = sim::start(config, "127.0.0.1:0".parse()?).await?;
    let dir = out.join(&args.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let setup = Setup {
        binary,
        dir,
        port: gateway::free_port(),
        api_base: sim.base_url(),
        sync: true,
        journal_poll_ms: Some(args.journal_poll_ms),
    };
    let gw = Gateway::start(&setup, "catchup-1.log", Duration::from_secs(60)).await?;
    wait_for(&gw, Duration::from_secs(600), |status| {
        ObjectType::ALL.iter().all(|kind| {
            status[kind.name()]["backfill_in_progress"] == false
                && !status[kind.name()]["last_full_sync"].is_null()
        }) && !status["journal"]["last_polled_at"].is_null()
    })
    .await?;
    gw.stop().await?;

    let control = sim.control().clone();
    let contacts = control.ids(ObjectType::Contacts, "0", args.contacts);
    let seconds = (args.hours * 3600.0) as usize;
    let mutations = seconds * args.rate;
    let generating = Instant::now();
    for second in 0..seconds {
        for i in 0..args.rate {
            let n = second * args.rate + i;
            let value = format!("catchup-{n}");
            control.update(
                ObjectType::Contacts,
                &contacts[n % contacts.len()],
                [("jobtitle", value.as_str())],
            )?;
        }
        control.flush_journal();
    }
    let written = sim.stats().journal;
    eprintln!(
        "{mutations} mutations in {} files written in {:.1} s; starting the gateway",
        written.files_written,
        generating.elapsed().as_secs_f64()
    );
    let newest = control.journal_offsets().last().cloned();
    let before = sim.stats().calls;
    let started = Instant::now();
    let gw = Gateway::start(&setup, "catchup-2.log", Duration::from_secs(60)).await?;
    wait_for(&gw, Duration::from_secs(3600), |status| {
        status["journal"]["offset"].as_str() == newest.as_deref()
            && status["webhooks"]["inbox_depth"] == 0
    })
    .await?;
    let catch_up = started.elapsed();
    let calls = difference(&sim.stats().calls, &before);
    // The last mutation of each of the last contacts is visible.
    let mut stale = 0;
    for n in mutations.saturating_sub(contacts.len().min(200))..mutations {
        let (_, body) = gw
            .get(&format!(
                "/v1/objects/contacts/{}",
                contacts[n % contacts.len()]
            ))
            .await?;
        if body["properties"]["jobtitle"] != format!("catchup-{n}").as_str() {
            stale += 1;
        }
    }
    let status = gw.status().await?;
    gw.stop().await?;
    sim.shutdown().await;
    let (journal_api, files, crm, tokens) = classify(&calls);
    let events = status["journal"]["events"].as_u64().unwrap_or(0);
    let result = json!({
        "benchmark": "journal-catchup",
        "machine": machine,
        "hours": args.hours,
        "rate_per_sec": args.rate,
        "mutations": mutations,
        "files": written.files_written,
        "journal_poll_ms": args.journal_poll_ms,
        "catch_up_secs": round3(catch_up.as_secs_f64()),
        "events_per_sec": round3(mutations as f64 / catch_up.as_secs_f64()),
        "stale_of_last_200": stale,
        "gaps": status["journal"]["gaps"],
        "journal_events_stored": events,
        "calls": {
            "journal_api": journal_api,
            "journal_api_per_1000_events": round3(journal_api as f64 * 1000.0 / mutations as f64),
            "file_downloads": files,
            "crm": crm,
            "token_grants": tokens,
            "by_endpoint": calls,
        },
    });
    report::table(
        "journal catch-up: gateway down, then started",
        &[
            vec![
                "mutations".into(),
                "files".into(),
                "catch-up s".into(),
                "events/s".into(),
                "journal calls".into(),
                "per 1000 events".into(),
                "downloads".into(),
                "CRM calls".into(),
                "stale".into(),
            ],
            vec![
                mutations.to_string(),
                written.files_written.to_string(),
                result["catch_up_secs"].to_string(),
                result["events_per_sec"].to_string(),
                journal_api.to_string(),
                result["calls"]["journal_api_per_1000_events"].to_string(),
                files.to_string(),
                crm.to_string(),
                stale.to_string(),
            ],
        ],
    );
    Ok(result)
}

async fn wait_for(
    gw: &Gateway,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(status) = gw.status().await {
            if done(&status) {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "not done within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
