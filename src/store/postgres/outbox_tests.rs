//! The outbox on both backends: notifications queued with mirror writes, read, settled,
//! bounded, dead, redelivered and dropped with their target; every read compared.

use std::sync::Arc;

use super::tests::leading_database;
use super::{Mirror, Outbox};
use crate::object::ObjectType::Contacts;
use crate::store::{Notice, Notification, QueueStatus, Settled, Store, Subject};

const PORTAL: i64 = 62515;
const TARGETS: [&str; 2] = ["t", "u"];

fn notice(id: i64) -> Notice {
    Notice {
        targets: TARGETS.iter().map(|target| Arc::from(*target)).collect(),
        event: "record.created",
        subject: Subject::record(Contacts, id),
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

fn failed(row: &Notification, error: &str, next_attempt_at_ms: i64) -> Notification {
    Notification {
        attempts: row.attempts + 1,
        next_attempt_at_ms,
        last_error: Some(error.into()),
        ..row.clone()
    }
}

/// A status without the moment of its last error (each backend stamps its own clock).
fn timeless(status: Option<QueueStatus>) -> Option<QueueStatus> {
    status.map(|status| QueueStatus {
        last_error_at_ms: status.last_error_at_ms.map(|_| 0),
        ..status
    })
}

fn observe_sled(store: &Store) -> String {
    let outbox = store.outbox();
    TARGETS
        .iter()
        .map(|target| {
            format!(
                "{target}: waiting {:?}\n{target}: status {:?}\n",
                outbox.waiting(target, 0, 10).unwrap(),
                timeless(outbox.status(target).unwrap()),
            )
        })
        .collect()
}

async fn observe_postgres(outbox: &Outbox) -> String {
    let mut seen = String::new();
    for target in TARGETS {
        seen += &format!(
            "{target}: waiting {:?}\n{target}: status {:?}\n",
            outbox.waiting(target, 0, 10).await.unwrap(),
            timeless(outbox.status(target).await.unwrap()),
        );
    }
    seen
}

#[tokio::test]
async fn sled_and_postgres_keep_the_outbox_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (database, fence) = leading_database().await;
    let (outbox, mirror) = (
        Outbox::open(database.clone()).await.unwrap(),
        Mirror::new(database),
    );
    let compare = async |step: &str| {
        let (left, right) = (observe_sled(&store), observe_postgres(&outbox).await);
        assert_eq!(left, right, "the backends differ after {step}");
        right
    };

    let targets = [("t".to_owned(), 2), ("u".to_owned(), 10)];
    store.outbox().configure(&targets).unwrap();
    outbox.configure(fence, &targets).await.unwrap();
    let notices: Vec<Notice> = [1, 2, 3].into_iter().map(notice).collect();
    let writing = store.mirror().lock_writes(PORTAL).await;
    writing
        .write_notifying(Contacts, &[], None, &notices, 1_000)
        .unwrap();
    drop(writing);
    mirror
        .write_notifying(
            fence,
            PORTAL,
            Contacts,
            &[],
            None,
            Some((&outbox, &notices, 1_000)),
        )
        .await
        .unwrap();
    let seen = compare("queueing three notices").await;
    assert!(
        seen.contains(
            "t: status Some(QueueStatus { pending: 2, dead: 0, delivered: 0, failed: 0, dropped: 1"
        ),
        "{seen}"
    );

    let waiting = outbox.waiting("t", 0, 10).await.unwrap();
    let (first, second) = (&waiting[0], &waiting[1]);
    let settled_t = [
        Settled::Delivered {
            seq: first.0,
            at_ms: 2_000,
        },
        Settled::Dead {
            seq: second.0,
            row: failed(&second.1, "boom", 0),
        },
    ];
    let u_first = outbox.waiting("u", 0, 1).await.unwrap().remove(0);
    let settled_u = [Settled::Retry {
        seq: u_first.0,
        row: failed(&u_first.1, "slow", 5_000),
    }];
    store.outbox().settle("t", &settled_t).unwrap();
    outbox.settle(fence, "t", &settled_t).await.unwrap();
    store.outbox().settle("u", &settled_u).unwrap();
    outbox.settle(fence, "u", &settled_u).await.unwrap();
    let seen = compare("a delivery, a death and a retry").await;
    assert!(seen.contains("dead: 1, delivered: 1, failed: 1"), "{seen}");

    assert_eq!(store.outbox().redeliver("t", 9_000).unwrap(), Some(1));
    assert_eq!(outbox.redeliver(fence, "t", 9_000).await.unwrap(), Some(1));
    assert_eq!(
        outbox.redeliver(fence, "nobody", 9_000).await.unwrap(),
        None
    );
    let seen = compare("redelivering the dead").await;
    assert!(
        seen.contains("queued_at_ms: 9000, attempts: 0, next_attempt_at_ms: 0"),
        "{seen}"
    );

    let only_u = [("u".to_owned(), 10)];
    let removed = store.outbox().configure(&only_u).unwrap();
    assert_eq!(removed, outbox.configure(fence, &only_u).await.unwrap());
    assert_eq!(removed, [("t".to_owned(), 1)]);
    let seen = compare("dropping a target").await;
    assert!(seen.contains("t: waiting []\nt: status None\n"), "{seen}");
    assert_eq!(outbox.message_id(1), outbox.message_id(1));
}

#[tokio::test]
async fn notifications_are_numbered_in_commit_order() {
    let (database, fence) = leading_database().await;
    let outbox = Outbox::open(database.clone()).await.unwrap();
    outbox
        .configure(fence, &[("t".to_owned(), 1_000)])
        .await
        .unwrap();
    let only_t = |id| Notice {
        targets: vec![Arc::from("t")],
        ..notice(id)
    };
    // A numbers its notification and has not committed yet.
    let mut client = database.client().await.unwrap();
    let first = client.transaction().await.unwrap();
    super::outbox::queue_in(&outbox, &first, &[only_t(1)], 0)
        .await
        .unwrap();
    // B, meanwhile, must not commit a later number before A commits: a deliverer that read
    // B's would never go back for A's.
    let (outbox_b, database_b) = (outbox.clone(), database.clone());
    let second = tokio::spawn(async move {
        let mut client = database_b.client().await.unwrap();
        let second = client.transaction().await.unwrap();
        super::outbox::queue_in(&outbox_b, &second, &[only_t(2)], 0)
            .await
            .unwrap();
        second.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a later number committed before an earlier one"
    );
    assert!(outbox.waiting("t", 0, 10).await.unwrap().is_empty());
    first.commit().await.unwrap();
    second.await.unwrap();
    let waiting = outbox.waiting("t", 0, 10).await.unwrap();
    let bodies: Vec<&[u8]> = waiting.iter().map(|(_, row)| row.body.as_slice()).collect();
    assert_eq!(bodies, [&b"{\"id\":\"1\"}"[..], b"{\"id\":\"2\"}"]);
}

#[tokio::test]
async fn owner_replacements_and_first_matches_queue_their_notices_once() {
    let (database, fence) = leading_database().await;
    let outbox = Outbox::open(database.clone()).await.unwrap();
    outbox
        .configure(fence, &[("t".to_owned(), 100)])
        .await
        .unwrap();
    let left = Notice {
        targets: vec![Arc::from("t")],
        event: "owner.deactivated",
        subject: Subject::owner(7),
        body: b"owner 7 left".to_vec(),
    };
    super::Reference::new(database.clone())
        .replace_owners_notifying(fence, PORTAL, &[], Some((&outbox, &[left], 0)))
        .await
        .unwrap();

    let first_match: crate::store::FirstMatchNotice = Arc::new(|portal, kind, id, at| {
        Some(Notice {
            targets: vec![Arc::from("t")],
            event: "match.first",
            subject: Subject::record(kind, id),
            body: format!("{portal} {kind} {id} {at}").into_bytes(),
        })
    });
    let replicas = [
        super::Matches::new(database.clone()),
        super::Matches::new(database.clone()),
    ];
    let found = [(Contacts, 1, 100)];
    let (a, b) = tokio::join!(
        replicas[0].store_notifying(PORTAL, &found, Some((&outbox, &first_match))),
        replicas[1].store_notifying(PORTAL, &found, Some((&outbox, &first_match))),
    );
    a.unwrap();
    b.unwrap();
    replicas[0]
        .store_notifying(PORTAL, &found, Some((&outbox, &first_match)))
        .await
        .unwrap();

    let bodies: Vec<String> = outbox
        .waiting("t", 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, row)| String::from_utf8(row.body).unwrap())
        .collect();
    assert_eq!(bodies, ["owner 7 left", "62515 contacts 1 100"]);
}
