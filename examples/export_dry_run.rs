//! Benchmark: the plan of a dry run (mapping, duplicate lookup, decision) for 10,000 records
//! against a mirror of N contacts (default 1,000,000), half of them duplicates.
//! `cargo run --release --example export_dry_run -- [contacts]`

use std::collections::BTreeMap;
use tokio::time::Instant as Clock;

use hubspot_gateway::config::Export;
use hubspot_gateway::export::context::Context;
use hubspot_gateway::object::ObjectType;
use hubspot_gateway::ownership::{brief, terms};
use hubspot_gateway::store::{PropertyDef, Record, Store, Write};

const PORTAL: i64 = 1;

fn main() -> anyhow::Result<()> {
    let contacts: i64 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |n| n.parse())?;
    // An optional second argument keeps the filled store there and reuses it next time.
    let (_temp, path) = match std::env::args().nth(2) {
        Some(path) => (None, std::path::PathBuf::from(path)),
        None => {
            let temp = tempfile::tempdir()?;
            let path = temp.path().to_owned();
            (Some(temp), path)
        }
    };
    let filled = path.join("filled").exists();
    let store = Store::open(&path.join("store"))?;
    let started = Clock::now();
    // The mirror is written under its portal's write lock (the daemon's `Syncer` takes it).
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let writing = runtime.block_on(store.mirror().lock_writes(PORTAL));
    let ids: Vec<i64> = if filled {
        Vec::new()
    } else {
        (0..contacts).collect()
    };
    for chunk in ids.chunks(10_000) {
        let writes: Vec<Write> = chunk
            .iter()
            .map(|id| {
                let properties: BTreeMap<String, String> = [
                    (
                        "email",
                        format!("person{id}@company{}.example", id % 50_000),
                    ),
                    ("firstname", format!("First{id}")),
                    ("lastname", format!("Last{id}")),
                    ("company", format!("Company {}", id % 50_000)),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let terms = terms(ObjectType::Contacts, &properties);
                let record = Record {
                    id: id + 1,
                    properties,
                    updated_at_ms: 1,
                    ..Record::default()
                };
                let brief = Box::new(brief(ObjectType::Contacts, &record));
                Write::Upsert {
                    record,
                    terms,
                    brief,
                }
            })
            .collect();
        writing.write(ObjectType::Contacts, &writes, None)?;
    }
    drop(writing);
    let definitions: Vec<PropertyDef> = [
        "email",
        "firstname",
        "lastname",
        "company",
        "jobtitle",
        "phone",
        "mobilephone",
    ]
    .iter()
    .map(|name| PropertyDef {
        name: (*name).into(),
        value_type: "string".into(),
        ..PropertyDef::default()
    })
    .collect();
    store
        .reference()
        .replace_properties(PORTAL, ObjectType::Contacts, &definitions)?;
    println!(
        "mirror of {contacts} contacts filled in {:?}",
        started.elapsed()
    );
    // The portal a gateway started on this store (sync off) answers dry runs for, and the
    // same 10,000 records as a `POST /v1/exports` body: `DIR/dry_run.json` (timing the HTTP
    // path: docs/bench/export.md).
    store.set_meta(
        "portal",
        br#"{"hub_id":1,"ui_base":"https://app.hubspot.com","user_email":null,"user_id":null}"#,
    )?;
    store.commit()?;
    drop(store);
    std::fs::write(path.join("filled"), b"")?;
    let opened = Clock::now();
    let store = Store::open(&path.join("store"))?;
    println!("store reopened in {:?}", opened.elapsed());

    let records: Vec<BTreeMap<String, String>> = (0..10_000i64)
        .map(|i| {
            // Even: an existing contact's email; odd: a new person.
            let id = if i % 2 == 0 {
                (i * 97) % contacts
            } else {
                contacts + i
            };
            [
                (
                    "email",
                    format!("person{id}@company{}.example", id % 50_000),
                ),
                ("first_name", format!("First{id}")),
                ("last_name", format!("Last{id}")),
                ("job_title", "Buyer".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        })
        .collect();
    let request: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, fields)| serde_json::json!({"ref": format!("r{i}"), "fields": fields}))
        .collect();
    std::fs::write(
        path.join("dry_run.json"),
        serde_json::to_vec(&serde_json::json!({"type": "contacts",
            "user_email": "seller@bench.example", "dry_run": true, "records": request}))?,
    )?;
    if std::env::var_os("BREAKDOWN").is_some() {
        // Where a cold round's time goes: the same steps as `Context::plan`, timed apart.
        let started = Clock::now();
        let context = Context::load(&store, PORTAL, ObjectType::Contacts, &Export::default())?;
        let load = started.elapsed();
        let (mut keys, mut lookups, mut gets) = (
            std::time::Duration::ZERO,
            std::time::Duration::ZERO,
            std::time::Duration::ZERO,
        );
        let mut found = 0;
        for fields in &records {
            let t = Clock::now();
            let terms = context.keys(fields);
            keys += t.elapsed();
            for term in &terms {
                let t = Clock::now();
                let ids = store.mirror().lookup(PORTAL, ObjectType::Contacts, term)?;
                lookups += t.elapsed();
                let t = Clock::now();
                for id in &ids {
                    found += usize::from(
                        store
                            .mirror()
                            .get(PORTAL, ObjectType::Contacts, *id)?
                            .is_some(),
                    );
                }
                gets += t.elapsed();
                if !ids.is_empty() {
                    break;
                }
            }
        }
        let total: std::time::Duration = started.elapsed();
        println!(
            "breakdown (cold): total {total:?}; context load {load:?}, map+terms {keys:?}, \
             index lookups {lookups:?}, record gets {gets:?} ({found} records)"
        );
    }
    for round in 1..=3 {
        let cpu = cpu_secs();
        let started = Clock::now();
        let context = Context::load(&store, PORTAL, ObjectType::Contacts, &Export::default())?;
        let mut duplicates = 0;
        for fields in &records {
            let plan = context.plan(&store, fields, None)?;
            duplicates += usize::from(!plan.duplicates.is_empty());
        }
        println!(
            "round {round}: 10000 records planned in {:?} ({duplicates} with duplicates), \
             {:.0} ms of CPU",
            started.elapsed(),
            (cpu_secs() - cpu) * 1000.0
        );
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (the machine may be shared: CPU time
/// says what the work costs, wall time what it took).
fn cpu_secs() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage struct into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
