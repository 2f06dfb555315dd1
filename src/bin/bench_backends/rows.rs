//! `bench-backends sled-rows`: what a backfill's mirror write costs in sled, against the
//! same rows written with less around them. Each variant writes N contacts (about 40
//! properties, one company association each) in steps of 1,000 records, as a backfill step
//! does, into a fresh sled store with the daemon's settings, and reports the process's CPU
//! per record (sled's own threads included) and the bytes on disk per record:
//!
//! - `mirror`: the product's write (`Writing::write`: each upsert reads the record's old
//!   version and its term lists, one sled transaction over the mirror's trees);
//! - `transaction`: the same rows in one transaction over the same trees, written blind
//!   (no old versions read; still sled's transactional insert, which reads every key);
//! - `batches`: the same rows as one `apply_batch` per tree (no transaction, no reads);
//! - `one-tree`: the same rows in one tree, one `apply_batch` per step;
//! - `record-only`: only the record rows, one `apply_batch` per step;
//! - `none`: the rows made and encoded, nothing written: what the variants' figures include
//!   besides the store.
//!
//! `--variant NAME` runs one variant only (e.g. under a profiler).
//!
//! The rows per contact: the record, its brief, two term lists (email, name), the owner's
//! index row, the association both ways, and the type's live count once per step.

use hubspot_gateway::kit::cpu_secs_of;
use hubspot_gateway::object::ObjectType::{Companies, Contacts};
use hubspot_gateway::store::{
    open_db, Brief, Record, Store, Term, TermKind, Write, DEFAULT_CACHE_MB,
};
use sled::Transactional;
use tokio::time::Instant;

use super::argument;
use crate::mirror::sample_contact;

const PORTAL: i64 = 62515;
/// Records per write: a backfill step.
const STEP: i64 = 1_000;

const VARIANTS: [&str; 6] = [
    "mirror",
    "transaction",
    "batches",
    "one-tree",
    "record-only",
    "none",
];
/// The mirror's trees a contact's rows go to, in the order `Rows` lists them.
const TREES: [&str; 6] = [
    "records",
    "briefs",
    "terms",
    "index",
    "associations",
    "counts",
];

fn contact(id: i64) -> (Record, Vec<Term>, Brief) {
    let email = format!("person{id}@company{}.example", id % 20_000);
    let (record, brief) = sample_contact(id, &email);
    let terms = vec![
        Term::new(TermKind::Email, email),
        Term::new(TermKind::Name, format!("first{id} last{id}")),
        Term::new(TermKind::Owner, brief.owner.clone()),
    ];
    (record, terms, brief)
}

fn company_of(id: i64) -> i64 {
    id % 20_000 + 1
}

fn i64_key(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn record_key(kind: u8, id: i64) -> Vec<u8> {
    [&i64_key(PORTAL)[..], &[kind], &i64_key(id)].concat()
}

fn term_key(term: &Term) -> Vec<u8> {
    let code = match term.kind {
        TermKind::Domain => b'd',
        TermKind::Email => b'e',
        TermKind::Name => b'n',
        TermKind::Owner => b'o',
    };
    [
        &record_key(Contacts.code(), 0)[..9],
        &[code],
        term.value.as_bytes(),
        &[0],
    ]
    .concat()
}

fn association_key(from: (u8, i64), to: (u8, i64)) -> Vec<u8> {
    [
        record_key(from.0, from.1),
        vec![to.0],
        i64_key(to.1).to_vec(),
    ]
    .concat()
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_extend(value, vec![1]).expect("a plain struct serialises")
}

/// A contact's rows as (tree index into `TREES`, key, value), as the mirror lays them out.
fn rows(id: i64) -> Vec<(usize, Vec<u8>, Vec<u8>)> {
    let (record, terms, brief) = contact(id);
    let key = record_key(Contacts.code(), id);
    let company = (Companies.code(), company_of(id));
    let mut rows = vec![
        (0, key.clone(), encode(&(&record, &terms))),
        (1, key, encode(&brief)),
    ];
    for term in &terms {
        if term.kind == TermKind::Owner {
            rows.push((
                3,
                [term_key(term), i64_key(id).to_vec()].concat(),
                Vec::new(),
            ));
        } else {
            rows.push((2, term_key(term), i64_key(id).to_vec()));
        }
    }
    rows.push((
        4,
        association_key((Contacts.code(), id), company),
        Vec::new(),
    ));
    rows.push((
        4,
        association_key(company, (Contacts.code(), id)),
        Vec::new(),
    ));
    rows
}

fn step_rows(first: i64, last: i64) -> Vec<(usize, Vec<u8>, Vec<u8>)> {
    let mut all: Vec<_> = (first..=last).flat_map(rows).collect();
    all.push((
        5,
        record_key(Contacts.code(), 0)[..9].to_vec(),
        last.to_be_bytes().to_vec(),
    ));
    all
}

fn steps(contacts: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..(contacts + STEP - 1) / STEP).map(move |n| (n * STEP + 1, ((n + 1) * STEP).min(contacts)))
}

/// Writes `contacts` with `variant`; returns (µs of CPU per record, bytes on disk per record).
fn run_variant(variant: &str, contacts: i64) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let started = cpu_secs_of("/proc/self/stat");
    let size = match variant {
        "mirror" => write_mirror(dir.path(), contacts)?,
        plain => write_plain(dir.path(), plain, contacts)?,
    };
    let cpu_secs = cpu_secs_of("/proc/self/stat") - started;
    Ok((
        cpu_secs * 1e6 / contacts as f64,
        size as f64 / contacts as f64,
    ))
}

/// The product's write, a step at a time; returns the store's size on disk.
fn write_mirror(path: &std::path::Path, contacts: i64) -> anyhow::Result<u64> {
    let store = Store::open(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    for (first, last) in steps(contacts) {
        let mut writes = Vec::new();
        let mut links = Vec::new();
        for id in first..=last {
            let (record, terms, brief) = contact(id);
            writes.push(Write::Upsert {
                record,
                terms,
                brief: Box::new(brief),
            });
            links.push(Write::ReplaceAssociations {
                from: id,
                to_type: Companies,
                to: vec![company_of(id)],
            });
        }
        writes.extend(links);
        let writing = runtime.block_on(store.mirror().lock_writes(PORTAL));
        writing.write(Contacts, &writes, None)?;
    }
    store.commit()?;
    Ok(store.size_on_disk())
}

/// The same rows written by `variant` with sled's own calls; returns the size on disk.
fn write_plain(path: &std::path::Path, variant: &str, contacts: i64) -> anyhow::Result<u64> {
    let db = open_db(path, DEFAULT_CACHE_MB)?;
    let trees = TREES
        .iter()
        .map(|name| db.open_tree(name))
        .collect::<sled::Result<Vec<_>>>()?;
    for (first, last) in steps(contacts) {
        let rows = step_rows(first, last);
        match variant {
            "transaction" => in_transaction(&trees, &rows)?,
            "batches" => {
                let mut batches: Vec<sled::Batch> =
                    TREES.iter().map(|_| sled::Batch::default()).collect();
                for (tree, key, value) in rows {
                    batches[tree].insert(key, value);
                }
                for (tree, batch) in trees.iter().zip(batches) {
                    tree.apply_batch(batch)?;
                }
            }
            "none" => {
                std::hint::black_box(rows);
            }
            "one-tree" | "record-only" => {
                let mut batch = sled::Batch::default();
                for (tree, key, value) in rows {
                    if variant == "one-tree" || tree == 0 {
                        batch.insert([vec![tree as u8], key].concat(), value);
                    }
                }
                trees[0].apply_batch(batch)?;
            }
            other => anyhow::bail!("no variant {other}"),
        }
    }
    db.flush()?;
    Ok(db.size_on_disk()?)
}

fn in_transaction(trees: &[sled::Tree], rows: &[(usize, Vec<u8>, Vec<u8>)]) -> anyhow::Result<()> {
    type Abort = sled::transaction::ConflictableTransactionError<()>;
    trees
        .transaction(|tx| {
            for (tree, key, value) in rows {
                tx[*tree].insert(key.as_slice(), value.as_slice())?;
            }
            Ok::<(), Abort>(())
        })
        .map_err(|error| anyhow::anyhow!("transaction: {error:?}"))
}

pub async fn run() -> anyhow::Result<()> {
    let contacts = i64::try_from(argument("--contacts", 120_000)?)?;
    let runs = argument("--runs", 3)?;
    let arguments: Vec<String> = std::env::args().collect();
    let only = arguments
        .iter()
        .position(|a| a == "--variant")
        .and_then(|at| arguments.get(at + 1));
    let mut figures: Vec<(&str, Vec<f64>, Vec<f64>)> = VARIANTS
        .iter()
        .filter(|v| only.is_none_or(|only| only == *v))
        .map(|v| (*v, Vec::new(), Vec::new()))
        .collect();
    anyhow::ensure!(!figures.is_empty(), "--variant: one of {VARIANTS:?}");
    for run in 1..=runs {
        // Interleaved, so that the machine's drift falls on every variant alike.
        for (variant, cpus, sizes) in &mut figures {
            let name = *variant;
            let wall = Instant::now();
            let (cpu, size) =
                tokio::task::spawn_blocking(move || run_variant(name, contacts)).await??;
            println!(
                "run {run}: {name}: {cpu:.1} µs CPU per record, {size:.0} bytes per record, \
                 {:.1} s",
                wall.elapsed().as_secs_f64()
            );
            cpus.push(cpu);
            sizes.push(size);
        }
    }
    let medians: serde_json::Map<String, serde_json::Value> = figures
        .iter()
        .map(|(variant, cpus, sizes)| {
            let cpu = hubspot_gateway::kit::median(cpus);
            let size = hubspot_gateway::kit::median(sizes);
            (
                variant.to_string(),
                serde_json::json!({"cpu_us_per_record": (cpu * 10.0).round() / 10.0, "bytes_per_record": size.round()}),
            )
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"contacts": contacts, "runs": runs, "step": STEP, "variants": medians})
    );
    Ok(())
}
