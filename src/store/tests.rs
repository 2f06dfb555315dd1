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

fn raws(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|event| event.raw.as_str()).collect()
}

#[test]
fn appends_dedups_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let inbox = store.inbox();
        let outcome = inbox
            .append(
                1_000,
                &[
                    event(1, 1, "{\"a\":1}"),
                    event(2, 2, "{\"b\":2}"),
                    event(1, 1, "{\"a\":1}"),
                ],
            )
            .unwrap();
        assert_eq!(
            outcome,
            AppendOutcome {
                stored: 2,
                duplicates: 1
            }
        );
        // Same event id, different content: a distinct event.
        let outcome = inbox
            .append(2_000, &[event(1, 9, "{\"c\":3}"), event(2, 2, "{\"b\":2}")])
            .unwrap();
        assert_eq!(
            outcome,
            AppendOutcome {
                stored: 1,
                duplicates: 1
            }
        );
        inbox.note_rejected();
        inbox.append(3_000, &[]).unwrap();
        store.commit().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let inbox = store.inbox();
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
    // Dedup rows persisted too.
    let outcome = inbox.append(4_000, &[event(2, 2, "{\"b\":2}")]).unwrap();
    assert_eq!(outcome.duplicates, 1);
}

#[test]
fn consumer_reads_acks_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let raw = "x".repeat(1000);
    let events: Vec<NewEvent<'_>> = (0..100).map(|id| event(id, 0, &raw)).collect();
    {
        let store = Store::open(dir.path()).unwrap();
        let inbox = store.inbox();
        inbox.append(1_000, &events).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
    let inbox = store.inbox();
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
    // Pruned events' dedup rows went with them: a very late redelivery is stored again.
    assert_eq!(inbox.append(5_000, &events[..1]).unwrap().stored, 1);
}

#[test]
fn refuses_a_second_process_and_a_newer_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
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
