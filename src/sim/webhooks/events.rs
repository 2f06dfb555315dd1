//! HubSpot's webhook event JSON for portal changes: classic `contact.*`, `company.*`,
//! `deal.*` types, and generic `object.*` (with `objectTypeId`) for tasks.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/webhooks/guide>

use serde_json::{json, Map, Value};

use crate::sim::gen::mix;
use crate::sim::kind::{association_type_id, ObjectType};
use crate::sim::portal::{Change, ChangeKind};

/// The identity of the app and portal the events are for.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub portal_id: i64,
    pub app_id: i64,
}

/// The event of one change; `next_event_id` numbers them (HubSpot's ids are not unique
/// either, but these are increasing, which makes test failures readable).
pub fn event(change: &Change, origin: Origin, next_event_id: &mut impl FnMut() -> i64) -> Value {
    let generic = change.kind == ObjectType::Tasks
        || matches!(
            &change.what,
            ChangeKind::Association {
                to_kind: ObjectType::Tasks,
                ..
            }
        );
    let action = match &change.what {
        ChangeKind::Created => "creation",
        ChangeKind::Property { .. } => "propertyChange",
        ChangeKind::Deleted => "deletion",
        ChangeKind::Restored => "restore",
        ChangeKind::Merged { .. } => "merge",
        ChangeKind::Association { .. } => "associationChange",
        ChangeKind::PrivacyDeleted => "privacyDeletion",
    };
    let subscription_type = if generic {
        format!("object.{action}")
    } else {
        format!("{}.{action}", change.kind.singular())
    };
    let mut event = Map::new();
    event.insert("eventId".into(), json!(next_event_id()));
    event.insert(
        "subscriptionId".into(),
        json!(subscription_id(&subscription_type)),
    );
    event.insert("portalId".into(), json!(origin.portal_id));
    event.insert("appId".into(), json!(origin.app_id));
    event.insert("occurredAt".into(), json!(change.occurred_ms));
    event.insert("subscriptionType".into(), json!(subscription_type));
    event.insert("attemptNumber".into(), json!(0));
    if generic {
        event.insert("objectTypeId".into(), json!(change.kind.type_id()));
    }
    if !matches!(change.what, ChangeKind::Association { .. }) {
        event.insert("objectId".into(), json!(change.object_id));
    }
    event.insert("changeSource".into(), json!(change.source));
    if change.source == "API" {
        event.insert("sourceId".into(), json!(origin.app_id.to_string()));
    }
    match &change.what {
        ChangeKind::Created => {
            event.insert("changeFlag".into(), json!("CREATED"));
        }
        ChangeKind::Deleted => {
            event.insert("changeFlag".into(), json!("DELETED"));
        }
        ChangeKind::Property { name, value } => {
            event.insert("propertyName".into(), json!(name));
            event.insert("propertyValue".into(), json!(value));
        }
        ChangeKind::Merged {
            primary,
            merged,
            new_id,
            moved,
        } => {
            event.insert("primaryObjectId".into(), json!(primary));
            event.insert("mergedObjectIds".into(), json!(merged));
            event.insert("newObjectId".into(), json!(new_id));
            event.insert("numberOfPropertiesMoved".into(), json!(moved));
        }
        ChangeKind::Association {
            to_kind,
            to,
            removed,
            primary,
        } => {
            event.insert("fromObjectId".into(), json!(change.object_id));
            event.insert("toObjectId".into(), json!(to));
            event.insert("associationRemoved".into(), json!(removed));
            event.insert("isPrimaryAssociation".into(), json!(primary));
            if generic {
                event.insert("fromObjectTypeId".into(), json!(change.kind.type_id()));
                event.insert("toObjectTypeId".into(), json!(to_kind.type_id()));
                event.insert(
                    "associationTypeId".into(),
                    json!(association_type_id(change.kind, *to_kind)),
                );
                event.insert("associationCategory".into(), json!("HUBSPOT_DEFINED"));
            } else {
                let name =
                    format!("{}_TO_{}", change.kind.singular(), to_kind.singular()).to_uppercase();
                event.insert("associationType".into(), json!(name));
            }
        }
        ChangeKind::Restored | ChangeKind::PrivacyDeleted => {}
    }
    Value::Object(event)
}

/// A stable subscription id per subscription type, as if the app had one subscription each.
fn subscription_id(subscription_type: &str) -> i64 {
    let hash = subscription_type
        .bytes()
        .fold(0u64, |hash, byte| mix(hash ^ byte as u64));
    1_000_000 + (hash % 9_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: ObjectType, what: ChangeKind) -> Value {
        let change = Change {
            kind,
            object_id: 51,
            occurred_ms: 7,
            source: "CRM_UI".into(),
            what,
        };
        let mut counter = 100;
        let mut next = || {
            counter += 1;
            counter
        };
        event(
            &change,
            Origin {
                portal_id: 62,
                app_id: 9,
            },
            &mut next,
        )
    }

    #[test]
    fn classic_and_generic_shapes() {
        let property = one(
            ObjectType::Contacts,
            ChangeKind::Property {
                name: "email".into(),
                value: "a@b.c".into(),
            },
        );
        assert_eq!(property["subscriptionType"], "contact.propertyChange");
        assert_eq!(property["propertyValue"], "a@b.c");
        assert_eq!(property["objectId"], 51);
        assert_eq!(property["eventId"], 101);
        assert!(property.get("objectTypeId").is_none());
        let task = one(ObjectType::Tasks, ChangeKind::Created);
        assert_eq!(task["subscriptionType"], "object.creation");
        assert_eq!(task["objectTypeId"], "0-27");
        assert_eq!(task["changeFlag"], "CREATED");
        let link = one(
            ObjectType::Deals,
            ChangeKind::Association {
                to_kind: ObjectType::Companies,
                to: 3,
                removed: false,
                primary: false,
            },
        );
        assert_eq!(link["associationType"], "DEAL_TO_COMPANY");
        assert_eq!(link["fromObjectId"], 51);
        assert!(link.get("objectId").is_none());
        let merge = one(
            ObjectType::Companies,
            ChangeKind::Merged {
                primary: 51,
                merged: vec![52],
                new_id: 51,
                moved: 2,
            },
        );
        assert_eq!(merge["mergedObjectIds"], json!([52]));
        assert_eq!(merge["subscriptionType"], "company.merge");
    }
}
