//! The journal's event JSON for the portal's changes that a subscription wants.

use serde_json::{json, Map, Value};

use super::subscriptions::{Action, Subscriptions};
use crate::sim::kind::{association_type_id, primary_association_type_id, ObjectType};
use crate::sim::portal::{Change, ChangeKind};

/// The events of one mutation's changes, in order. Property changes of one record in one
/// mutation become one UPDATE event whose `propertyChanges` hold the subscribed ones.
pub fn journal_events(
    changes: &[Change],
    portal_id: i64,
    subscriptions: &Subscriptions,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut index = 0;
    while index < changes.len() {
        let change = &changes[index];
        let (kind, id) = (change.kind, change.object_id);
        if let ChangeKind::Property { .. } = change.what {
            let run = changes[index..]
                .iter()
                .take_while(|next| {
                    (next.kind, next.object_id) == (kind, id)
                        && matches!(next.what, ChangeKind::Property { .. })
                })
                .count();
            let mut properties = Map::new();
            for next in &changes[index..index + run] {
                if let ChangeKind::Property { name, value } = &next.what {
                    if subscriptions.wants_property(portal_id, kind, id, name) {
                        properties.insert(name.clone(), json!(value));
                    }
                }
            }
            if !properties.is_empty() {
                let mut event = object_event(change, portal_id, Action::Update);
                event.insert("propertyChanges".into(), Value::Object(properties));
                events.push(Value::Object(event));
            }
            index += run;
            continue;
        }
        index += 1;
        let event = match &change.what {
            ChangeKind::Association {
                to_kind,
                to,
                removed,
                primary,
            } => {
                let action = if *removed {
                    Action::AssociationRemoved
                } else {
                    Action::AssociationAdded
                };
                if !subscriptions.wants_association(portal_id, (kind, id), *to_kind, action) {
                    continue;
                }
                association_event(change, portal_id, action, (*to_kind, *to), *primary)
            }
            what => {
                let Some(action) = object_action(what) else {
                    continue;
                };
                if !subscriptions.wants(portal_id, kind, id, action) {
                    continue;
                }
                let mut event = object_event(change, portal_id, action);
                if let ChangeKind::Merged { merged, .. } = what {
                    event.insert("mergedObjectIds".into(), json!(merged));
                }
                event
            }
        };
        events.push(Value::Object(event));
    }
    events
}

/// The action of a change to the record itself (property changes were grouped above,
/// associations have theirs).
fn object_action(what: &ChangeKind) -> Option<Action> {
    Some(match what {
        ChangeKind::Created => Action::Create,
        ChangeKind::Deleted => Action::Delete,
        ChangeKind::Restored => Action::Restore,
        ChangeKind::Merged { .. } => Action::Merge,
        ChangeKind::PrivacyDeleted => Action::GdprDelete,
        ChangeKind::Property { .. } | ChangeKind::Association { .. } => return None,
    })
}

fn action_name(action: Action) -> Value {
    // Invariant: a unit enum variant always serialises to its name.
    serde_json::to_value(action).expect("actions serialise")
}

fn object_event(change: &Change, portal_id: i64, action: Action) -> Map<String, Value> {
    let event_type = match action {
        Action::GdprDelete => "GDPR_PRIVACY_DELETION",
        _ => "OBJECT",
    };
    let mut event = Map::new();
    event.insert("type".into(), json!(event_type));
    event.insert("portalId".into(), json!(portal_id));
    event.insert("objectTypeId".into(), json!(change.kind.type_id()));
    event.insert("objectId".into(), json!(change.object_id));
    event.insert("action".into(), action_name(action));
    event.insert("occurredAt".into(), json!(change.occurred_ms));
    event
}

fn association_event(
    change: &Change,
    portal_id: i64,
    action: Action,
    to: (ObjectType, u64),
    primary: bool,
) -> Map<String, Value> {
    let mut event = object_event(change, portal_id, action);
    event.insert("type".into(), json!("ASSOCIATION"));
    let type_id = if primary {
        primary_association_type_id(change.kind, to.0)
    } else {
        association_type_id(change.kind, to.0)
    };
    event.insert("fromObjectTypeId".into(), json!(change.kind.type_id()));
    event.insert("fromObjectId".into(), json!(change.object_id));
    event.insert("toObjectTypeId".into(), json!(to.0.type_id()));
    event.insert("toObjectId".into(), json!(to.1));
    event.insert("associationTypeId".into(), json!(type_id));
    event.insert("associationCategory".into(), json!("HUBSPOT_DEFINED"));
    event.insert("isPrimary".into(), json!(primary));
    event
}

/// An UPDATE for a record of another portal: what a mixed-up journal would carry.
pub fn foreign_event(portal_id: i64, object_id: u64, occurred_ms: i64) -> Value {
    json!({"type": "OBJECT", "portalId": portal_id, "objectTypeId": ObjectType::Contacts.type_id(),
           "objectId": object_id, "action": "UPDATE", "occurredAt": occurred_ms,
           "propertyChanges": {"firstname": "Foreign"}})
}

#[cfg(test)]
mod tests {
    use super::super::subscriptions::parse;
    use super::*;

    fn change(kind: ObjectType, object_id: u64, what: ChangeKind) -> Change {
        Change {
            kind,
            object_id,
            occurred_ms: 5,
            source: "CRM_UI".into(),
            what,
        }
    }

    fn property(name: &str, value: &str) -> ChangeKind {
        ChangeKind::Property {
            name: name.into(),
            value: value.into(),
        }
    }

    fn subscribed(bodies: &[Value]) -> Subscriptions {
        let mut subscriptions = Subscriptions::default();
        for body in bodies {
            subscriptions.upsert(parse(body, 1, &[9]).unwrap(), 0);
        }
        subscriptions
    }

    #[test]
    fn only_subscribed_changes_become_events() {
        let subscriptions = subscribed(&[
            json!({"subscriptionType": "OBJECT", "portalId": 9, "objectTypeId": "0-1",
                   "actions": ["CREATE", "UPDATE", "MERGE"], "objectIds": [], "properties": ["email", "firstname"]}),
            json!({"subscriptionType": "ASSOCIATION", "portalId": 9, "objectTypeId": "0-1",
                   "actions": ["ASSOCIATION_ADDED"], "objectIds": [], "associatedObjectTypeIds": ["0-2"]}),
        ]);
        let contacts = ObjectType::Contacts;
        let changes = [
            change(contacts, 1, ChangeKind::Created),
            change(contacts, 1, property("email", "a@b.c")),
            change(contacts, 1, property("lastname", "Not subscribed")),
            change(contacts, 1, property("firstname", "A")),
            change(ObjectType::Deals, 2, ChangeKind::Created),
            change(contacts, 1, ChangeKind::Deleted),
            change(
                contacts,
                1,
                ChangeKind::Association {
                    to_kind: ObjectType::Companies,
                    to: 3,
                    removed: false,
                    primary: true,
                },
            ),
            change(
                ObjectType::Companies,
                3,
                ChangeKind::Association {
                    to_kind: contacts,
                    to: 1,
                    removed: false,
                    primary: true,
                },
            ),
            change(
                contacts,
                1,
                ChangeKind::Merged {
                    primary: 1,
                    merged: vec![4],
                    new_id: 1,
                    moved: 0,
                },
            ),
        ];
        let events = journal_events(&changes, 9, &subscriptions);
        let actions: Vec<&str> = events
            .iter()
            .map(|event| event["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["CREATE", "UPDATE", "ASSOCIATION_ADDED", "MERGE"]);
        assert_eq!(
            events[1]["propertyChanges"],
            json!({"email": "a@b.c", "firstname": "A"})
        );
        assert_eq!(events[0]["objectTypeId"], "0-1");
        assert_eq!(events[0]["portalId"], 9);
        assert_eq!(events[2]["associationTypeId"], 1, "primary contact→company");
        assert_eq!(events[2]["toObjectId"], 3);
        assert_eq!(events[3]["mergedObjectIds"], json!([4]));
        assert!(
            journal_events(&changes, 10, &subscriptions).is_empty(),
            "other portal"
        );
    }
}
