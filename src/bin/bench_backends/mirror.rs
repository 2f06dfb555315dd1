//! `bench-backends mirror`: a backfill's writes, then lookups, then the portal removed
//! (`erase_portal`), on each backend (see the binary's doc).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use hubspot_gateway::kit::median;
use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::object::ObjectType::Contacts;
use hubspot_gateway::store::postgres::{Database, Fence, Mirror};
use hubspot_gateway::store::{Brief, Record, Store, Term, TermKind, Write};
use tokio::time::Instant;

use super::argument;

const PORTAL: i64 = 62515;
/// Records per write: a backfill page.
const PAGE: usize = 100;
/// Tasks looking up at once (the machine has two cores).
const LOOKERS: usize = 2;

fn email(id: i64) -> String {
    format!("person{id}@company{}.example", id % 50_000)
}

/// Contact `id` with `email` as a backfill gets it, about 40 properties: its record and brief.
pub(crate) fn sample_contact(id: i64, email: &str) -> (Record, Brief) {
    let mut record = Record {
        id,
        created_at_ms: Some(1_600_000_000_000 + id),
        updated_at_ms: 1_700_000_000_000 + id,
        ..Record::default()
    };
    let owner = (100 + id % 40).to_string();
    let properties = &mut record.properties;
    properties.insert("email".into(), email.to_owned());
    properties.insert("firstname".into(), format!("First{id}"));
    properties.insert("lastname".into(), format!("Last{id}"));
    properties.insert("hubspot_owner_id".into(), owner.clone());
    properties.insert("lifecyclestage".into(), "lead".into());
    for n in 0..35 {
        properties.insert(format!("custom_property_{n}"), format!("value {n} of {id}"));
    }
    let brief = Brief {
        id,
        name: format!("First{id} Last{id}"),
        primary: email.to_owned(),
        owner,
        created_at_ms: record.created_at_ms,
        updated_at_ms: record.updated_at_ms,
        ..Brief::default()
    };
    (record, brief)
}

/// Contact `id` as a backfill would write it.
fn contact(id: i64) -> Write {
    let email = email(id);
    let (record, brief) = sample_contact(id, &email);
    let (_, domain) = email.split_once('@').expect("an email");
    let terms = vec![
        Term::new(TermKind::Email, email.clone()),
        Term::new(TermKind::Domain, domain),
        Term::new(TermKind::Name, format!("first{id} last{id}")),
        Term::new(TermKind::Owner, brief.owner.clone()),
    ];
    Write::Upsert {
        record,
        terms,
        brief: Box::new(brief),
    }
}

/// One backend's figures of one run.
#[derive(Default)]
struct Figures {
    fill_per_s: f64,
    bytes_per_record: f64,
    lookups_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    /// Records per second of the erase that removes the portal.
    erase_per_s: f64,
}

fn sled_run(contacts: i64, seconds: u64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let start = Instant::now();
    let mut id = 1;
    while id <= contacts {
        let page: Vec<Write> = (id..(id + PAGE as i64).min(contacts + 1))
            .map(contact)
            .collect();
        id += PAGE as i64;
        let writing = runtime.block_on(store.mirror().lock_writes(PORTAL));
        writing.write(Contacts, &page, None)?;
    }
    store.commit()?;
    let fill_per_s = contacts as f64 / start.elapsed().as_secs_f64();
    let bytes_per_record = store.size_on_disk() as f64 / contacts as f64;
    let store = Arc::new(store);
    let lookers: Vec<_> = (0..LOOKERS)
        .map(|looker| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut latencies = Histogram::<u64>::new(3).expect("a histogram");
                let start = Instant::now();
                let mut n = looker as i64;
                while start.elapsed() < Duration::from_secs(seconds) {
                    n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let id = n.rem_euclid(contacts) + 1;
                    let asked = Instant::now();
                    let term = Term::new(TermKind::Email, email(id));
                    store.mirror().term_briefs(PORTAL, Contacts, &term)?;
                    latencies.record(asked.elapsed().as_micros() as u64)?;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut figures = figures(
        fill_per_s,
        bytes_per_record,
        seconds,
        lookers
            .into_iter()
            .map(|l| l.join().map_err(|_| anyhow::anyhow!("a looker panicked"))?),
    )?;
    let start = Instant::now();
    let erased = runtime.block_on(store.erase_portal(PORTAL))?;
    anyhow::ensure!(erased.records == contacts as u64, "erased {erased:?}");
    figures.erase_per_s = contacts as f64 / start.elapsed().as_secs_f64();
    Ok(figures)
}

async fn postgres_run(url: &str, contacts: i64, seconds: u64) -> anyhow::Result<Figures> {
    let database = Database::new(url, LOOKERS + 1, None)?;
    database.migrate().await?;
    let fence = Fence::take_unheld(&database).await?;
    let mirror = Mirror::new(database.clone());
    let start = Instant::now();
    let mut id = 1;
    while id <= contacts {
        let page: Vec<Write> = (id..(id + PAGE as i64).min(contacts + 1))
            .map(contact)
            .collect();
        id += PAGE as i64;
        mirror.write(fence, PORTAL, Contacts, &page, None).await?;
    }
    let fill_per_s = contacts as f64 / start.elapsed().as_secs_f64();
    let client = database.client().await?;
    client.batch_execute("VACUUM ANALYZE").await?;
    let bytes: i64 = client
        .query_one(
            "SELECT sum(pg_total_relation_size(c))::bigint FROM unnest(ARRAY['records', \
             'record_terms', 'record_counts', 'aliases', 'associations', 'purged', \
             'sync_cursors']::regclass[]) AS c",
            &[],
        )
        .await?
        .get(0);
    drop(client);
    let lookers: Vec<_> = (0..LOOKERS)
        .map(|looker| {
            let mirror = mirror.clone();
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new(3).expect("a histogram");
                let start = Instant::now();
                let mut n = looker as i64;
                while start.elapsed() < Duration::from_secs(seconds) {
                    n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let id = n.rem_euclid(contacts) + 1;
                    let asked = Instant::now();
                    let term = Term::new(TermKind::Email, email(id));
                    mirror.term_briefs(PORTAL, Contacts, &term).await?;
                    latencies.record(asked.elapsed().as_micros() as u64)?;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut histograms = Vec::new();
    for looker in lookers {
        histograms.push(looker.await?);
    }
    let mut figures = figures(
        fill_per_s,
        bytes as f64 / contacts as f64,
        seconds,
        histograms.into_iter(),
    )?;
    let start = Instant::now();
    let erased = hubspot_gateway::store::postgres::erase::portal(&database, fence, PORTAL).await?;
    anyhow::ensure!(erased.records == contacts as u64, "erased {erased:?}");
    figures.erase_per_s = contacts as f64 / start.elapsed().as_secs_f64();
    Ok(figures)
}

fn figures(
    fill_per_s: f64,
    bytes_per_record: f64,
    seconds: u64,
    lookers: impl Iterator<Item = anyhow::Result<Histogram<u64>>>,
) -> anyhow::Result<Figures> {
    let mut all = Histogram::<u64>::new(3)?;
    for looker in lookers {
        all.add(looker?)?;
    }
    Ok(Figures {
        fill_per_s,
        bytes_per_record,
        lookups_per_s: all.len() as f64 / seconds as f64,
        p50_us: all.value_at_quantile(0.5) as f64,
        p99_us: all.value_at_quantile(0.99) as f64,
        erase_per_s: 0.0,
    })
}

fn show(name: &str, run: u64, figures: &Figures) {
    println!(
        "run {run}: {name}: fill {:.0} records/s, {:.0} bytes/record, lookups {:.0}/s p50 {} µs \
         p99 {} µs, erase {:.0} records/s",
        figures.fill_per_s,
        figures.bytes_per_record,
        figures.lookups_per_s,
        figures.p50_us,
        figures.p99_us,
        figures.erase_per_s
    );
}

fn medians(runs: &[Figures]) -> serde_json::Value {
    let of = |field: fn(&Figures) -> f64| median(&runs.iter().map(field).collect::<Vec<_>>());
    serde_json::json!({
        "fill_records_per_s": of(|f| f.fill_per_s).round(),
        "bytes_per_record": of(|f| f.bytes_per_record).round(),
        "lookups_per_s": of(|f| f.lookups_per_s).round(),
        "lookup_p50_us": of(|f| f.p50_us),
        "lookup_p99_us": of(|f| f.p99_us),
        "erase_records_per_s": of(|f| f.erase_per_s).round(),
    })
}

pub async fn run() -> anyhow::Result<()> {
    let contacts = i64::try_from(argument("--contacts", 100_000)?)?;
    let seconds = argument("--seconds", 10)?;
    let runs = argument("--runs", 3)?;
    let cluster = Cluster::start()?;
    let (mut sled, mut postgres) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let figures = tokio::task::spawn_blocking(move || sled_run(contacts, seconds)).await??;
        show("sled", run, &figures);
        sled.push(figures);
        let url = cluster.fresh_database().await?;
        let figures = postgres_run(&url, contacts, seconds).await?;
        show("postgres", run, &figures);
        postgres.push(figures);
    }
    println!(
        "{}",
        serde_json::json!({
            "contacts": contacts,
            "seconds": seconds,
            "runs": runs,
            "lookup_tasks": LOOKERS,
            "sled": medians(&sled),
            "postgres": medians(&postgres),
        })
    );
    Ok(())
}
