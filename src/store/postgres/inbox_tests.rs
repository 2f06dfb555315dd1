//! The webhook inbox against a real PostgreSQL server (`kit::postgres`): redelivery detection
//! across replicas, windows, the journal's cursor, pruning and erasure, the move to schema 11.

use std::time::Duration;

use tokio::time::Instant;

use super::tests::{database, depose, lead, leading_database};
use super::{Database, Error, Migrated, SCHEMA_VERSION};
use crate::kit::postgres::Cluster;

fn event(portal_id: i64, event_id: i64, raw: &str) -> crate::store::NewEvent<'_> {
    let mut digest = [0; 16];
    digest[..8].copy_from_slice(&event_id.to_le_bytes());
    crate::store::NewEvent {
        event_id,
        portal_id,
        digest,
        raw,
    }
}

fn outcome(stored: u32, duplicates: u32) -> crate::store::AppendOutcome {
    crate::store::AppendOutcome { stored, duplicates }
}

/// The keys of a window's events: portal, event id, arrival.
fn keys(window: &super::Window) -> Vec<(i64, i64, i64)> {
    window
        .events
        .iter()
        .map(|event| (event.portal_id, event.event_id, event.received_at_ms))
        .collect()
}

#[tokio::test]
async fn the_leader_applies_each_event_once_whichever_replica_stored_it() {
    let (database, url) = database().await;
    database.migrate().await.unwrap();
    let fence = lead(&database).await;
    let first = super::Inbox::new(database.clone());
    let second = super::Inbox::new(Database::new(&url, 2, None).unwrap());
    let raw = r#"{"eventId":1}"#;
    let append =
        async |inbox: &super::Inbox, at: i64, requests: &[&[crate::store::NewEvent<'_>]]| {
            let counting = super::Counting {
                replica: "any",
                rejected: 0,
            };
            let requests = crate::store::Appending::webhooks(requests);
            inbox
                .append_group(at, &requests, None, Some(counting))
                .await
                .unwrap()
        };

    let a = [event(7, 1, raw), event(7, 2, raw), event(7, 1, raw)];
    let b = [event(7, 2, raw), event(8, 1, raw)];
    // Stored as they come: redeliveries are dropped when applied.
    let outcomes = append(&first, 1_000, &[&a, &b]).await;
    assert_eq!(outcomes, [outcome(3, 0), outcome(2, 0)]);
    assert_eq!(first.pending().await.unwrap(), 5);

    // Event 1 twice in the first request; event 2 again in the second; portal 8's event 1 is
    // another event.
    let window = first.window(100).await.unwrap();
    assert_eq!(keys(&window), [(7, 1, 1_000), (7, 2, 1_000), (8, 1, 1_000)]);
    assert!(window.events.iter().all(|event| event.raw == raw));
    assert_eq!(window.events_read(), 5);
    first.mark_applied(fence, "leader", &window).await.unwrap();
    assert_eq!(first.pending().await.unwrap(), 0);

    // A redelivery to the other replica, after the first copy was applied.
    let redelivered = [event(7, 1, raw), event(7, 3, raw)];
    append(&second, 2_000, &[&redelivered]).await;
    let window = first.window(100).await.unwrap();
    assert_eq!(keys(&window), [(7, 3, 2_000)]);
    first.mark_applied(fence, "leader", &window).await.unwrap();

    // Redeliveries only: a window with nothing to apply, which marking drops.
    append(&second, 3_000, &[&a]).await;
    let window = first.window(100).await.unwrap();
    assert!(window.events.is_empty() && !window.is_empty());
    first.mark_applied(fence, "leader", &window).await.unwrap();
    assert!(first.window(100).await.unwrap().is_empty());

    // Counted received when stored, moved to the duplicates when dropped.
    let counters = first.counters().await.unwrap();
    assert_eq!((counters.received, counters.duplicates), (4, 6));
}

#[tokio::test]
async fn a_window_takes_whole_requests_in_arrival_order_up_to_its_size() {
    let (database, fence) = leading_database().await;
    let inbox = super::Inbox::new(database);
    let requests: Vec<Vec<crate::store::NewEvent<'_>>> = (0..100)
        .map(|request| (0..3).map(|i| event(1, request * 3 + i, "{}")).collect())
        .collect();
    let slices: Vec<&[crate::store::NewEvent<'_>]> = requests.iter().map(Vec::as_slice).collect();
    inbox.append(0, &slices).await.unwrap();
    let mut ids = Vec::new();
    loop {
        let window = inbox.window(100).await.unwrap();
        if window.is_empty() {
            break;
        }
        // 34 requests of 3: the last one whole.
        assert!(window.events.len() == 102 || window.events.len() == 96);
        ids.extend(window.events.iter().map(|event| event.event_id));
        inbox.mark_applied(fence, "leader", &window).await.unwrap();
    }
    assert_eq!(ids, (0..300).collect::<Vec<i64>>());
}

#[tokio::test]
async fn the_inbox_refuses_while_the_database_is_away_and_loses_nothing_it_acknowledged() {
    // A cluster of its own: this test stops it.
    let cluster = Cluster::start().unwrap();
    let url = cluster.fresh_database().await.unwrap();
    let database = Database::new(&url, 4, None).unwrap();
    database.migrate().await.unwrap();
    let inbox = super::Inbox::new(database);
    let raw = "{}";

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let mut next_id = 0;
    let append = async |inbox: &super::Inbox, next_id: &mut i64| {
        *next_id += 1;
        let events = [event(1, *next_id, raw)];
        inbox.append(0, &[&events]).await.map(|_| *next_id)
    };
    for _ in 0..20 {
        acknowledged.push(append(&inbox, &mut next_id).await.unwrap());
    }
    cluster.pause().unwrap();
    for _ in 0..5 {
        match append(&inbox, &mut next_id).await {
            Ok(id) => panic!("event {id} acknowledged with the database stopped"),
            Err(Error::Unavailable(_)) => refused += 1,
            Err(other) => panic!("not an unavailable database: {other:?}"),
        }
    }
    cluster.resume().unwrap();
    // The same inbox recovers: the pool drops the broken connections and makes new ones.
    let resumed = Instant::now();
    loop {
        match append(&inbox, &mut next_id).await {
            Ok(id) => {
                acknowledged.push(id);
                break;
            }
            Err(error) if resumed.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(%error, "not yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no recovery within 10 s: {error}"),
        }
    }
    assert_eq!(refused, 5);
    let stored: Vec<i64> = inbox
        .window(1_000)
        .await
        .unwrap()
        .events
        .iter()
        .map(|event| event.event_id)
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged event {id} lost");
    }
}

#[tokio::test]
async fn a_journal_cursor_moves_with_its_events_and_only_behind_the_fence() {
    let (database, fence) = leading_database().await;
    let inbox = super::Inbox::new(database.clone());
    let events = [event(7, 1, "{}"), event(7, 2, "{}"), event(7, 1, "{}")];
    let moved = crate::store::CursorMove {
        portal_id: 7,
        position: b"offset-1".to_vec(),
    };
    let request = crate::store::Appending {
        events: &events,
        cursor: Some(&moved),
    };
    assert!(matches!(
        inbox.append_group(0, &[request], None, None).await,
        Err(Error::Refused(_))
    ));
    let outcomes = inbox
        .append_group(0, &[request], Some(fence), None)
        .await
        .unwrap();
    assert_eq!(outcomes, [outcome(3, 0)]);
    let cursor = |inbox: &super::Inbox| {
        let inbox = inbox.clone();
        async move {
            let cursor = inbox.journal_cursor(7).await.unwrap().unwrap();
            (cursor.position, cursor.stored, cursor.duplicates)
        }
    };
    assert_eq!(cursor(&inbox).await, (b"offset-1".to_vec(), 3, 0));
    // The leader drops the redelivery when it applies, and moves the journal's count.
    let window = inbox.window(10).await.unwrap();
    assert_eq!(window.events.len(), 2);
    inbox.mark_applied(fence, "leader", &window).await.unwrap();
    assert_eq!(cursor(&inbox).await, (b"offset-1".to_vec(), 2, 1));
    let counters = inbox.counters().await.unwrap();
    assert_eq!(counters.duplicates, 0, "the journal's are its own");

    // A deposed leader's journal read stores nothing and moves nothing.
    depose(&database).await;
    let later = [event(7, 3, "{}")];
    let stale = crate::store::CursorMove {
        portal_id: 7,
        position: b"offset-2".to_vec(),
    };
    let refused = inbox
        .append_group(
            0,
            &[crate::store::Appending {
                events: &later,
                cursor: Some(&stale),
            }],
            Some(fence),
            None,
        )
        .await;
    assert!(matches!(refused, Err(Error::Fenced { .. })), "{refused:?}");
    assert!(inbox.window(10).await.unwrap().is_empty());
    assert_eq!(
        inbox.journal_cursor(7).await.unwrap().unwrap().position,
        b"offset-1"
    );
}

#[tokio::test]
async fn applied_events_are_pruned_and_erased_ones_stay_deduplicated() {
    let (database, fence) = leading_database().await;
    let inbox = super::Inbox::new(database);
    let old = [
        event(1, 1, r#"{"email":"ann@x.io"}"#),
        event(1, 2, r#"{"email":"bob@x.io"}"#),
    ];
    inbox.append(1_000, &[&old]).await.unwrap();
    let new = [event(1, 3, r#"{"email":"ann@x.io"}"#)];
    inbox.append(5_000, &[&new]).await.unwrap();
    assert_eq!(inbox.pending().await.unwrap(), 3);

    // A window of two events: the first request.
    let window = inbox.window(2).await.unwrap();
    assert_eq!(window.events.len(), 2);
    inbox.mark_applied(fence, "leader", &window).await.unwrap();
    assert_eq!(inbox.pending().await.unwrap(), 1);

    let erased = inbox
        .erase(fence, |raw| raw.contains("ann@x.io"))
        .await
        .unwrap();
    assert_eq!(erased, 2);
    assert!(
        inbox.by_event_id(1).await.unwrap().is_empty(),
        "an erased event is not shown"
    );
    assert_eq!(inbox.by_event_id(2).await.unwrap().len(), 1);
    let recent = inbox.recent(10).await.unwrap();
    assert_eq!(recent.len(), 3);
    assert!(recent.iter().all(|event| !event.raw.contains("ann@x.io")));

    // A redelivery of an erased event is still dropped, and shown once.
    let again = [event(1, 3, r#"{"email":"ann@x.io"}"#)];
    inbox.append(6_000, &[&again]).await.unwrap();
    assert_eq!(inbox.recent(10).await.unwrap().len(), 3);
    let window = inbox.window(100).await.unwrap();
    assert_eq!((window.events.len(), window.events_read()), (1, 2));
    assert_eq!(window.events[0].raw, crate::store::ERASED);
    inbox.mark_applied(fence, "leader", &window).await.unwrap();

    // Only applied events older than the cutoff go; a redelivery of one is new again.
    assert_eq!(inbox.prune(fence, 5_000).await.unwrap(), 2);
    assert_eq!(inbox.recent(10).await.unwrap().len(), 1);
    inbox.append(7_000, &[&old[..1]]).await.unwrap();
    let window = inbox.window(100).await.unwrap();
    assert_eq!((window.events.len(), window.events_read()), (1, 1));
}

#[tokio::test]
async fn the_inbox_keeps_its_events_through_the_move_to_a_row_per_request() {
    let (database, url) = database().await;
    let mut client = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .map(|(client, connection)| {
            tokio::spawn(connection);
            client
        })
        .unwrap();
    super::schema::migrate_to(&mut client, 10).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO inbox_events (portal_id, event_id, digest, received_at_ms, raw, applied)
             VALUES (7, 1, '\\x01000000000000000000000000000000', 1000, '{}', true),
                    (7, 2, '\\x02000000000000000000000000000000', 2000, '{}', false)",
        )
        .await
        .unwrap();
    assert_eq!(
        super::schema::migrate(&mut client).await.unwrap(),
        Migrated {
            from: 10,
            to: SCHEMA_VERSION
        }
    );
    let fence = lead(&database).await;
    let inbox = super::Inbox::new(database);
    assert_eq!(inbox.pending().await.unwrap(), 1);
    assert_eq!(inbox.recent(10).await.unwrap().len(), 2);
    // The applied event is known to redelivery detection; the other is still to apply.
    // (`event` makes the digests written above.)
    let redelivered = [event(7, 1, "{}"), event(7, 2, "{}")];
    inbox.append(3_000, &[&redelivered]).await.unwrap();
    let window = inbox.window(100).await.unwrap();
    let kept: Vec<(i64, i64)> = window
        .events
        .iter()
        .map(|event| (event.event_id, event.received_at_ms))
        .collect();
    assert_eq!(kept, [(2, 2_000)]);
    inbox.mark_applied(fence, "leader", &window).await.unwrap();
    assert!(inbox.window(100).await.unwrap().is_empty());
}
