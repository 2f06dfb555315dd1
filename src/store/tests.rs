//! Store tests: the inbox's append, dedup, consumer cursor, listing and pruning, across reopen.

use super::*;

fn event(event_id: i64, digest_byte: u8, raw: &str) -> NewEvent<'_> {
    NewEvent {
        event_id,
        portal_id: 62515,
        digest: [digest_byte; 16],
        raw,
    }
}

/// Opens the store in `path`, once a store dropped just before has let go of it.
pub(super) fn open(path: &std::path::Path) -> Store {
    once_unlocked(path, || Store::open(path))
}

/// `open`'s result once the store in `path` is not locked. A store dropped just before may
/// still be locked for a moment: sled's background flusher holds the lock until it has
/// finished its last flush.
fn once_unlocked(path: &std::path::Path, open: impl Fn() -> Result<Store>) -> Store {
    for _ in 0..500 {
        match open() {
            Err(Error::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened.unwrap(),
        }
    }
    panic!("the store at {} stayed locked for 10 s", path.display());
}

/// The brief a caller would hand the store with `record` (the product's rule is
/// `ownership::brief`, above the store): a few fields, enough to see them kept in step.
pub(super) fn brief_of(_: crate::object::ObjectType, record: &Record) -> Brief {
    let get = |name: &str| record.properties.get(name).cloned().unwrap_or_default();
    Brief {
        id: record.id,
        name: get("firstname") + &get("name"),
        primary: get("email"),
        owner: get("hubspot_owner_id"),
        email_opt_out: get("hs_email_optout") == "true",
        updated_at_ms: record.updated_at_ms,
        archived: record.archived,
        ..Brief::default()
    }
}

/// Stores and acknowledges the events of one request.
fn append(store: &Store, received_at_ms: i64, events: &[NewEvent<'_>]) -> AppendOutcome {
    store_acknowledged(store, received_at_ms, &[events])[0]
}

/// Stores the requests' events and acknowledges them, as the webhook committer does.
pub(super) fn store_acknowledged(
    store: &Store,
    received_at_ms: i64,
    requests: &[&[NewEvent<'_>]],
) -> Vec<AppendOutcome> {
    let (outcomes, durable) = store.store_events(received_at_ms, requests).unwrap();
    store.acknowledge(durable).unwrap();
    outcomes
}

fn raws(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|event| event.raw.as_str()).collect()
}

#[test]
fn appends_dedups_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let outcome = store_acknowledged(
            &store,
            1_000,
            &[&[
                event(1, 1, "{\"a\":1}"),
                event(2, 2, "{\"b\":2}"),
                event(1, 1, "{\"a\":1}"),
            ]],
        );
        assert_eq!(
            outcome,
            [AppendOutcome {
                stored: 2,
                duplicates: 1
            }]
        );
        store.inbox().note_rejected();
        // Same event id, different content: a distinct event.
        let outcome = store_acknowledged(
            &store,
            2_000,
            &[&[event(1, 9, "{\"c\":3}"), event(2, 2, "{\"b\":2}")]],
        );
        assert_eq!(
            outcome,
            [AppendOutcome {
                stored: 1,
                duplicates: 1
            }]
        );
    }
    let store = open(dir.path());
    let inbox = store.inbox().on_sled().unwrap();
    assert_eq!(inbox.pending(), 3);
    let counters = inbox.counters();
    assert_eq!(
        (counters.received, counters.duplicates, counters.rejected),
        (3, 2, 1)
    );
    assert_eq!(counters.last_received_at_ms, Some(2_000));
    assert_eq!(
        raws(&inbox.read_from(Position::default(), 10).unwrap()),
        ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]
    );
    assert_eq!(raws(&inbox.recent(2).unwrap()), ["{\"c\":3}", "{\"b\":2}"]);
    assert_eq!(
        raws(&inbox.by_event_id(1).unwrap()),
        ["{\"a\":1}", "{\"c\":3}"]
    );
    assert!(inbox.by_event_id(77).unwrap().is_empty());
    // Dedup holds after a reopen too.
    let outcome = append(&store, 4_000, &[event(2, 2, "{\"b\":2}")]);
    assert_eq!(outcome.duplicates, 1);
}

#[test]
fn consumer_reads_acks_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let raw = "x".repeat(1000);
    let events: Vec<NewEvent<'_>> = (0..100).map(|id| event(id, 0, &raw)).collect();
    {
        let store = open(dir.path());
        let inbox = store.inbox().on_sled().unwrap();
        store_acknowledged(&store, 1_000, &[&events]);
        let first = inbox.read_from(inbox.cursor().unwrap(), 40).unwrap();
        assert_eq!(first.len(), 40);
        // 1000-byte events: several chunks of at most 32 KiB.
        assert!(first.last().unwrap().position.seq > first[0].position.seq);
        let next = Position {
            index: first.last().unwrap().position.index + 1,
            ..first.last().unwrap().position
        };
        inbox.ack(next).unwrap();
        assert_eq!(inbox.pending(), 60);
        store.commit().unwrap();
    }
    let store = open(dir.path());
    let inbox = store.inbox().on_sled().unwrap();
    assert_eq!(inbox.pending(), 60);
    let rest = inbox.read_from(inbox.cursor().unwrap(), 1000).unwrap();
    assert_eq!(rest.len(), 60);
    let end = Position {
        seq: rest.last().unwrap().position.seq + 1,
        index: 0,
    };
    inbox.ack(end).unwrap();
    assert_eq!(inbox.pending(), 0);
    // Nothing newer than the cutoff is pruned, everything acknowledged and older is.
    assert_eq!(inbox.prune(1_000).unwrap(), 0);
    assert_eq!(inbox.prune(1_001).unwrap(), 100);
    assert!(inbox.recent(10).unwrap().is_empty());
    // Pruned events are forgotten by dedup too: a very late redelivery is stored again.
    assert_eq!(append(&store, 5_000, &events[..1]).stored, 1);
}

/// The store's sled database opened directly. A store just dropped may hold its file lock a
/// moment longer (sled's flusher thread ends after the drop), so the lock is waited for.
fn raw_db(dir: &std::path::Path) -> sled::Db {
    let mut attempts = 0;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .segment_size(SEGMENT_SIZE)
            .open();
        match opened {
            Err(sled::Error::Io(error)) if error.to_string().contains("lock") && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            opened => return opened.unwrap(),
        }
    }
}

#[test]
fn dedup_needs_the_whole_key_and_drops_concurrent_duplicates_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let inbox = store.inbox().on_sled().unwrap();
    let first = [event(1, 1, "{\"a\":1}"), event(2, 2, "{\"b\":2}")];
    let second = [event(2, 2, "{\"b\":2}"), event(3, 3, "{\"c\":3}")];
    // Two requests of one group sharing event 2: stored once, in one shared chunk.
    let outcomes = store_acknowledged(&store, 1_000, &[&first, &second]);
    let stored = |outcome: &AppendOutcome| (outcome.stored, outcome.duplicates);
    assert_eq!(
        outcomes.iter().map(stored).collect::<Vec<_>>(),
        [(2, 0), (1, 1)]
    );
    let read = inbox.read_from(Position::default(), 10).unwrap();
    assert!(read.iter().all(|event| event.position.seq == 1));
    assert_eq!(append(&store, 2_000, &second).duplicates, 2);
    // Same id and the same check (the digest's first bytes), another digest: the check is
    // only a candidate, confirmed against the key in the chunk.
    let mut near = event(2, 2, "{\"b\":\"other\"}");
    near.digest[15] = 7;
    assert_eq!(append(&store, 3_000, &[near]).stored, 1);
    assert_eq!(append(&store, 4_000, &[near]).duplicates, 1);
    // Another portal, same id and digest: another event.
    let elsewhere = NewEvent {
        portal_id: 1,
        ..event(2, 2, "{\"b\":2}")
    };
    assert_eq!(append(&store, 5_000, &[elsewhere]).stored, 1);
    assert_eq!(
        raws(&inbox.by_event_id(2).unwrap()),
        ["{\"b\":2}", "{\"b\":\"other\"}", "{\"b\":2}"]
    );
    assert_eq!(inbox.remembered(), 5);
}

#[test]
fn dedup_survives_a_crash_that_lost_the_newest_digest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let events = [event(1, 1, "{\"a\":1}"), event(2, 2, "{\"b\":2}")];
    {
        let store = open(dir.path());
        store_acknowledged(&store, 1_000, &[&events[..1]]);
        store_acknowledged(&store, 2_000, &[&events[1..]]);
    }
    {
        // The crash came between chunk 2 and its digest row.
        let db = raw_db(dir.path());
        let digests = db.open_tree(keys::INBOX_DIGESTS_TREE).unwrap();
        assert_eq!(digests.len(), 2);
        digests.remove(2u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    {
        let store = open(dir.path());
        let outcome = append(&store, 3_000, &events);
        assert_eq!((outcome.stored, outcome.duplicates), (0, 2));
        assert_eq!(raws(&store.inbox().by_event_id(2).unwrap()), ["{\"b\":2}"]);
    }
    let digests = raw_db(dir.path())
        .open_tree(keys::INBOX_DIGESTS_TREE)
        .unwrap();
    assert_eq!(digests.len(), 2, "open derived the lost row again");
}

#[test]
fn erased_events_stay_deduplicated_until_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let inbox = store.inbox().on_sled().unwrap();
    let events = [event(1, 1, "{\"a\":1}"), event(2, 2, "{\"b\":2}")];
    append(&store, 1_000, &events);
    assert_eq!(inbox.erase(|raw| raw.contains('a')).unwrap(), 1);
    assert!(inbox.by_event_id(1).unwrap().is_empty());
    // A late redelivery of the erased event brings nobody's data back.
    assert_eq!(append(&store, 2_000, &events[..1]).duplicates, 1);
    append(&store, 3_000, &[event(3, 3, "{\"c\":3}")]);
    inbox.ack(Position { seq: 3, index: 0 }).unwrap();
    assert_eq!(inbox.prune(3_000).unwrap(), 2);
    assert_eq!(inbox.remembered(), 1);
    assert_eq!(append(&store, 4_000, &events).stored, 2);
    assert_eq!(inbox.remembered(), 3);
}

#[test]
fn a_format_3_store_gets_digest_rows_for_its_dedup_rows() {
    let dir = tempfile::tempdir().unwrap();
    let events = [event(1, 1, "{\"a\":1}"), event(2, 2, "{\"b\":2}")];
    {
        let store = open(dir.path());
        store_acknowledged(&store, 1_000, &[&events]);
    }
    {
        // Written by a build before digest rows: a dedup row per event, a watermark.
        let db = raw_db(dir.path());
        db.drop_tree(keys::INBOX_DIGESTS_TREE).unwrap();
        let ids = db.open_tree(keys::INBOX_IDS_TREE).unwrap();
        ids.insert(keys::event_key(1, 62515, &[1; 16]), &[0u8; 10][..])
            .unwrap();
        let meta = db.open_tree(keys::META_TREE).unwrap();
        meta.insert(keys::INBOX_INDEXED, &2u64.to_be_bytes()[..])
            .unwrap();
        meta.insert(keys::FORMAT_VERSION, &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
        std::fs::remove_file(dir.path().join(ledger::FILE_NAME)).unwrap();
    }
    {
        let store = open(dir.path());
        assert_eq!(append(&store, 2_000, &events).duplicates, 2);
    }
    let db = raw_db(dir.path());
    assert!(!db
        .tree_names()
        .iter()
        .any(|name| &name[..] == keys::INBOX_IDS_TREE.as_bytes()));
    let meta = db.open_tree(keys::META_TREE).unwrap();
    assert!(meta.get(keys::INBOX_INDEXED).unwrap().is_none());
    assert_eq!(db.open_tree(keys::INBOX_DIGESTS_TREE).unwrap().len(), 1);
}

#[test]
fn refuses_a_second_process_and_a_newer_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(
        matches!(Store::open(dir.path()), Err(Error::Locked { .. })),
        "second open"
    );
    drop(store);
    {
        let db = sled::Config::new()
            .path(dir.path())
            .segment_size(SEGMENT_SIZE)
            .open()
            .unwrap();
        let meta = db.open_tree(keys::META_TREE).unwrap();
        meta.insert(keys::FORMAT_VERSION, &(FORMAT_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(Store::open(dir.path()), Err(Error::TooNew { .. })));
}

mod mirror {
    use super::super::*;
    use super::{brief_of, open};
    use crate::object::ObjectType::{Companies, Contacts};

    const PORTAL: i64 = 62515;

    fn record(id: i64, updated_at_ms: i64) -> Record {
        Record {
            id,
            updated_at_ms,
            properties: [("name".to_string(), format!("Company {id}"))].into(),
            ..Record::default()
        }
    }

    fn domain(value: &str) -> Term {
        Term::new(TermKind::Domain, value)
    }

    fn upsert(id: i64, terms: &[&str]) -> Write {
        let record = record(id, 1);
        Write::Upsert {
            brief: Box::new(brief_of(Companies, &record)),
            record,
            terms: terms.iter().map(|value| domain(value)).collect(),
        }
    }

    #[test]
    fn records_terms_counts_and_cursor_move_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mirror = store.mirror();
        let writes = [
            upsert(1, &["acme.com"]),
            upsert(2, &["acme.com", "acme.de"]),
            upsert(3, &["beta.io"]),
        ];
        mirror
            .write(
                PORTAL,
                Companies,
                &writes,
                Some(("companies.backfill", b"after=4")),
            )
            .unwrap();
        assert_eq!(
            mirror
                .lookup(PORTAL, Companies, &domain("acme.com"))
                .unwrap(),
            [1, 2]
        );
        assert_eq!(mirror.count(PORTAL, Companies).unwrap(), 3);
        assert_eq!(
            mirror
                .cursor(PORTAL, "companies.backfill")
                .unwrap()
                .as_deref(),
            Some(&b"after=4"[..])
        );
        // Other portals and types see nothing.
        assert!(mirror
            .lookup(PORTAL + 1, Companies, &domain("acme.com"))
            .unwrap()
            .is_empty());
        assert!(mirror
            .lookup(PORTAL, Contacts, &domain("acme.com"))
            .unwrap()
            .is_empty());
        assert_eq!(mirror.count(PORTAL, Contacts).unwrap(), 0);

        // An update replaces the terms; the count stays.
        mirror
            .write(PORTAL, Companies, &[upsert(2, &["acme.de"])], None)
            .unwrap();
        assert_eq!(
            mirror
                .lookup(PORTAL, Companies, &domain("acme.com"))
                .unwrap(),
            [1]
        );
        assert_eq!(mirror.count(PORTAL, Companies).unwrap(), 3);

        // Archive hides from lookups and the count; restore brings both back.
        mirror
            .write(
                PORTAL,
                Companies,
                &[Write::Archive { id: 1, at_ms: 50 }],
                None,
            )
            .unwrap();
        assert!(mirror
            .lookup(PORTAL, Companies, &domain("acme.com"))
            .unwrap()
            .is_empty());
        assert_eq!(mirror.count(PORTAL, Companies).unwrap(), 2);
        let archived = mirror.get(PORTAL, Companies, 1).unwrap().unwrap();
        assert!(
            archived.archived
                && archived.archived_at_ms == Some(50)
                && archived.state_changed_at_ms == 50
        );
        mirror
            .write(
                PORTAL,
                Companies,
                &[Write::Restore { id: 1, at_ms: 60 }],
                None,
            )
            .unwrap();
        assert_eq!(
            mirror
                .lookup(PORTAL, Companies, &domain("acme.com"))
                .unwrap(),
            [1]
        );
        assert_eq!(mirror.count(PORTAL, Companies).unwrap(), 3);
        assert_eq!(
            mirror
                .get(PORTAL, Companies, 1)
                .unwrap()
                .unwrap()
                .state_changed_at_ms,
            60
        );
        let ids: Vec<i64> = mirror.ids(PORTAL, Companies).map(Result::unwrap).collect();
        assert_eq!(ids, [1, 2, 3]);
        drop(store);
        // Everything persisted.
        let store = open(dir.path());
        assert_eq!(store.mirror().count(PORTAL, Companies).unwrap(), 3);
    }

    #[test]
    fn merges_associations_and_privacy_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mirror = store.mirror();
        let email = |value: &str| Term::new(TermKind::Email, value);
        let contact = |id: i64, address: &str| Write::Upsert {
            record: record(id, 1),
            terms: vec![email(address)],
            brief: Box::new(Brief {
                id,
                ..Brief::default()
            }),
        };
        mirror
            .write(
                PORTAL,
                Contacts,
                &[
                    contact(10, "a@x.io"),
                    contact(11, "b@x.io"),
                    contact(12, "c@x.io"),
                ],
                None,
            )
            .unwrap();
        let link = |from, to| Write::Associate {
            from,
            to_type: Companies,
            to,
            removed: false,
        };
        mirror
            .write(
                PORTAL,
                Contacts,
                &[link(10, 1), link(11, 1), link(11, 2)],
                None,
            )
            .unwrap();
        assert_eq!(
            mirror.associated(PORTAL, Companies, 1, Contacts).unwrap(),
            [10, 11]
        );
        assert_eq!(
            mirror.associated(PORTAL, Contacts, 11, Companies).unwrap(),
            [1, 2]
        );
        let replace = Write::ReplaceAssociations {
            from: 11,
            to_type: Companies,
            to: vec![3],
        };
        mirror.write(PORTAL, Contacts, &[replace], None).unwrap();
        assert_eq!(
            mirror.associated(PORTAL, Contacts, 11, Companies).unwrap(),
            [3]
        );
        assert_eq!(
            mirror.associated(PORTAL, Companies, 1, Contacts).unwrap(),
            [10]
        );

        // Merge 10 into 11, then 11 into 12: requests for 10 reach 12.
        mirror
            .write(
                PORTAL,
                Contacts,
                &[Write::Alias { from: 10, to: 11 }, Write::Remove { id: 10 }],
                None,
            )
            .unwrap();
        mirror
            .write(
                PORTAL,
                Contacts,
                &[Write::Alias { from: 11, to: 12 }, Write::Remove { id: 11 }],
                None,
            )
            .unwrap();
        assert_eq!(mirror.resolve(PORTAL, Contacts, 10).unwrap(), 12);
        assert_eq!(mirror.find(PORTAL, Contacts, 10).unwrap().unwrap().id, 12);
        assert!(mirror.get(PORTAL, Contacts, 10).unwrap().is_none());
        assert!(mirror
            .lookup(PORTAL, Contacts, &email("a@x.io"))
            .unwrap()
            .is_empty());
        assert!(mirror
            .associated(PORTAL, Companies, 1, Contacts)
            .unwrap()
            .is_empty());
        assert_eq!(mirror.count(PORTAL, Contacts).unwrap(), 1);

        // Privacy deletion: record, terms and associations go; a tombstone stays.
        mirror
            .write(PORTAL, Contacts, &[link(12, 5)], None)
            .unwrap();
        mirror
            .write(PORTAL, Contacts, &[Write::Purge { id: 12 }], None)
            .unwrap();
        assert!(mirror.get(PORTAL, Contacts, 12).unwrap().is_none());
        assert!(mirror
            .lookup(PORTAL, Contacts, &email("c@x.io"))
            .unwrap()
            .is_empty());
        assert!(mirror
            .associated(PORTAL, Companies, 5, Contacts)
            .unwrap()
            .is_empty());
        assert!(mirror.is_purged(PORTAL, Contacts, 12).unwrap());
        assert_eq!(mirror.count(PORTAL, Contacts).unwrap(), 0);
    }

    #[test]
    fn reference_sets_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let reference = store.reference();
        let owner = |id: i64| Owner {
            id,
            email: format!("o{id}@x.io"),
            ..Owner::default()
        };
        reference
            .replace_owners(PORTAL, &[owner(1), owner(2)])
            .unwrap();
        reference.replace_owners(PORTAL + 1, &[owner(9)]).unwrap();
        reference
            .replace_owners(PORTAL, &[owner(2), owner(3)])
            .unwrap();
        let ids: Vec<i64> = reference
            .owners(PORTAL)
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, [2, 3]);
        assert!(reference.owner(PORTAL, 1).unwrap().is_none());
        assert_eq!(
            reference.owner(PORTAL + 1, 9).unwrap().unwrap().email,
            "o9@x.io"
        );
        let property = |name: &str| PropertyDef {
            name: name.into(),
            ..PropertyDef::default()
        };
        reference
            .replace_properties(
                PORTAL,
                Contacts,
                &[property("email"), property("firstname")],
            )
            .unwrap();
        reference
            .replace_properties(PORTAL, Companies, &[property("domain")])
            .unwrap();
        assert_eq!(reference.properties(PORTAL, Contacts).unwrap().len(), 2);
        assert_eq!(
            reference.properties(PORTAL, Companies).unwrap()[0].name,
            "domain"
        );
    }
}

mod briefs {
    use super::super::*;
    use super::{brief_of, once_unlocked, open};
    use crate::object::ObjectType::{self, Companies, Contacts};

    const PORTAL: i64 = 62515;

    fn contact(id: i64, email: &str, first: &str) -> Write {
        let record = Record {
            id,
            updated_at_ms: 7,
            properties: [
                ("email".to_string(), email.to_string()),
                ("firstname".to_string(), first.to_string()),
                ("hubspot_owner_id".to_string(), "101".to_string()),
                ("hs_email_optout".to_string(), "true".to_string()),
            ]
            .into(),
            ..Record::default()
        };
        Write::Upsert {
            brief: Box::new(brief_of(Contacts, &record)),
            record,
            terms: vec![Term::new(TermKind::Email, email)],
        }
    }

    fn brief(store: &Store, kind: ObjectType, id: i64) -> Option<Brief> {
        store.mirror().brief(PORTAL, kind, id).unwrap()
    }

    #[test]
    fn briefs_follow_their_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mirror = store.mirror();
        mirror
            .write(
                PORTAL,
                Contacts,
                &[contact(1, "ann@x.io", "Ann"), contact(2, "bo@x.io", "Bo")],
                None,
            )
            .unwrap();
        let ann = brief(&store, Contacts, 1).unwrap();
        assert_eq!((ann.name.as_str(), ann.owner_id()), ("Ann", Some(101)));
        assert!(ann.email_opt_out);
        // Same key, other type: nothing.
        assert!(brief(&store, Companies, 1).is_none());

        // Updated with the record.
        mirror
            .write(PORTAL, Contacts, &[contact(1, "ann@y.io", "Anna")], None)
            .unwrap();
        assert_eq!(brief(&store, Contacts, 1).unwrap().name, "Anna");
        assert_eq!(brief(&store, Contacts, 1).unwrap().primary, "ann@y.io");

        // Archived and restored with it.
        mirror
            .write(
                PORTAL,
                Contacts,
                &[Write::Archive { id: 1, at_ms: 9 }],
                None,
            )
            .unwrap();
        assert!(brief(&store, Contacts, 1).unwrap().archived);
        mirror
            .write(
                PORTAL,
                Contacts,
                &[Write::Restore { id: 1, at_ms: 10 }],
                None,
            )
            .unwrap();
        assert!(!brief(&store, Contacts, 1).unwrap().archived);

        // A merge's losing side goes with its record.
        mirror
            .write(
                PORTAL,
                Contacts,
                &[Write::Alias { from: 2, to: 1 }, Write::Remove { id: 2 }],
                None,
            )
            .unwrap();
        assert!(brief(&store, Contacts, 2).is_none());
        assert!(brief(&store, Contacts, 1).is_some());

        // A privacy deletion leaves nothing of the person in any tree.
        assert!(store
            .trees_containing(b"ann@y.io")
            .unwrap()
            .contains(&keys::BRIEFS_TREE.to_string()));
        assert!(store
            .trees_containing(b"Anna")
            .unwrap()
            .contains(&keys::BRIEFS_TREE.to_string()));
        mirror
            .write(PORTAL, Contacts, &[Write::Purge { id: 1 }], None)
            .unwrap();
        assert!(brief(&store, Contacts, 1).is_none());
        for needle in [&b"ann@y.io"[..], b"Anna"] {
            assert_eq!(
                store.trees_containing(needle).unwrap(),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn opening_a_format_1_store_builds_the_briefs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            store
                .mirror()
                .write(
                    PORTAL,
                    Contacts,
                    &[contact(1, "ann@x.io", "Ann"), contact(2, "bo@x.io", "Bo")],
                    None,
                )
                .unwrap();
            store.commit().unwrap();
        }
        {
            // A format-1 store: no briefs, every term a row of `index.v1`.
            let db = sled::Config::new()
                .path(dir.path())
                .segment_size(SEGMENT_SIZE)
                .open()
                .unwrap();
            db.drop_tree(keys::BRIEFS_TREE).unwrap();
            db.drop_tree(keys::TERMS_TREE).unwrap();
            let index = db.open_tree(keys::INDEX_TREE).unwrap();
            let code = Contacts.code();
            for (term, id) in [
                ("ann@x.io", 1),
                ("bo@x.io", 2),
                ("shared@x.io", 1),
                ("shared@x.io", 2),
            ] {
                index
                    .insert(keys::term_key(PORTAL, code, b'e', term, id), &[][..])
                    .unwrap();
            }
            index
                .insert(keys::term_key(PORTAL, code, b'o', "101", 1), &[][..])
                .unwrap();
            db.open_tree(keys::META_TREE)
                .unwrap()
                .insert(keys::FORMAT_VERSION, &1u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
            // Nor did it keep a ledger.
            std::fs::remove_file(dir.path().join(ledger::FILE_NAME)).unwrap();
        }
        // Without the caller's brief rule the store cannot build them: refused, untouched.
        assert!(matches!(
            Store::open(dir.path()),
            Err(Error::NeedsUpgrade { found: 1, .. })
        ));
        let store = once_unlocked(dir.path(), || {
            Store::open_upgrading(dir.path(), DEFAULT_CACHE_MB, Some(brief_of))
        });
        let email = |value: &str| Term::new(TermKind::Email, value);
        let mirror = store.mirror();
        assert_eq!(
            mirror.lookup(PORTAL, Contacts, &email("ann@x.io")).unwrap(),
            [1]
        );
        assert_eq!(
            mirror
                .lookup(PORTAL, Contacts, &email("shared@x.io"))
                .unwrap(),
            [1, 2]
        );
        let owner = Term::new(TermKind::Owner, "101");
        assert_eq!(mirror.lookup(PORTAL, Contacts, &owner).unwrap(), [1]);
        // Moved, not copied: the emails are only in the records, briefs and term lists.
        let mut holders = store.trees_containing(b"shared@x.io").unwrap();
        holders.sort();
        assert_eq!(holders, [keys::TERMS_TREE]);
        assert_eq!(brief(&store, Contacts, 1).unwrap().name, "Ann");
        assert_eq!(brief(&store, Contacts, 2).unwrap().name, "Bo");
        let meta = store
            .embedded()
            .unwrap()
            .db
            .open_tree(keys::META_TREE)
            .unwrap();
        assert_eq!(
            keys::u32_from(&meta.get(keys::FORMAT_VERSION).unwrap().unwrap()).unwrap(),
            FORMAT_VERSION
        );
    }
}

mod owner_table {
    use super::open;
    use crate::store::Owner;

    const PORTAL: i64 = 62515;

    fn owner(id: i64, email: &str, archived: bool) -> Owner {
        Owner {
            id,
            email: email.into(),
            archived,
            ..Owner::default()
        }
    }

    #[test]
    fn owners_in_memory_follow_updates_archives_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            let reference = store.reference();
            assert!(reference.shared_owner(PORTAL, 1).unwrap().is_none());
            reference
                .replace_owners(
                    PORTAL,
                    &[owner(1, "a@x.io", false), owner(2, "b@x.io", false)],
                )
                .unwrap();
            reference
                .replace_owners(PORTAL + 1, &[owner(1, "other@x.io", false)])
                .unwrap();
            assert_eq!(
                reference.shared_owner(PORTAL, 1).unwrap().unwrap().email,
                "a@x.io"
            );
            // Updated, archived and dropped owners: the next read sees the replacement.
            reference
                .replace_owners(
                    PORTAL,
                    &[owner(1, "a2@x.io", false), owner(3, "c@x.io", true)],
                )
                .unwrap();
            assert_eq!(
                reference.shared_owner(PORTAL, 1).unwrap().unwrap().email,
                "a2@x.io"
            );
            assert!(reference.shared_owner(PORTAL, 2).unwrap().is_none());
            assert!(reference.owner(PORTAL, 3).unwrap().unwrap().archived);
            assert_eq!(
                reference
                    .shared_owner(PORTAL + 1, 1)
                    .unwrap()
                    .unwrap()
                    .email,
                "other@x.io"
            );
        }
        // Loaded from the rows on open.
        let store = open(dir.path());
        let reference = store.reference();
        assert_eq!(
            reference.owner(PORTAL, 1).unwrap().unwrap().email,
            "a2@x.io"
        );
        assert!(reference.owner(PORTAL, 2).unwrap().is_none());
        assert!(reference.shared_owner(PORTAL, 3).unwrap().unwrap().archived);
        assert_eq!(
            reference.owner(PORTAL + 1, 1).unwrap().unwrap().email,
            "other@x.io"
        );
        let listed: Vec<(i64, String, bool)> = reference
            .owners(PORTAL)
            .unwrap()
            .into_iter()
            .map(|owner| (owner.id, owner.email, owner.archived))
            .collect();
        assert_eq!(
            listed,
            [
                (1, "a2@x.io".to_owned(), false),
                (3, "c@x.io".to_owned(), true)
            ]
        );
    }
}

mod matches {
    use super::open;
    use crate::object::ObjectType::{Companies, Contacts};

    const PORTAL: i64 = 62515;

    #[test]
    fn first_matches_are_answered_at_once_and_written_behind() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            let ownership = store.ownership();
            assert_eq!(
                ownership.matched_at(PORTAL, Companies, 1, 100).unwrap(),
                100
            );
            // Stable, before and after the write.
            assert_eq!(
                ownership.matched_at(PORTAL, Companies, 1, 200).unwrap(),
                100
            );
            assert_eq!(
                ownership.matched_at(PORTAL, Companies, 2, 300).unwrap(),
                300
            );
            assert_eq!(ownership.matched_at(PORTAL, Contacts, 1, 400).unwrap(), 400);
            assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 2);
            assert_eq!(store.write_matches().unwrap(), 3);
            assert_eq!(store.write_matches().unwrap(), 0);
            assert_eq!(
                ownership.matched_at(PORTAL, Companies, 1, 500).unwrap(),
                100
            );
            assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 2);
            assert_eq!(ownership.matched_count(PORTAL, Contacts).unwrap(), 1);
            // Answered but not written when the process dies: lost, and not counted.
            assert_eq!(
                ownership.matched_at(PORTAL, Companies, 3, 600).unwrap(),
                600
            );
            assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 3);
        }
        let store = open(dir.path());
        let ownership = store.ownership();
        assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 2);
        assert_eq!(
            ownership.matched_at(PORTAL, Companies, 1, 700).unwrap(),
            100
        );
        assert_eq!(
            ownership.matched_at(PORTAL, Companies, 3, 800).unwrap(),
            800
        );

        // Clearing forgets stored and pending matches of one type, and their count.
        assert_eq!(ownership.clear_matches(PORTAL, Companies).unwrap(), 3);
        assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 0);
        assert_eq!(store.write_matches().unwrap(), 0);
        assert_eq!(ownership.matched_count(PORTAL, Contacts).unwrap(), 1);
        // The other type's stored match is kept, in memory too.
        assert_eq!(ownership.matched_at(PORTAL, Contacts, 1, 850).unwrap(), 400);
        assert_eq!(
            ownership.matched_at(PORTAL, Companies, 1, 900).unwrap(),
            900
        );
        assert_eq!(store.write_matches().unwrap(), 1);
        assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 1);
        assert_eq!(
            ownership.matched_at(PORTAL, Companies, 1, 950).unwrap(),
            900
        );
        // Cleared again after the write: the in-memory copy of the row goes with it.
        assert_eq!(ownership.clear_matches(PORTAL, Companies).unwrap(), 1);
        assert_eq!(
            ownership.matched_at(PORTAL, Companies, 1, 990).unwrap(),
            990
        );
        assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 1);
        drop(store);
        // What is reloaded on open is what was stored.
        let store = open(dir.path());
        let ownership = store.ownership();
        assert_eq!(ownership.matched_count(PORTAL, Companies).unwrap(), 0);
        assert_eq!(ownership.matched_at(PORTAL, Contacts, 1, 999).unwrap(), 400);
    }

    #[test]
    fn stored_matches_in_memory_agree_with_the_rows_after_merges_and_purges() {
        use crate::store::Write;
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            let ownership = store.ownership();
            for id in 1..=3 {
                ownership
                    .matched_at(PORTAL, Contacts, id, 100 * id)
                    .unwrap();
            }
            assert_eq!(store.write_matches().unwrap(), 3);
            // A merge's losing side and a privacy deletion remove records, not their rows
            // in `matches` (ids and times only): memory and rows keep agreeing.
            let writes = [
                Write::Remove { id: 1 },
                Write::Alias { from: 1, to: 2 },
                Write::Purge { id: 3 },
            ];
            store
                .mirror()
                .write(PORTAL, Contacts, &writes, None)
                .unwrap();
            assert_eq!(ownership.matched_at(PORTAL, Contacts, 1, 900).unwrap(), 100);
            assert_eq!(ownership.matched_at(PORTAL, Contacts, 3, 900).unwrap(), 300);
            assert_eq!(ownership.matched_count(PORTAL, Contacts).unwrap(), 3);
            store.commit().unwrap();
        }
        let store = open(dir.path());
        let ownership = store.ownership();
        assert_eq!(ownership.matched_count(PORTAL, Contacts).unwrap(), 3);
        for id in 1..=3 {
            assert_eq!(
                ownership.matched_at(PORTAL, Contacts, id, 999).unwrap(),
                100 * id
            );
        }
        assert_eq!(store.write_matches().unwrap(), 0);
        assert_eq!(ownership.clear_matches(PORTAL, Contacts).unwrap(), 3);
        assert_eq!(
            ownership.matched_at(PORTAL, Contacts, 2, 1_000).unwrap(),
            1_000
        );
    }

    #[test]
    fn concurrent_first_matches_agree_and_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let answers: Vec<Vec<i64>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|thread| {
                    let store = &store;
                    scope.spawn(move || {
                        (0..2_000)
                            .map(|id| {
                                if id % 500 == 0 && thread == 0 {
                                    store.write_matches().unwrap();
                                }
                                store
                                    .ownership()
                                    .matched_at(PORTAL, Companies, id, 1_000 * thread + id)
                                    .unwrap()
                            })
                            .collect()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
        store.write_matches().unwrap();
        assert_eq!(
            store.ownership().matched_count(PORTAL, Companies).unwrap(),
            2_000
        );
    }
}

#[test]
fn user_mappings_from_before_portals_are_filed_under_the_first_portal() {
    const HUB: i64 = 62_515;
    let dir = tempfile::tempdir().unwrap();
    let ann = UserMapping {
        email: "ann@x.io".into(),
        owner_id: Some(1),
        source: MappingSource::Manual,
    };
    drop(open(dir.path()));
    {
        // A store from before user mappings carried a portal: the email is the key.
        let db = raw_db(dir.path());
        let tree = db.open_tree(keys::USER_MAP_TREE).unwrap();
        tree.insert("ann@x.io", record::encode(&ann)).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    let ownership = store.ownership();
    assert_eq!(ownership.mappings(HUB).unwrap(), vec![]);
    assert_eq!(ownership.move_mappings(None, HUB).unwrap(), 1);
    assert_eq!(ownership.mappings(HUB).unwrap(), vec![ann.clone()]);
    assert_eq!(ownership.move_mappings(None, HUB).unwrap(), 0, "once");
    // Moving onto a portal that has a mapping of the email keeps that one.
    let mine = UserMapping {
        owner_id: Some(9),
        ..ann.clone()
    };
    ownership.set_mapping(HUB + 1, &mine).unwrap();
    assert_eq!(ownership.move_mappings(Some(HUB), HUB + 1).unwrap(), 1);
    assert_eq!(ownership.mappings(HUB).unwrap(), vec![]);
    assert_eq!(ownership.mappings(HUB + 1).unwrap(), vec![mine]);
    assert_eq!(ownership.move_mappings(Some(HUB + 1), HUB + 1).unwrap(), 0);
    assert_eq!(ownership.mappings(HUB + 1).unwrap().len(), 1);
}
