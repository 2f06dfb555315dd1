//! `derive`: (stored records before, writes) → events, case by case.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::object::ObjectType::{Companies, Contacts};
use crate::store::Write;

fn record(id: i64, owner: &str, archived: bool) -> Record {
    let mut properties = BTreeMap::new();
    if !owner.is_empty() {
        properties.insert("hubspot_owner_id".to_owned(), owner.to_owned());
    }
    properties.insert("email".to_owned(), format!("p{id}@example.com"));
    Record {
        id,
        properties,
        archived,
        ..Record::default()
    }
}

fn upsert(id: i64, owner: &str) -> Write {
    let record = record(id, owner, false);
    Write::Upsert {
        brief: Box::new(crate::ownership::brief(Contacts, &record)),
        record,
        terms: Vec::new(),
    }
}

fn stored(records: &[Record]) -> HashMap<i64, Record> {
    records.iter().map(|r| (r.id, r.clone())).collect()
}

fn check(before: &[Record], writes: &[Write], announce: bool, expected: &[Event]) {
    let events = derive(Contacts, writes, &stored(before), announce);
    assert_eq!(events, expected, "writes {writes:?}");
}

fn created(id: i64, owner: Option<&str>, restored: bool) -> Event {
    Event::RecordCreated {
        kind: Contacts,
        id,
        owner: owner.map(str::to_owned),
        restored,
    }
}

#[test]
fn a_new_record_is_created_unless_the_first_full_sync_writes_it() {
    check(
        &[],
        &[upsert(1, "101")],
        true,
        &[created(1, Some("101"), false)],
    );
    check(&[], &[upsert(1, "101")], false, &[]);
    // Stored already, same owner: a property change is no event.
    check(&[record(1, "101", false)], &[upsert(1, " 101 ")], true, &[]);
}

#[test]
fn an_owner_change_says_before_and_after() {
    let changed = |before: Option<&str>, after: Option<&str>| Event::OwnerChanged {
        kind: Contacts,
        id: 1,
        before: before.map(str::to_owned),
        after: after.map(str::to_owned),
    };
    check(
        &[record(1, "101", false)],
        &[upsert(1, "102")],
        false,
        &[changed(Some("101"), Some("102"))],
    );
    check(
        &[record(1, "", false)],
        &[upsert(1, "102")],
        true,
        &[changed(None, Some("102"))],
    );
    check(
        &[record(1, "101", false)],
        &[upsert(1, "")],
        true,
        &[changed(Some("101"), None)],
    );
    // Two versions in one write list: each step is seen.
    check(
        &[record(1, "101", false)],
        &[upsert(1, "102"), upsert(1, "103")],
        true,
        &[
            changed(Some("101"), Some("102")),
            changed(Some("102"), Some("103")),
        ],
    );
}

#[test]
fn archive_restore_and_a_read_that_finds_an_archived_record_live() {
    let archived = Event::RecordDeleted {
        kind: Contacts,
        id: 1,
        archived: Some(Archived {
            owner: Some("101".into()),
            at_ms: 500,
        }),
    };
    let archive = Write::Archive { id: 1, at_ms: 500 };
    check(
        &[record(1, "101", false)],
        std::slice::from_ref(&archive),
        true,
        &[archived],
    );
    // Archived already, or never stored: nothing to say.
    check(
        &[record(1, "101", true)],
        std::slice::from_ref(&archive),
        true,
        &[],
    );
    check(&[], &[archive], true, &[]);
    let restore = Write::Restore { id: 1, at_ms: 600 };
    check(
        &[record(1, "101", true)],
        std::slice::from_ref(&restore),
        true,
        &[created(1, Some("101"), true)],
    );
    check(&[record(1, "101", false)], &[restore], true, &[]);
    // An authoritative read un-archives by upsert.
    check(
        &[record(1, "101", true)],
        &[upsert(1, "102")],
        true,
        &[created(1, Some("102"), true)],
    );
}

#[test]
fn merges_name_the_survivor_and_unknown_losers_say_nothing() {
    let merge = |loser: i64| {
        [
            Write::Alias { from: loser, to: 9 },
            Write::Remove { id: loser },
        ]
    };
    let writes: Vec<Write> = merge(1).into_iter().chain(merge(2)).collect();
    check(
        &[record(1, "101", false)],
        &writes,
        true,
        &[Event::RecordMerged {
            kind: Contacts,
            id: 1,
            into: 9,
        }],
    );
}

#[test]
fn a_privacy_deletion_carries_the_id_alone_also_of_an_archived_record() {
    let forgotten = Event::RecordDeleted {
        kind: Contacts,
        id: 1,
        archived: None,
    };
    check(
        &[record(1, "101", false)],
        &[Write::Purge { id: 1 }],
        true,
        std::slice::from_ref(&forgotten),
    );
    check(
        &[record(1, "101", true)],
        &[Write::Purge { id: 1 }],
        false,
        &[forgotten],
    );
    check(&[], &[Write::Purge { id: 1 }], true, &[]);
}

#[test]
fn associations_are_no_events() {
    let writes = [
        Write::Associate {
            from: 1,
            to_type: Companies,
            to: 2,
            removed: false,
        },
        Write::ReplaceAssociations {
            from: 1,
            to_type: Companies,
            to: vec![3],
        },
    ];
    check(&[record(1, "101", false)], &writes, true, &[]);
}

#[test]
fn owners_who_left() {
    let owner = |id: i64, archived: bool| Owner {
        id,
        archived,
        ..Owner::default()
    };
    let before = [
        owner(1, false),
        owner(2, false),
        owner(3, true),
        owner(4, false),
    ];
    let after = [owner(1, false), owner(2, true), owner(3, true)];
    assert_eq!(owners_left(&before, &after), [2, 4]);
    assert_eq!(owners_left(&[], &after), Vec::<i64>::new());
}

#[test]
fn names_round_trip() {
    for kind in EventKind::ALL {
        assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(
        EventKind::ALL.map(EventKind::as_str),
        crate::config::NOTIFY_EVENTS
    );
}
