//! Outbox tests: queued with a mirror write, read in order from the first, settled,
//! bounded by the high water (oldest kept), dead and redelivered, across a reopen; the portal
//! a notification is about.

use std::sync::Arc;

use futures_util::FutureExt as _;

use super::super::tests::open;
use super::*;
use crate::object::ObjectType;

fn notice(id: i64) -> Notice {
    Notice {
        targets: vec![Arc::from("t")],
        event: "record.created",
        subject: Subject {
            kind: ObjectType::Contacts.code(),
            id,
        },
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

fn queue(store: &crate::store::Store, ids: &[i64]) {
    let notices: Vec<Notice> = ids.iter().map(|id| notice(*id)).collect();
    let writing = store.mirror().lock_writes(1).now_or_never().unwrap();
    writing
        .write_notifying(ObjectType::Contacts, &[], None, &notices, 1_000)
        .unwrap();
}

fn bodies(rows: &[(u64, Notification)]) -> Vec<String> {
    rows.iter()
        .map(|(_, row)| String::from_utf8(row.body.clone()).unwrap())
        .collect()
}

#[test]
fn the_first_notification_of_a_new_store_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.outbox().configure(&[("t".into(), 10)]).unwrap();
    queue(&store, &[7]);
    let waiting = store.outbox().waiting("t", 0, 10).unwrap();
    assert_eq!(bodies(&waiting), ["{\"id\":\"7\"}"]);
    assert!(waiting[0].0 >= 1);
    assert_eq!(store.outbox().status("t").unwrap().unwrap().pending, 1);
}

#[test]
fn above_the_high_water_the_oldest_are_kept_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.outbox().configure(&[("t".into(), 2)]).unwrap();
    queue(&store, &[1, 2]);
    queue(&store, &[3]);
    let waiting = store.outbox().waiting("t", 0, 10).unwrap();
    assert_eq!(bodies(&waiting), ["{\"id\":\"1\"}", "{\"id\":\"2\"}"]);
    let status = store.outbox().status("t").unwrap().unwrap();
    assert_eq!((status.pending, status.dropped), (2, 1));
    // Delivering one makes room again.
    let seq = waiting[0].0;
    let delivered = Settled::Delivered { seq, at_ms: 2_000 };
    store.outbox().settle("t", &[delivered]).unwrap();
    queue(&store, &[4]);
    let waiting = store.outbox().waiting("t", 0, 10).unwrap();
    assert_eq!(bodies(&waiting), ["{\"id\":\"2\"}", "{\"id\":\"4\"}"]);
    assert_eq!(store.outbox().status("t").unwrap().unwrap().delivered, 1);
}

#[test]
fn dead_notifications_wait_for_redelivery_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.outbox().configure(&[("t".into(), 10)]).unwrap();
        queue(&store, &[1, 2]);
        let waiting = store.outbox().waiting("t", 0, 10).unwrap();
        let mut row = waiting[0].1.clone();
        row.attempts = 5;
        row.last_error = Some("answered HTTP 500".into());
        let dead = Settled::Dead {
            seq: waiting[0].0,
            row,
        };
        store.outbox().settle("t", &[dead]).unwrap();
        store.commit().unwrap();
    }
    let store = open(dir.path());
    store.outbox().configure(&[("t".into(), 10)]).unwrap();
    let status = store.outbox().status("t").unwrap().unwrap();
    assert_eq!((status.pending, status.dead), (1, 1));
    assert_eq!(status.last_error.as_deref(), Some("answered HTTP 500"));
    assert_eq!(
        bodies(&store.outbox().waiting("t", 0, 10).unwrap()),
        ["{\"id\":\"2\"}"]
    );
    assert_eq!(store.outbox().redeliver("t", 5_000).unwrap(), Some(1));
    let waiting = store.outbox().waiting("t", 0, 10).unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(store.outbox().status("t").unwrap().unwrap().dead, 0);
    assert_eq!(store.outbox().redeliver("nobody", 5_000).unwrap(), None);
}

#[test]
fn a_notification_is_about_the_portal_its_body_names() {
    let about = |body: &str| {
        let mut row = notice(1).queued(0);
        row.body = body.as_bytes().to_vec();
        row.portal()
    };
    let body = r#"{"type":"owner.changed","data":{"object_type":"contacts","portal_id":62515}}"#;
    assert_eq!(about(body), Some(62515));
    // Nowhere else than `data.portal_id`, and never a guess.
    assert_eq!(about(r#"{"portal_id":62515,"data":{"id":"62515"}}"#), None);
    assert_eq!(about(r#"{"data":{"portal_id":"62515"}}"#), None);
    assert_eq!(about("owner 7 left"), None);
}
