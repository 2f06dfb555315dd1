//! The body of a notification, as the contract shapes it:
//! `{"type", "timestamp", "data": {"portal_id", "object_type", "id", ...}}`. Ids are strings,
//! as in the query API. Notifications carry ids and owner ids, never a person's data: a
//! receiver that wants the record reads `GET /v1/objects/{type}/{id}`.

use serde_json::{json, Map, Value};

use super::event::{Event, EventKind};

/// The JSON body of `event` in portal `portal`, which happened at `at_ms` (epoch ms).
pub fn body(event: &Event, portal: i64, at_ms: i64) -> Vec<u8> {
    let mut data = Map::new();
    data.insert("portal_id".into(), json!(portal));
    let object_type = event.object_type().map_or("owners", |kind| kind.name());
    data.insert("object_type".into(), json!(object_type));
    data.insert("id".into(), json!(event.subject().id.to_string()));
    match event {
        Event::OwnerChanged { before, after, .. } => {
            data.insert("owner_before".into(), json!(before));
            data.insert("owner_after".into(), json!(after));
        }
        Event::RecordCreated {
            owner, restored, ..
        } => {
            data.insert("owner_id".into(), json!(owner));
            data.insert("restored".into(), json!(restored));
        }
        Event::RecordDeleted {
            archived: Some(archived),
            ..
        } => {
            data.insert("owner_id".into(), json!(archived.owner));
            data.insert("archived_at".into(), json!(rfc3339(archived.at_ms)));
        }
        // A forgotten record: the id alone.
        Event::RecordDeleted { archived: None, .. } => {}
        Event::RecordMerged { into, .. } => {
            data.insert("merged_into".into(), json!(into.to_string()));
        }
        Event::OwnerArchived { records, .. } => {
            let counted: Map<String, Value> = records
                .iter()
                .map(|(kind, count)| (kind.name().to_owned(), json!(count)))
                .collect();
            data.insert("records".into(), Value::Object(counted));
        }
        Event::MatchFirst { matched_at_ms, .. } => {
            data.insert("matched_at".into(), json!(rfc3339(*matched_at_ms)));
        }
    }
    let body = json!({
        "type": event.kind().as_str(),
        "timestamp": rfc3339(at_ms),
        "data": data,
    });
    // Invariant: a JSON value serialises.
    serde_json::to_vec(&body).expect("JSON serialises")
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(epoch_ms: i64) -> String {
    crate::time::iso(epoch_ms.max(0))
}

/// An owner change read back from a queued body (the digest counts them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerChange {
    pub object_type: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The portal of the record (`None` in a body without one).
    pub portal_id: Option<i64>,
}

/// The owner change a body describes; `None` for other events or a body that does not parse.
pub fn owner_change(body: &[u8]) -> Option<OwnerChange> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if value["type"] != EventKind::OwnerChanged.as_str() {
        return None;
    }
    let data = &value["data"];
    let owner = |key: &str| data[key].as_str().map(str::to_owned);
    Some(OwnerChange {
        object_type: data["object_type"].as_str()?.to_owned(),
        before: owner("owner_before"),
        after: owner("owner_after"),
        portal_id: data["portal_id"].as_i64(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::notify::event::Archived;
    use crate::object::ObjectType::{Companies, Contacts};
    use crate::store::Notification;

    fn check(event: Event, data: Value) {
        let bytes = body(&event, 62515, 1_767_225_600_000);
        // The store reads a queued notification's portal from its body (erasing a portal
        // drops its notifications by it).
        let queued = Notification {
            event: event.kind().as_str().into(),
            subject: event.subject(),
            body: bytes.clone(),
            queued_at_ms: 0,
            attempts: 0,
            next_attempt_at_ms: 0,
            last_error: None,
        };
        assert_eq!(queued.portal(), Some(62515), "{event:?}");
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], event.kind().as_str());
        assert_eq!(body["timestamp"], "2026-01-01T00:00:00.000Z");
        assert_eq!(body["data"], data, "{event:?}");
    }

    #[test]
    fn bodies_follow_the_contract() {
        check(
            Event::OwnerChanged {
                kind: Contacts,
                id: 7,
                before: Some("101".into()),
                after: None,
            },
            json!({"portal_id": 62515, "object_type": "contacts", "id": "7",
                   "owner_before": "101", "owner_after": null}),
        );
        check(
            Event::RecordMerged {
                kind: Companies,
                id: 7,
                into: 9,
            },
            json!({"portal_id": 62515, "object_type": "companies", "id": "7", "merged_into": "9"}),
        );
        check(
            Event::RecordDeleted {
                kind: Contacts,
                id: 7,
                archived: None,
            },
            json!({"portal_id": 62515, "object_type": "contacts", "id": "7"}),
        );
        check(
            Event::RecordDeleted {
                kind: Contacts,
                id: 7,
                archived: Some(Archived {
                    owner: Some("101".into()),
                    at_ms: 1_767_225_601_500,
                }),
            },
            json!({"portal_id": 62515, "object_type": "contacts", "id": "7", "owner_id": "101",
                   "archived_at": "2026-01-01T00:00:01.500Z"}),
        );
        check(
            Event::RecordCreated {
                kind: Contacts,
                id: 7,
                owner: None,
                restored: false,
            },
            json!({"portal_id": 62515, "object_type": "contacts", "id": "7", "owner_id": null,
                   "restored": false}),
        );
        check(
            Event::OwnerArchived {
                id: 101,
                records: BTreeMap::from([(Contacts, 3), (Companies, 1)]),
            },
            json!({"portal_id": 62515, "object_type": "owners", "id": "101",
                   "records": {"contacts": 3, "companies": 1}}),
        );
        check(
            Event::MatchFirst {
                kind: Companies,
                id: 7,
                matched_at_ms: 1_767_225_600_000,
            },
            json!({"portal_id": 62515, "object_type": "companies", "id": "7",
                   "matched_at": "2026-01-01T00:00:00.000Z"}),
        );
    }

    #[test]
    fn owner_changes_read_back() {
        let event = Event::OwnerChanged {
            kind: Contacts,
            id: 7,
            before: None,
            after: Some("102".into()),
        };
        let change = owner_change(&body(&event, 1, 0)).unwrap();
        assert_eq!(
            change,
            OwnerChange {
                object_type: "contacts".into(),
                before: None,
                after: Some("102".into()),
                portal_id: Some(1),
            }
        );
        let other = Event::MatchFirst {
            kind: Contacts,
            id: 7,
            matched_at_ms: 0,
        };
        assert_eq!(owner_change(&body(&other, 1, 0)), None);
        assert_eq!(owner_change(b"not json"), None);
    }
}
