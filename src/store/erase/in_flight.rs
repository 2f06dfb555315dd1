//! Erasing a portal while a deliverer holds some of its notifications, on both backends:
//! settling them afterwards (a retry, a death, a delivery) puts none back and leaves the
//! counts exact; the other portal's notifications stay waiting and dead in order.

use super::super::{Role, Settled, Store};
use super::tests::{postgres_store, queue, waiting_of};

const ERASED: i64 = 7_100_001;
const KEPT: i64 = 7_100_002;

/// The contact ids of `rows`' bodies (each body names its contact), in order.
fn contacts(rows: &[(u64, crate::store::Notification)]) -> Vec<i64> {
    rows.iter().map(|(_, row)| row.subject.id).collect()
}

async fn settling_after_an_erase_brings_nothing_back(store: &Store) {
    let outbox = store.outbox();
    outbox.configure(&[("t".into(), 100)]).unwrap();
    // Interleaved, each its own write: E1 K1 E2 K2 E3 K3 E4.
    for id in 1..=3 {
        queue(store, ERASED, &[id]);
        queue(store, KEPT, &[id]);
    }
    queue(store, ERASED, &[4]);
    // The third of each dies before the erase.
    for portal in [ERASED, KEPT] {
        let (seq, row) = waiting_of(store, "t", portal).remove(2);
        outbox.settle("t", &[Settled::Dead { seq, row }]).unwrap();
    }
    // What the deliverer holds: E1 K1 E2 K2 E4.
    let taken = outbox.waiting("t", 0, 100).unwrap();
    assert_eq!(contacts(&taken), [1, 1, 2, 2, 4]);
    let erasures = outbox.erasures();

    let erased = store.erase_portal(ERASED).await.unwrap();
    assert_eq!(erased.notifications, 4, "three waiting, one dead");
    assert_eq!(outbox.erasures(), erasures + 1, "the deliverers are told");
    let status = outbox.status("t").unwrap().unwrap();
    assert_eq!((status.pending, status.dead), (2, 1));

    let failed = |at: usize| {
        let (seq, mut row) = taken[at].clone();
        row.attempts += 1;
        row.next_attempt_at_ms = 5_000;
        row.last_error = Some("answered HTTP 503".into());
        (seq, row)
    };
    let (e1, e2, k2) = (failed(0), failed(2), failed(3));
    let settled = [
        Settled::Retry {
            seq: e1.0,
            row: e1.1,
        },
        Settled::Dead {
            seq: e2.0,
            row: e2.1,
        },
        Settled::Delivered {
            seq: taken[4].0,
            at_ms: 6_000,
        },
        Settled::Delivered {
            seq: taken[1].0,
            at_ms: 6_000,
        },
        Settled::Retry {
            seq: k2.0,
            row: k2.1.clone(),
        },
    ];
    let gone = outbox.settle("t", &settled).unwrap();
    assert_eq!(gone, [taken[0].0, taken[2].0, taken[4].0]);

    // K2 waits, retried; K3 is dead; nothing of the erased portal came back.
    let waiting = outbox.waiting("t", 0, 100).unwrap();
    assert_eq!(waiting, [(k2.0, k2.1)]);
    let status = outbox.status("t").unwrap().unwrap();
    assert_eq!(
        (status.pending, status.dead, status.delivered),
        (1, 1, 2),
        "{status:?}"
    );
    assert_eq!(outbox.redeliver("t", 9_000).unwrap(), Some(1));
    let waiting = outbox.waiting("t", 0, 100).unwrap();
    assert_eq!(contacts(&waiting), [2, 3]);
    assert!(waiting.iter().all(|(_, row)| row.portal() == Some(KEPT)));
    let status = outbox.status("t").unwrap().unwrap();
    assert_eq!((status.pending, status.dead), (2, 0));

    // The counts kept in memory (sled) are what a count of the rows finds.
    outbox.configure(&[("t".into(), 100)]).unwrap();
    assert_eq!(outbox.status("t").unwrap().unwrap(), status);
}

#[tokio::test]
async fn an_erase_on_sled_keeps_what_a_deliverer_held_erased() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::super::tests::open(dir.path());
    settling_after_an_erase_brings_nothing_back(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erase_on_postgres_keeps_what_a_deliverer_held_erased() {
    let (store, _database) = postgres_store(Role::Leading { epoch: 0 }).await;
    settling_after_an_erase_brings_nothing_back(&store).await;
}
