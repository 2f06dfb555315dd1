//! Pure tests of `apply` and `plan`: every event kind, reordering, duplicates, merge chains,
//! restore after delete, privacy deletion and stale changes, against an in-memory model of
//! the mirror that carries out the writes.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::sync::events::plan;
use crate::webhook::event::Event;

const PORTAL: i64 = 62515;
const KIND: ObjectType = ObjectType::Contacts;

/// Records, aliases and tombstones, as the store would hold them.
#[derive(Default, Debug)]
struct Model {
    records: BTreeMap<i64, Record>,
    aliases: BTreeMap<i64, i64>,
    purged: BTreeSet<i64>,
    /// The gateway's clock when the next change is applied.
    now: i64,
}

impl Model {
    fn resolve(&self, mut id: i64) -> i64 {
        while let Some(next) = self.aliases.get(&id) {
            id = *next;
        }
        id
    }

    fn change(&mut self, change: &Change) -> Applied {
        let id = change.id();
        let applied = apply(
            KIND,
            self.records.get(&id),
            self.purged.contains(&id),
            change,
            self.now,
        );
        if let Applied::Writes(writes) = &applied {
            writes.iter().for_each(|write| self.write(write));
        }
        applied
    }

    fn write(&mut self, write: &Write) {
        match write {
            Write::Upsert { record, .. } => {
                self.records.insert(record.id, record.clone());
            }
            Write::Archive { id, at_ms } => {
                let record = self.records.get_mut(id).unwrap();
                record.archived = true;
                record.archived_at_ms = Some(*at_ms);
                record.state_changed_at_ms = record.state_changed_at_ms.max(*at_ms);
            }
            Write::Restore { id, at_ms } => {
                let record = self.records.get_mut(id).unwrap();
                record.archived = false;
                record.archived_at_ms = None;
                record.state_changed_at_ms = record.state_changed_at_ms.max(*at_ms);
            }
            Write::Remove { id } => {
                self.records.remove(id);
            }
            Write::Purge { id } => {
                self.records.remove(id);
                self.purged.insert(*id);
            }
            Write::Alias { from, to } => {
                self.aliases.insert(*from, *to);
            }
            other => panic!("unexpected write {other:?}"),
        }
    }

    fn live(&self, id: i64) -> Option<&Record> {
        self.records
            .get(&self.resolve(id))
            .filter(|record| !record.archived)
    }
}

fn version(id: i64, updated_at_ms: i64, email: &str) -> Record {
    Record {
        id,
        updated_at_ms,
        properties: [("email".to_string(), email.to_string())].into(),
        ..Record::default()
    }
}

fn fetched(id: i64, updated_at_ms: i64, email: &str) -> Change {
    Change::Fetched {
        record: version(id, updated_at_ms, email),
        authoritative: true,
    }
}

#[test]
fn fetched_versions_never_go_backwards() {
    let mut model = Model {
        now: 999,
        ..Model::default()
    };
    assert!(matches!(
        model.change(&fetched(1, 100, "a@x.io")),
        Applied::Writes(_)
    ));
    assert_eq!(model.change(&fetched(1, 50, "old@x.io")), Applied::Stale);
    assert!(
        matches!(model.change(&fetched(1, 100, "a@x.io")), Applied::Writes(_)),
        "same version again is harmless"
    );
    assert!(matches!(
        model.change(&fetched(1, 150, "b@x.io")),
        Applied::Writes(_)
    ));
    assert_eq!(model.live(1).unwrap().properties["email"], "b@x.io");
    assert_eq!(model.live(1).unwrap().synced_at_ms, 999);
    // The write carries the record's index terms.
    let Applied::Writes(writes) = apply(KIND, None, false, &fetched(2, 1, "Z@X.io"), 0) else {
        panic!()
    };
    let Write::Upsert { terms, .. } = &writes[0] else {
        panic!()
    };
    assert_eq!(terms[0].value, "z@x.io");
}

#[test]
fn deletions_and_restores_follow_event_time() {
    let mut model = Model {
        now: 100,
        ..Model::default()
    };
    model.change(&fetched(1, 100, "a@x.io"));
    // A deletion older than the stored version: the record changed after it, so it was restored.
    assert_eq!(
        model.change(&Change::Deleted { id: 1, at_ms: 90 }),
        Applied::Stale
    );
    assert!(model.live(1).is_some());
    assert!(matches!(
        model.change(&Change::Deleted { id: 1, at_ms: 200 }),
        Applied::Writes(_)
    ));
    assert!(model.live(1).is_none());
    assert_eq!(
        model.change(&Change::Deleted { id: 1, at_ms: 200 }),
        Applied::Nothing,
        "duplicate"
    );
    // A restore older than the deletion is stale; a newer one revives the record.
    assert_eq!(
        model.change(&Change::Restored { id: 1, at_ms: 150 }),
        Applied::Stale
    );
    assert!(matches!(
        model.change(&Change::Restored { id: 1, at_ms: 300 }),
        Applied::Writes(_)
    ));
    assert!(model.live(1).is_some());
    // A deletion delivered late (after the restore) is stale.
    assert_eq!(
        model.change(&Change::Deleted { id: 1, at_ms: 250 }),
        Applied::Stale
    );
    assert!(model.live(1).is_some());
    // Unknown records: nothing to delete or restore.
    assert_eq!(
        model.change(&Change::Deleted { id: 7, at_ms: 1 }),
        Applied::Nothing
    );
    assert_eq!(
        model.change(&Change::Restored { id: 7, at_ms: 1 }),
        Applied::Nothing
    );
}

#[test]
fn a_lagging_search_result_cannot_undo_a_deletion_but_a_read_can() {
    let mut model = Model {
        now: 100,
        ..Model::default()
    };
    model.change(&fetched(1, 100, "a@x.io"));
    model.change(&Change::Deleted { id: 1, at_ms: 200 });
    model.now = 250;
    let lagging = Change::Fetched {
        record: version(1, 100, "a@x.io"),
        authoritative: false,
    };
    assert_eq!(model.change(&lagging), Applied::Stale);
    assert!(model.live(1).is_none());
    // A batch read that finds the record live proves it was restored.
    assert!(matches!(
        model.change(&fetched(1, 100, "a@x.io")),
        Applied::Writes(_)
    ));
    assert!(model.live(1).is_some());
}

#[test]
fn merge_chains_resolve_to_the_last_survivor() {
    let mut model = Model::default();
    for id in [1, 2, 3] {
        model.change(&fetched(id, 100, &format!("{id}@x.io")));
    }
    model.change(&Change::Merged {
        survivor: 2,
        losers: vec![1],
    });
    model.change(&fetched(2, 200, "2@x.io"));
    model.change(&Change::Merged {
        survivor: 3,
        losers: vec![2, 3],
    });
    model.change(&fetched(3, 300, "3@x.io"));
    assert_eq!(model.resolve(1), 3);
    assert_eq!(model.live(1).unwrap().id, 3);
    assert_eq!(model.records.keys().copied().collect::<Vec<_>>(), [3]);
    assert_eq!(
        model.change(&Change::Merged {
            survivor: 3,
            losers: vec![3]
        }),
        Applied::Nothing
    );
}

#[test]
fn privacy_deletion_is_final() {
    let mut model = Model::default();
    model.change(&fetched(1, 100, "a@x.io"));
    assert!(matches!(
        model.change(&Change::PrivacyDeleted { id: 1 }),
        Applied::Writes(_)
    ));
    assert!(model.records.is_empty());
    // Neither the paired deletion nor a stale copy brings anything back.
    assert_eq!(
        model.change(&Change::Deleted { id: 1, at_ms: 500 }),
        Applied::Nothing
    );
    assert_eq!(model.change(&fetched(1, 900, "a@x.io")), Applied::Nothing);
    assert!(model.records.is_empty());
}

fn event(json: serde_json::Value) -> Event {
    let mut base = serde_json::json!({"eventId": 1, "portalId": PORTAL, "occurredAt": 100, "subscriptionType": "contact.creation"});
    base.as_object_mut()
        .unwrap()
        .extend(json.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

#[test]
fn plans_every_event_kind_in_time_order() {
    let mirrored = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Tasks,
    ];
    let events = [
        event(
            serde_json::json!({"subscriptionType": "contact.deletion", "objectId": 5, "occurredAt": 300}),
        ),
        event(
            serde_json::json!({"subscriptionType": "contact.propertyChange", "objectId": 5, "occurredAt": 100}),
        ),
        event(serde_json::json!({"subscriptionType": "contact.creation", "objectId": 6})),
        event(
            serde_json::json!({"subscriptionType": "contact.propertyChange", "objectId": 6, "attemptNumber": 3}),
        ),
        event(
            serde_json::json!({"subscriptionType": "company.restore", "objectId": 9, "occurredAt": 200}),
        ),
        event(
            serde_json::json!({"subscriptionType": "contact.merge", "objectId": 7, "primaryObjectId": 7,
            "mergedObjectIds": [6], "newObjectId": 8, "occurredAt": 400}),
        ),
        event(
            serde_json::json!({"subscriptionType": "contact.privacyDeletion", "objectId": 4, "occurredAt": 500}),
        ),
        event(
            serde_json::json!({"subscriptionType": "contact.associationChange", "fromObjectId": 4,
            "toObjectId": 9, "associationType": "CONTACT_TO_COMPANY", "occurredAt": 50}),
        ),
        event(
            serde_json::json!({"subscriptionType": "object.creation", "objectTypeId": "0-27", "objectId": 77}),
        ),
        event(serde_json::json!({"subscriptionType": "deal.creation", "objectId": 1})),
        event(
            serde_json::json!({"subscriptionType": "contact.creation", "objectId": 2, "portalId": 1}),
        ),
        event(serde_json::json!({"subscriptionType": "conversation.newMessage", "objectId": 3})),
    ];
    let plan = plan(&events, PORTAL, &mirrored);
    assert_eq!(
        plan.changes,
        [
            (
                ObjectType::Companies,
                Change::Restored { id: 9, at_ms: 200 }
            ),
            (ObjectType::Contacts, Change::Deleted { id: 5, at_ms: 300 }),
            (
                ObjectType::Contacts,
                Change::Merged {
                    survivor: 8,
                    losers: vec![6, 7]
                }
            ),
            (ObjectType::Contacts, Change::PrivacyDeleted { id: 4 }),
        ]
    );
    let refetch: Vec<(ObjectType, Vec<i64>)> = plan
        .refetch
        .iter()
        .map(|(kind, ids)| (*kind, ids.iter().copied().collect()))
        .collect();
    // 6 was merged away and 4 privacy-deleted after being queued: neither is re-read.
    assert_eq!(
        refetch,
        [
            (ObjectType::Contacts, vec![5, 8]),
            (ObjectType::Companies, vec![9]),
            (ObjectType::Tasks, vec![77]),
        ]
    );
    assert_eq!(
        plan.ignored, 3,
        "deal (unmirrored), other portal, conversation"
    );
}

/// HubSpot's history of one contact as webhook events, and its final state as a read sees it.
struct History {
    events: Vec<serde_json::Value>,
    final_state: Option<Record>,
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (index, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

/// Delivers the history's events in every order, each twice, one event per window, answering
/// re-reads from the final state; the mirror must end showing exactly the final state.
fn check_every_order(history: &History) {
    let indices: Vec<usize> = (0..history.events.len()).collect();
    for order in permutations(&indices) {
        // Every delivery is processed after the whole history happened.
        let mut model = Model {
            now: 1_000,
            ..Model::default()
        };
        for index in order.iter().chain(order.iter()) {
            let window = [event(history.events[*index].clone())];
            let plan = plan(&window, PORTAL, &[KIND]);
            for (_, change) in &plan.changes {
                model.change(change);
            }
            for id in plan.refetch.get(&KIND).into_iter().flatten() {
                if let Some(record) = history
                    .final_state
                    .as_ref()
                    .filter(|record| record.id == *id)
                {
                    model.change(&Change::Fetched {
                        record: record.clone(),
                        authoritative: true,
                    });
                }
            }
        }
        let visible = model
            .live(1)
            .map(|record| (record.updated_at_ms, record.properties["email"].clone()));
        let expected = history
            .final_state
            .as_ref()
            .map(|record| (record.updated_at_ms, record.properties["email"].clone()));
        assert_eq!(visible, expected, "delivery order {order:?}");
    }
}

#[test]
fn shuffled_and_duplicated_deliveries_end_in_hubspots_state() {
    let change = |kind: &str, at: i64| serde_json::json!({"subscriptionType": format!("contact.{kind}"), "objectId": 1, "occurredAt": at});
    // Created, updated, deleted: nothing visible at the end.
    check_every_order(&History {
        events: vec![
            change("creation", 100),
            change("propertyChange", 200),
            change("deletion", 300),
        ],
        final_state: None,
    });
    // Created, updated, deleted, restored (the restore not bumping the modified date).
    check_every_order(&History {
        events: vec![
            change("creation", 100),
            change("propertyChange", 200),
            change("deletion", 300),
            change("restore", 400),
        ],
        final_state: Some(version(1, 200, "b@x.io")),
    });
}
