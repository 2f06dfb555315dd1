//! Ledger tests: the record and its file, the comparison with a store, and what `Store::open`
//! and `store::verify` make of them on real stores.

use super::*;

const RECORDED: Acknowledged = Acknowledged {
    format: 3,
    inbox_seq: 7,
    inbox_events: 7,
    export_job: 1,
};

fn holding(inbox: u64, job: u64) -> Holdings {
    Holdings {
        format: Some(3),
        inbox_seq: inbox,
        inbox_events: inbox,
        export_job: job,
        empty: false,
    }
}

#[test]
fn a_record_round_trips_and_any_changed_byte_is_refused() {
    let bytes = RECORDED.encode();
    assert_eq!(Acknowledged::decode(&bytes), Ok(RECORDED));
    for at in 0..RECORD_BYTES {
        let mut damaged = bytes;
        damaged[at] ^= 0x10;
        assert!(Acknowledged::decode(&damaged).is_err(), "byte {at}");
    }
    assert!(Acknowledged::decode(&bytes[..10]).is_err());
}

#[test]
fn the_file_is_rewritten_in_place_only_when_the_record_changes() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Ledger::read(dir.path()), Ok(None)));
    let ledger = Ledger::create(dir.path(), Acknowledged::default()).unwrap();
    ledger
        .record(|acked| {
            acked.format = 3;
            acked.inbox_seq = 7;
            acked.inbox_events = 7;
        })
        .unwrap();
    ledger.record(|acked| acked.export_job = 1).unwrap();
    let path = dir.path().join(FILE_NAME);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    ledger.record(|acked| acked.inbox_seq = 7).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_BYTES as u64);
    assert_eq!(Ledger::read(dir.path()).unwrap(), Some(RECORDED));
    assert!(!dir.path().join(format!("{FILE_NAME}.new")).exists());

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Ledger::read(dir.path()),
        Err(ReadError::Damaged(_))
    ));
}

#[test]
fn a_store_behind_the_record_is_named_for_what_it_lacks() {
    assert!(missing(Some(&RECORDED), &holding(7, 1)).is_empty());
    assert!(missing(Some(&RECORDED), &holding(9, 2)).is_empty());
    assert_eq!(
        missing(Some(&RECORDED), &holding(5, 1)),
        [
            "its inbox has stored 5 webhook events (through chunk 5), but 7 were \
          acknowledged (through chunk 7)"
        ]
    );
    assert_eq!(
        missing(Some(&RECORDED), &holding(7, 0)),
        ["it holds no export job, but job 1 was acknowledged"]
    );
    let empty = Holdings {
        empty: true,
        ..Holdings::default()
    };
    assert_eq!(missing(Some(&RECORDED), &empty).len(), 3);
    assert!(missing(None, &empty).is_empty(), "a new store");
    let formatless = Holdings {
        format: None,
        ..holding(7, 1)
    };
    assert_eq!(missing(None, &formatless).len(), 1);
    assert!(missing(None, &holding(7, 1)).is_empty(), "an old store");
    let older = Holdings {
        format: Some(2),
        ..holding(7, 1)
    };
    assert_eq!(missing(Some(&RECORDED), &older).len(), 1);
}

mod on_stores {
    use std::path::Path;

    use super::super::{Acknowledged, Ledger, FILE_NAME};
    use crate::store::tests::{open, store_acknowledged};
    use crate::store::{verify, Error, NewEvent, Position, Store, FORMAT_VERSION, MAX_EVENT_BYTES};

    fn event(event_id: i64, raw: &str) -> NewEvent<'_> {
        NewEvent {
            event_id,
            portal_id: 62515,
            digest: [event_id as u8; 16],
            raw,
        }
    }

    /// Acknowledges events `ids`, one request (and chunk) each.
    fn acknowledge(store: &Store, ids: std::ops::Range<i64>) {
        for id in ids {
            let outcome = store_acknowledged(store, id, &[&[event(id, "{}")]]);
            assert_eq!(outcome[0].stored, 1);
        }
    }

    fn create_job(store: &Store) -> u64 {
        let id = store.exports().next_id().unwrap();
        store
            .exports()
            .write(
                62515,
                id,
                Some(b"{\"state\":\"queued\"}"),
                &[(0, b"{}".to_vec())],
            )
            .unwrap();
        store.commit().unwrap();
        id
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    fn stored_ids(store: &Store) -> Vec<i64> {
        let events = store
            .inbox()
            .on_sled()
            .unwrap()
            .read_from(Position::default(), 100)
            .unwrap();
        events.iter().map(|e| e.received_at_ms).collect()
    }

    #[test]
    fn acknowledging_commits_record_what_they_made_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(
            store.acknowledged().unwrap(),
            Acknowledged {
                format: FORMAT_VERSION,
                ..Default::default()
            }
        );
        acknowledge(&store, 1..8);
        // A plain commit (the sync's, say) acknowledges no inbox event.
        store
            .inbox()
            .on_sled()
            .unwrap()
            .append_group(99, &[&[event(99, "{}")]])
            .unwrap();
        store.commit().unwrap();
        assert_eq!(create_job(&store), 1);
        let expected = Acknowledged {
            format: FORMAT_VERSION,
            inbox_seq: 7,
            inbox_events: 7,
            export_job: 1,
        };
        assert_eq!(store.acknowledged().unwrap(), expected);
        drop(store);
        assert_eq!(Ledger::read(dir.path()).unwrap(), Some(expected));
    }

    #[test]
    fn a_store_behind_its_ledger_is_refused_naming_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let older = tempfile::tempdir().unwrap();
        {
            let store = open(&dir.path().join("store"));
            acknowledge(&store, 1..6);
        }
        // A copy taken after 5 events: later only its `db` is put back under the newer ledger.
        copy_dir(&dir.path().join("store"), older.path());
        {
            let store = open(&dir.path().join("store"));
            acknowledge(&store, 6..8);
            create_job(&store);
        }
        let store_dir = dir.path().join("store");
        std::fs::copy(older.path().join("db"), store_dir.join("db")).unwrap();
        let error = Store::open(&store_dir).err().expect("refused");
        let Error::Behind { missing, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(
            missing,
            &[
                "its inbox has stored 5 webhook events (through chunk 5), but 7 were \
                 acknowledged (through chunk 7)",
                "it holds no export job, but job 1 was acknowledged",
            ]
        );
        let text = error.to_string();
        assert!(
            text.contains("restore a copy of the whole store directory"),
            "{text}"
        );
        assert!(matches!(verify(&store_dir), Err(Error::Behind { .. })));
        // The whole older copy, its own ledger with it, is a consistent store.
        let restored = open(older.path());
        assert_eq!(stored_ids(&restored), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn events_stored_after_the_last_acknowledged_ones_are_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            acknowledge(&store, 1..3);
            // A group whose acknowledging commit never happened (503, or a crash before the
            // answer), made durable by someone else's commit, digest rows written.
            store
                .inbox()
                .on_sled()
                .unwrap()
                .append_group(3, &[&[event(3, "{}"), event(4, "{}")]])
                .unwrap();
            store.inbox().persist_counters().unwrap();
            store.commit().unwrap();
            // Never shown: not to the consumer, not through the API.
            assert_eq!(stored_ids(&store), [1, 2]);
            assert!(store.inbox().by_event_id(3).unwrap().is_empty());
            assert_eq!(store.inbox().recent(10).unwrap().len(), 2);
        }
        assert_eq!(
            verify(dir.path()).unwrap().unacknowledged,
            2,
            "verify sees them and leaves them"
        );
        let store = open(dir.path());
        assert_eq!(stored_ids(&store), [1, 2]);
        assert_eq!(store.inbox().counters().unwrap().received, 2);
        assert_eq!(store.inbox().pending(), 2);
        // Their redelivery is stored (their digest rows went with them), after the others.
        acknowledge(&store, 3..5);
        assert_eq!(stored_ids(&store), [1, 2, 3, 4]);
    }

    #[test]
    fn a_store_from_before_the_ledger_gets_one_from_its_content() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            acknowledge(&store, 1..4);
            create_job(&store);
        }
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        let verified = verify(dir.path()).unwrap();
        assert_eq!(verified.recorded, None);
        let store = open(dir.path());
        let expected = Acknowledged {
            format: FORMAT_VERSION,
            inbox_seq: 3,
            inbox_events: 3,
            export_job: 1,
        };
        assert_eq!(store.acknowledged().unwrap(), expected);
        drop(store);
        assert_eq!(Ledger::read(dir.path()).unwrap(), Some(expected));
    }

    #[test]
    fn a_damaged_ledger_or_a_lost_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()));
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[13] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(matches!(error, Error::LedgerDamaged { .. }), "{error}");
        assert!(error.to_string().contains("delete that file"), "{error}");
        assert!(matches!(
            verify(dir.path()),
            Err(Error::LedgerDamaged { .. })
        ));

        // A store that holds data but lost its format, without a ledger to say more.
        std::fs::remove_file(&path).unwrap();
        {
            let store = open(dir.path());
            acknowledge(&store, 1..2);
        }
        std::fs::remove_file(&path).unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path())
                .segment_size(crate::store::SEGMENT_SIZE)
                .open()
                .unwrap();
            let meta = db.open_tree(crate::store::keys::META_TREE).unwrap();
            meta.remove(crate::store::keys::FORMAT_VERSION).unwrap();
            db.flush().unwrap();
        }
        let error = Store::open(dir.path()).err().expect("refused");
        assert!(error.to_string().contains("no format version"), "{error}");
    }

    #[test]
    fn a_ledger_without_its_store_is_refused_and_a_new_directory_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("new");
        {
            let store = open(&store_dir);
            acknowledge(&store, 1..3);
        }
        for name in ["db", "conf"] {
            std::fs::remove_file(store_dir.join(name)).unwrap();
        }
        let error = Store::open(&store_dir).err().expect("refused");
        assert!(
            error.to_string().contains("it holds nothing at all"),
            "{error}"
        );
        std::fs::remove_dir_all(&store_dir).unwrap();
        drop(open(&store_dir));
    }

    #[test]
    fn a_store_sled_cannot_read_is_refused_naming_what_was_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            acknowledge(&store, 1..8);
        }
        std::fs::write(
            dir.path().join("conf"),
            "this file is damaged beyond parsing\n",
        )
        .unwrap();
        for error in [
            Store::open(dir.path()).err().expect("refused"),
            verify(dir.path()).expect_err("refused"),
        ] {
            let text = error.to_string();
            assert!(matches!(error, Error::Behind { .. }), "{text}");
            assert!(text.contains("sled cannot read it"), "{text}");
            assert!(text.contains("7 webhook events through chunk 7"), "{text}");
        }
    }

    #[test]
    fn verify_changes_nothing_and_refuses_a_store_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        acknowledge(&store, 1..4);
        assert!(matches!(verify(dir.path()), Err(Error::Locked { .. })));
        drop(store);
        let before = files(dir.path());
        let verified = loop {
            match verify(dir.path()) {
                Err(Error::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                other => break other.unwrap(),
            }
        };
        assert_eq!(verified.held.inbox_events, 3);
        assert!(verified.rows >= 3);
        assert_eq!(files(dir.path()), before);
    }

    /// Every file under `dir` with its content.
    fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files(&path));
            } else {
                found.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn new_chunks_go_after_a_cursor_whose_chunks_were_all_pruned() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            acknowledge(&store, 1..3);
            store
                .inbox()
                .on_sled()
                .unwrap()
                .ack(Position { seq: 3, index: 0 })
                .unwrap();
            assert_eq!(store.inbox().prune(10).unwrap(), 2);
            store.commit().unwrap();
        }
        let store = open(dir.path());
        acknowledge(&store, 3..4);
        let cursor = store.inbox().on_sled().unwrap().cursor().unwrap();
        let unread = store
            .inbox()
            .on_sled()
            .unwrap()
            .read_from(cursor, 10)
            .unwrap();
        assert_eq!(unread.len(), 1, "the new event is after the cursor");
    }

    #[test]
    fn events_up_to_the_limit_never_reach_a_blob_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let blobs = || {
            std::fs::read_dir(dir.path().join("blobs"))
                .map(|entries| entries.count())
                .unwrap_or(0)
        };
        let biggest = format!("\"{}\"", "x".repeat(MAX_EVENT_BYTES - 2));
        // Dozens of leaves' worth of the biggest rows, alone and in groups, then rewritten.
        for id in 0..48 {
            let group: Vec<NewEvent<'_>> = (0..1 + id % 3)
                .map(|i| event(id * 4 + i, &biggest))
                .collect();
            store_acknowledged(&store, id, &[&group]);
        }
        store.inbox().erase(|_| false).unwrap();
        store
            .inbox()
            .on_sled()
            .unwrap()
            .ack(Position { seq: 40, index: 0 })
            .unwrap();
        store.inbox().prune(i64::MAX).unwrap();
        acknowledge(&store, 1_000..1_040);
        store.commit().unwrap();
        assert_eq!(
            blobs(),
            0,
            "no blob file for events of {MAX_EVENT_BYTES} bytes"
        );
        // The limit matters: four times bigger rows do go to blobs.
        let bigger = "x".repeat(4 * MAX_EVENT_BYTES);
        for id in 2_000..2_020 {
            store_acknowledged(&store, id, &[&[event(id, &bigger)]]);
        }
        store.commit().unwrap();
        assert!(
            blobs() > 0,
            "sled wrote no blob: the limit is needlessly tight"
        );
    }
}
