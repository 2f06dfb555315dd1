//! Benchmark: the plan of a dry run (mapping, duplicate lookup, decision) for 10,000 records
//! against a mirror of N contacts (default 1,000,000), half of them duplicates.
//! `cargo run --release --example export_dry_run -- [contacts]`

use std::collections::BTreeMap;
use tokio::time::Instant as Clock;

use hubspot_gateway::config::Export;
use hubspot_gateway::export::context::Context;
use hubspot_gateway::object::ObjectType;
use hubspot_gateway::ownership::terms;
use hubspot_gateway::store::{PropertyDef, Record, Store, Write};

const PORTAL: i64 = 1;

fn main() -> anyhow::Result<()> {
    let contacts: i64 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let started = Clock::now();
    for chunk in (0..contacts).collect::<Vec<_>>().chunks(10_000) {
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
                Write::Upsert { record, terms }
            })
            .collect();
        store
            .mirror()
            .write(PORTAL, ObjectType::Contacts, &writes, None)?;
    }
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
    for round in 1..=3 {
        let started = Clock::now();
        let context = Context::load(&store, PORTAL, ObjectType::Contacts, &Export::default())?;
        let mut duplicates = 0;
        for fields in &records {
            let plan = context.plan(&store, fields, None)?;
            duplicates += usize::from(!plan.duplicates.is_empty());
        }
        println!(
            "round {round}: 10000 records planned in {:?} ({duplicates} with duplicates)",
            started.elapsed()
        );
    }
    Ok(())
}
