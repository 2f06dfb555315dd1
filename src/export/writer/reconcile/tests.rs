//! The rule that tells a row's own record from a duplicate.

use std::collections::{BTreeMap, HashSet};

use super::own;
use crate::export::job::Row;
use crate::export::plan::Mapped;
use crate::object::ObjectType;
use crate::store::Record;

const INTENT: i64 = 1_800_000_000_000;

fn row(intent: Option<i64>, known: &[i64]) -> Row {
    Row {
        reference: "r-1".into(),
        fields: BTreeMap::new(),
        on_duplicate: None,
        intent_at_ms: intent,
        known_at_intent: known.to_vec(),
        outcome: None,
    }
}

fn mapped(pairs: &[(&str, &str)]) -> BTreeMap<String, Mapped> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mapped = Mapped {
                value: (*value).into(),
                overwrite: false,
            };
            ((*name).to_owned(), mapped)
        })
        .collect()
}

fn record(id: i64, created: i64, pairs: &[(&str, &str)]) -> Record {
    Record {
        id,
        properties: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        created_at_ms: Some(created),
        updated_at_ms: created,
        archived: false,
        archived_at_ms: None,
        state_changed_at_ms: 0,
        synced_at_ms: 0,
        stage_history: Vec::new(),
    }
}

#[test]
fn a_record_with_the_rows_key_created_after_its_intent_is_its_own() {
    let contact = mapped(&[("email", "Bo@Acme.com"), ("lastname", "Li")]);
    let found = record(
        7,
        INTENT + 300,
        &[("email", "bo@acme.com"), ("lastname", "X")],
    );
    let none = HashSet::new();
    let kind = ObjectType::Contacts;
    assert!(own(kind, &row(Some(INTENT), &[]), &contact, &found, &none));
    // The clock margin: HubSpot's clock may be behind this host's.
    let early = record(7, INTENT - 30_000, &[("email", "bo@acme.com")]);
    assert!(own(kind, &row(Some(INTENT), &[]), &contact, &early, &none));
}

#[test]
fn anything_else_is_a_duplicate() {
    let contact = mapped(&[("email", "bo@acme.com")]);
    let found = record(7, INTENT + 300, &[("email", "bo@acme.com")]);
    let none = HashSet::new();
    let kind = ObjectType::Contacts;
    // Never sent.
    assert!(!own(kind, &row(None, &[]), &contact, &found, &none));
    // Known when the create was sent.
    assert!(!own(
        kind,
        &row(Some(INTENT), &[7]),
        &contact,
        &found,
        &none
    ));
    // Another row's result.
    let claimed = HashSet::from([7]);
    assert!(!own(
        kind,
        &row(Some(INTENT), &[]),
        &contact,
        &found,
        &claimed
    ));
    // Created long before the intent.
    let old = record(7, INTENT - 3_600_000, &[("email", "bo@acme.com")]);
    assert!(!own(kind, &row(Some(INTENT), &[]), &contact, &old, &none));
    // Another key.
    let other = record(7, INTENT + 300, &[("email", "al@acme.com")]);
    assert!(!own(kind, &row(Some(INTENT), &[]), &contact, &other, &none));
    // Archived.
    let mut gone = found.clone();
    gone.archived = true;
    assert!(!own(kind, &row(Some(INTENT), &[]), &contact, &gone, &none));
}

#[test]
fn companies_compare_normalised_domains_else_names_and_contacts_without_email_every_name() {
    let none = HashSet::new();
    let sent = row(Some(INTENT), &[]);
    let company = mapped(&[("domain", "https://www.Acme.com/"), ("name", "Acme")]);
    let found = record(7, INTENT, &[("domain", "acme.com"), ("name", "Acme Inc")]);
    assert!(own(ObjectType::Companies, &sent, &company, &found, &none));
    let named = mapped(&[("name", " acme ")]);
    assert!(own(
        ObjectType::Companies,
        &sent,
        &named,
        &record(7, INTENT, &[("name", "Acme")]),
        &none
    ));

    let person = mapped(&[("firstname", "Bo"), ("lastname", "Li"), ("company", "Acme")]);
    let same = record(
        7,
        INTENT,
        &[("firstname", "bo"), ("lastname", "LI"), ("company", "Acme")],
    );
    let other = record(
        8,
        INTENT,
        &[("firstname", "Al"), ("lastname", "Li"), ("company", "Acme")],
    );
    assert!(own(ObjectType::Contacts, &sent, &person, &same, &none));
    assert!(!own(ObjectType::Contacts, &sent, &person, &other, &none));
}
