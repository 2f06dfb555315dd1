//! Many portals in one deployment (`hubspot.multiple_portals`): an in-process simulator with
//! N accounts, the real gateway binary as an OAuth app Connected to each in turn; Connect
//! times, time until every portal is backfilled, then the idle footprint (RSS, CPU, threads,
//! API calls per minute, store size), a restart, a lookup spot check per portal, and last the
//! removal of one portal, then of all the others (`DELETE /v1/portals/{id}`). `--postgres`
//! runs the same on a throw-away PostgreSQL database instead of the sled store.
//! One run: 100 portals take minutes, and the figures describe a steady state, not a race.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use hubspot_gateway::config::{self, SecretRef};
use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::fire::Latencies;
use hubspot_gateway::sim::{self, ObjectType, OtherAccount, SimConfig};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{self, Gateway, Setup};
use crate::portals_store::Backend;
use crate::report::{self, round3};
use crate::simulator::{Counts, Simulator};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Accounts in all: the simulated portal and N-1 others.
    #[arg(long, default_value_t = 100)]
    pub portals: usize,
    /// Contacts put into each account before it is connected.
    #[arg(long, default_value_t = 200)]
    pub records_each: usize,
    /// Companies put into each account.
    #[arg(long, default_value_t = 5)]
    pub companies_each: usize,
    /// The idle window over which CPU and API calls are measured.
    #[arg(long, default_value_t = 60)]
    pub idle_secs: u64,
    /// `sync.poll_interval_secs`; 300 is the config's default, so idle calls are a deployment's.
    #[arg(long, default_value_t = 300)]
    pub poll_secs: u64,
    /// Give up when connecting and backfilling every portal takes longer than this.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// Run the gateway on a database of a throw-away PostgreSQL server (started by the
    /// benchmark, one replica) instead of the sled store; the store size is then the
    /// database's (`pg_database_size`).
    #[arg(long)]
    pub postgres: bool,
}

/// The simulated portal's id (the simulator's default); the others get ids from `OTHERS` up.
const MAIN: i64 = 62_515_001;
const OTHERS: i64 = 70_000_000;
/// 32 bytes, base64: Connect seals the tokens it stores under `store.secrets_key`.
const SECRETS_KEY: &str = "YmVuY2gtcG9ydGFscy1zZWNyZXRzLWtleS0wMTIzNDU=";

/// One account: its id, the user who consents, and a contact the lookup check asks for.
pub struct Account {
    pub portal_id: i64,
    email: String,
    /// (email, record id) of the account's first contact.
    pub known: (String, String),
}

pub async fn run(binary: PathBuf, out: PathBuf, args: Args) -> anyhow::Result<Value> {
    ensure!(args.portals >= 1, "--portals must be at least 1");
    ensure!(
        args.records_each >= 1,
        "--records-each must be at least 1 (the lookup check)"
    );
    let machine = crate::machine::info(Some(&binary));
    println!("{}", crate::machine::describe(&machine));
    println!(
        "one run: {} portals x {} contacts + {} companies",
        args.portals, args.records_each, args.companies_each
    );
    let handle = sim::start(sim_config(args.portals), "127.0.0.1:0".parse()?).await?;
    let accounts = fill(&handle, &args)?;
    let mut sim = Simulator::InProcess(handle);
    let name = if args.postgres {
        "portals-postgres"
    } else {
        "portals"
    };
    let dir = out.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    // A file, not a variable: the gateway module passes only its own variables to the child.
    let key_file = dir.join("secrets_key");
    std::fs::write(&key_file, SECRETS_KEY)?;
    let backend = Backend::start(args.postgres, &dir).await?;
    println!("store: {}", backend.name());
    let setup = Setup {
        binary,
        dir: dir.clone(),
        port: gateway::free_port(),
        api_base: sim.base_url(),
        sync: true,
        journal_poll_ms: None,
    };
    let tune = tune(sim.base_url(), &key_file, args.poll_secs, &backend);
    let gw = Gateway::start_with(&setup, "portals.log", Duration::from_secs(60), &tune).await?;

    // Connect every account in turn, each timed from `connection/start` to the callback's page.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut connects = Latencies::default();
    let mut each_ms = Vec::with_capacity(accounts.len());
    for (index, account) in accounts.iter().enumerate() {
        let began = Instant::now();
        let via = (index > 0).then_some(MAIN);
        connect(&gw, account, via)
            .await
            .with_context(|| format!("connecting portal {} ({index})", account.portal_id))?;
        connects.record(began.elapsed());
        each_ms.push(round3(began.elapsed().as_secs_f64() * 1000.0));
        if (index + 1) % 10 == 0 || index + 1 == accounts.len() {
            eprintln!(
                "[{:>6.1} s] {} connected, rss {} MiB, load {}",
                started.elapsed().as_secs_f64(),
                index + 1,
                gw.memory_kib().0 / 1024,
                crate::machine::load_average()
            );
        }
        ensure!(
            Instant::now() < deadline,
            "connecting took over the timeout"
        );
    }
    let connected_secs = started.elapsed().as_secs_f64();
    let (backfilled_secs, all_types_secs) =
        wait_backfilled(&gw, &accounts, started, deadline).await?;
    let load_after_backfill = crate::machine::load_average();
    let rss_peak_kib = gw.memory_kib().1;

    // Idle: nothing connects, nothing changes in HubSpot; sync polls on its own schedule.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu_before, calls_before) = (gw.cpu_secs(), sim.counts().await?);
    let server_cpu_before = backend.server_cpu_secs();
    let idle_started = Instant::now();
    let timeline = idle_timeline(&gw, &mut sim, args.idle_secs).await?;
    let idle_wall = idle_started.elapsed().as_secs_f64();
    let idle_cpu = gw.cpu_secs() - cpu_before;
    let server_idle_cpu = backend
        .server_cpu_secs()
        .zip(server_cpu_before)
        .map(|(after, before)| round3(after - before));
    let idle_calls = delta(&calls_before, &sim.counts().await?);
    let idle_total: u64 = idle_calls.calls.values().sum();
    let load_idle = crate::machine::load_average();
    let (rss_kib, _) = gw.memory_kib();
    let idle_threads = threads(gw.pid);
    let store_running = backend.size(&setup).await?;

    // Restart on the same store (same port: the stored redirect URL stays valid).
    let stop_secs = gw.stop().await?.as_secs_f64();
    let store_stopped = backend.size(&setup).await?;
    let calls_before = sim.counts().await?;
    let restarted = Instant::now();
    let gw = Gateway::start_with(&setup, "restart.log", Duration::from_secs(300), &tune).await?;
    let ready_secs = gw.ready_after.as_secs_f64();
    let mut answering = 0;
    while answering < accounts.len() {
        answering = 0;
        for account in &accounts {
            let path = format!("/v1/status?portal={}", account.portal_id);
            if gw.get(&path).await.is_ok_and(|(code, _)| code == 200) {
                answering += 1;
            }
        }
        ensure!(
            restarted.elapsed() < Duration::from_secs(300),
            "after the restart only {answering} portals answered their status within 300 s"
        );
    }
    let all_answer_secs = restarted.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restart_calls = delta(&calls_before, &sim.counts().await?);
    let rss_after_restart_kib = gw.memory_kib().0;
    let threads_after_restart = threads(gw.pid);

    let lookups = spot_check(&gw, &accounts).await?;

    // Removal: one portal, then every other one; each until `/v1/status` lists no removal.
    let calls_before = sim.counts().await?;
    let mut removal = crate::portals_removal::run(&gw, &accounts).await?;
    removal["api_calls"] = json!(delta(&calls_before, &sim.counts().await?).calls);
    removal["store_after"] = backend.size(&setup).await?;
    gw.stop().await?;
    sim.shutdown().await;

    let warnings = json!({
        "portals.log": log_lines(&dir.join("portals.log")),
        "restart.log": log_lines(&dir.join("restart.log")),
    });
    let result = json!({
        "benchmark": name,
        "runs": 1,
        "backend": backend.name(),
        "machine": machine,
        "portals": args.portals,
        "per_portal": {"contacts": args.records_each, "companies": args.companies_each},
        "poll_interval_secs": args.poll_secs,
        "connect": {
            "each": report::percentiles(&connects),
            "each_ms_in_order": each_ms,
            "all_connected_secs": round3(connected_secs),
            "all_backfilled_secs": round3(backfilled_secs),
            "all_types_backfilled_secs": round3(all_types_secs),
            "load_average_1m_after": load_after_backfill,
        },
        "idle": {
            "secs": round3(idle_wall),
            "rss_kib": rss_kib,
            "rss_peak_kib": rss_peak_kib,
            "rss_kib_per_portal": round3(rss_kib as f64 / args.portals as f64),
            "cpu_secs": round3(idle_cpu),
            "cpu_percent_of_one_core": round3(idle_cpu / idle_wall * 100.0),
            "threads": idle_threads,
            "api_calls": idle_total,
            "api_calls_per_minute": round3(idle_total as f64 * 60.0 / idle_wall),
            "api_calls_by_endpoint": idle_calls.calls,
            "timeline": timeline,
            "rate_limited_429": idle_calls.rate_limited,
            "load_average_1m": load_idle,
            "store": store_running,
            "postgres_server_cpu_secs": server_idle_cpu,
        },
        "restart": {
            "stop_secs": round3(stop_secs),
            "store_stopped": store_stopped,
            "ready_secs": round3(ready_secs),
            "all_portals_answer_secs": round3(all_answer_secs),
            "rss_kib_10s_after": rss_after_restart_kib,
            "threads": threads_after_restart,
            "api_calls_first_secs": round3(all_answer_secs + 10.0),
            "api_calls": restart_calls.calls,
        },
        "lookups": lookups,
        "removal": removal,
        "gateway_log": warnings,
    });
    crate::portals_table::print(&result);
    report::write(&out, name, &result)?;
    Ok(result)
}

/// The simulated portal (owners only, its CRM filled like the others') and N-1 other accounts,
/// each with an admin of its own. Limits that never bind: the simulator keeps one bucket for
/// all accounts, where HubSpot keeps one per account, so a shared 190/10 s would throttle
/// 100 portals together as no real deployment is.
fn sim_config(portals: usize) -> SimConfig {
    let never = |max| {
        Some(sim::RateLimit {
            max,
            interval_ms: 10_000,
        })
    };
    SimConfig {
        portal_id: MAIN,
        owners: 5,
        contacts: 0,
        companies: 0,
        deals: 0,
        tasks: 0,
        client_secret: gateway::CLIENT_SECRET.into(),
        rate_limit: never(100_000),
        search_rate_limit: never(100_000),
        other_accounts: (1..portals)
            .map(|index| OtherAccount {
                portal_id: OTHERS + index as i64,
                shared_owners: 0,
                own_users: vec![format!("admin@portal{index}.example")],
            })
            .collect(),
        ..SimConfig::default()
    }
}

/// Puts the contacts and companies into every account; returns who consents in each.
fn fill(handle: &sim::SimHandle, args: &Args) -> anyhow::Result<Vec<Account>> {
    let control = handle.control();
    let main_admin = control
        .users()
        .into_iter()
        .find(|user| user.portal_ids.contains(&MAIN))
        .context("the simulated portal has no user")?;
    let mut accounts = Vec::with_capacity(args.portals);
    for index in 0..args.portals {
        let (portal_id, email) = match index {
            0 => (MAIN, main_admin.email.clone()),
            _ => (
                OTHERS + index as i64,
                format!("admin@portal{index}.example"),
            ),
        };
        let mut known = None;
        for n in 0..args.records_each {
            let address = format!("c{n}@portal{index}.example");
            let id = control.create_in(portal_id, ObjectType::Contacts, [("email", &address)])?;
            known.get_or_insert((address, id));
        }
        for n in 0..args.companies_each {
            let name = format!("Company {n} of portal {index}");
            let domain = format!("co{n}.portal{index}.example");
            let properties = [("name", name), ("domain", domain)];
            control.create_in(portal_id, ObjectType::Companies, properties)?;
        }
        let known = known.unwrap_or_default();
        accounts.push(Account {
            portal_id,
            email,
            known,
        });
    }
    Ok(accounts)
}

/// The gateway as an OAuth app of the simulator taking several portals (no access token),
/// on the backend's store.
fn tune(
    sim_base: String,
    key_file: &Path,
    poll_secs: u64,
    backend: &Backend,
) -> impl Fn(&mut config::Config) {
    let key = format!("file:{}", key_file.display());
    let database = match backend {
        Backend::Sled => None,
        Backend::Postgres { url_file, .. } => Some(format!("file:{}", url_file.display())),
    };
    move |config| {
        if let Some(url) = &database {
            config.store.backend = config::Backend::Postgres;
            config.store.url = Some(SecretRef::new(url));
        }
        config.hubspot.access_token = None;
        config.hubspot.client_id = Some(SimConfig::default().client_id);
        config.hubspot.app_base = sim_base.clone();
        config.hubspot.multiple_portals = true;
        config.store.secrets_key = Some(SecretRef::new(&key));
        config.sync.poll_interval_secs = poll_secs;
    }
}

/// The Connect flow: `POST /v1/connection/start`, consent at the simulator, the callback.
/// Once two portals are mirrored every call must name one, so the start names the first
/// (`via`); the account chosen at HubSpot decides which portal the Connect adds.
async fn connect(gw: &Gateway, account: &Account, via: Option<i64>) -> anyhow::Result<()> {
    let query = via.map_or(String::new(), |portal| format!("?portal={portal}"));
    let response = gw
        .http
        .post(format!("{}/v1/connection/start{query}", gw.base))
        .bearer_auth(gateway::ADMIN_TOKEN)
        .send()
        .await?;
    let code = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(code == 200, "connection/start answered {code}: {body}");
    let url = body["authorize_url"].as_str().context("no authorize_url")?;
    let callback = Browser::new()
        .authorize(url, &account.email, Some(account.portal_id))
        .await?;
    let page = gw.http.get(&callback).send().await?;
    let code = page.status();
    if code != 200 {
        bail!("the callback answered {code}: {}", page.text().await?);
    }
    Ok(())
}

/// Waits until every portal's status shows a finished full sync of contacts, then of every
/// type (each portal backfills its types one after another); seconds since `started` of both.
async fn wait_backfilled(
    gw: &Gateway,
    accounts: &[Account],
    started: Instant,
    deadline: Instant,
) -> anyhow::Result<(f64, f64)> {
    let mut contacts_done = None;
    loop {
        let (mut contacts, mut all) = (0, 0);
        for account in accounts {
            let path = format!("/v1/status?portal={}", account.portal_id);
            let (code, body) = gw.get(&path).await?;
            let done = |kind: &ObjectType| !body[kind.name()]["last_full_sync"].is_null();
            contacts += usize::from(code == 200 && done(&ObjectType::Contacts));
            all += usize::from(code == 200 && ObjectType::ALL.iter().all(done));
        }
        if contacts == accounts.len() {
            contacts_done.get_or_insert(started.elapsed().as_secs_f64());
        }
        if let (Some(contacts), true) = (contacts_done, all == accounts.len()) {
            return Ok((contacts, started.elapsed().as_secs_f64()));
        }
        if Instant::now() > deadline {
            bail!(
                "of {} portals {contacts} backfilled contacts and {all} every type in time",
                accounts.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sleeps `secs`, reading the gateway's CPU and the simulator's calls every 10 s: sync polls
/// on a timer per portal, so the calls come in bursts a single total would hide.
async fn idle_timeline(gw: &Gateway, sim: &mut Simulator, secs: u64) -> anyhow::Result<Value> {
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut samples = Vec::new();
    let (mut cpu, mut calls) = (gw.cpu_secs(), sim.counts().await?);
    while Instant::now() < end {
        let next = (Instant::now() + Duration::from_secs(10)).min(end);
        tokio::time::sleep_until(next).await;
        let (cpu_now, calls_now) = (gw.cpu_secs(), sim.counts().await?);
        let made: u64 = delta(&calls, &calls_now).calls.values().sum();
        samples.push(json!({
            "at_secs": round3(started.elapsed().as_secs_f64()),
            "api_calls": made,
            "cpu_secs": round3(cpu_now - cpu),
        }));
        (cpu, calls) = (cpu_now, calls_now);
    }
    Ok(Value::Array(samples))
}

/// Calls made between two readings of the simulator's counters.
fn delta(before: &Counts, after: &Counts) -> Counts {
    let calls = after
        .calls
        .iter()
        .map(|(endpoint, count)| {
            let was = before.calls.get(endpoint).copied().unwrap_or(0);
            (endpoint.clone(), count - was)
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    Counts {
        calls,
        statuses: BTreeMap::new(),
        rate_limited: after.rate_limited - before.rate_limited,
    }
}

/// `Threads:` of /proc/PID/status.
fn threads(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// The known contact of the first, a middle and the last portal (and the simulated one), by
/// email: each must answer 200 with that record, linked to its own portal. Ids repeat across
/// accounts (each simulated CRM numbers from the same base), so the URL tells them apart;
/// and the last portal's address asked of the first must find nothing.
async fn spot_check(gw: &Gateway, accounts: &[Account]) -> anyhow::Result<Value> {
    let mut picks = vec![0, 1, accounts.len() / 2, accounts.len() - 1];
    picks.dedup();
    let mut checked = Vec::new();
    for index in picks.into_iter().filter(|index| *index < accounts.len()) {
        let account = &accounts[index];
        let url = lookup_own(gw, account).await?;
        let (email, id) = &account.known;
        checked.push(json!({"portal": account.portal_id, "email": email, "status": 200, "id": id, "url": url}));
    }
    let (first, last) = (&accounts[0], &accounts[accounts.len() - 1]);
    if first.portal_id != last.portal_id {
        let path = format!(
            "/v1/contacts/lookup?email={}&portal={}",
            last.known.0, first.portal_id
        );
        let (code, body) = gw.get(&path).await?;
        let none = body["matches"].as_array().is_some_and(Vec::is_empty);
        ensure!(
            code == 200 && none,
            "another portal's contact: {path} answered {code}: {body}"
        );
        checked.push(
            json!({"portal": first.portal_id, "email": last.known.0, "status": code, "matches": 0}),
        );
    }
    Ok(Value::Array(checked))
}

/// The account's known contact, by email: must answer 200 with that record, its URL naming
/// the account's own portal; returns the URL.
pub async fn lookup_own(gw: &Gateway, account: &Account) -> anyhow::Result<String> {
    let (email, id) = &account.known;
    let path = format!(
        "/v1/contacts/lookup?email={email}&portal={}",
        account.portal_id
    );
    let (code, body) = gw.get(&path).await?;
    let found = &body["matches"][0];
    let url = found["url"].as_str().unwrap_or_default();
    let own = url.contains(&format!("/{}/", account.portal_id));
    ensure!(
        code == 200 && found["id"].as_str() == Some(id.as_str()) && own,
        "{path} answered {code}: {body}"
    );
    Ok(url.to_owned())
}

/// WARN and ERROR lines of a gateway log (JSON lines): how many, and the first few.
fn log_lines(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut first = Vec::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let level = entry["level"].as_str().unwrap_or("").to_uppercase();
        if level == "WARN" || level == "ERROR" {
            *counts.entry(level).or_default() += 1;
            if first.len() < 5 {
                first.push(entry);
            }
        }
    }
    json!({"counts": counts, "first": first})
}
