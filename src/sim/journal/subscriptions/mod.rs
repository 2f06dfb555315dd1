//! Journal subscriptions: the types, the app's table, and the questions the journal
//! asks it about a change. Upsert bodies are validated in `parse.rs`.

mod parse;

use serde::{Deserialize, Serialize};

pub use parse::{parse, Invalid};

use crate::sim::kind::ObjectType;
use crate::time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionType {
    Object,
    Association,
    GdprPrivacyDeletion,
}

/// Every action HubSpot's spec names; the simulator produces the CRM ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Create,
    Update,
    Delete,
    Merge,
    Restore,
    AssociationAdded,
    AssociationRemoved,
    Snapshot,
    AppInstall,
    AppUninstall,
    AddedToList,
    RemovedFromList,
    GdprDelete,
}

impl Action {
    pub(super) fn allowed_in(self, kind: SubscriptionType) -> bool {
        use Action::*;
        match kind {
            SubscriptionType::Object => {
                matches!(self, Create | Update | Delete | Merge | Restore | Snapshot)
            }
            SubscriptionType::Association => matches!(self, AssociationAdded | AssociationRemoved),
            SubscriptionType::GdprPrivacyDeletion => self == GdprDelete,
        }
    }
}

/// One subscription as HubSpot answers it (`SubscriptionResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: i64,
    pub app_id: i64,
    pub subscription_type: SubscriptionType,
    pub portal_id: i64,
    pub object_type_id: String,
    pub actions: Vec<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ids: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated_object_type_ids: Option<Vec<String>>,
    pub created_at: String,
    pub updated_at: String,
}

impl Subscription {
    fn object_type(&self) -> Option<ObjectType> {
        crate::sim::kind::parse(&self.object_type_id)
    }

    fn covers(&self, portal_id: i64, kind: ObjectType, object_id: u64, action: Action) -> bool {
        self.portal_id == portal_id
            && self.object_type() == Some(kind)
            && self.actions.contains(&action)
            && self
                .object_ids
                .as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&object_id))
    }

    /// The scopes the caller's token needs for this subscription: the object types' read scopes.
    pub fn required_scopes(&self) -> Vec<&'static str> {
        let associated = self.associated_object_type_ids.iter().flatten();
        let mut scopes: Vec<&'static str> = std::iter::once(&self.object_type_id)
            .chain(associated)
            .filter_map(|id| crate::sim::kind::parse(id).map(ObjectType::read_scope))
            .collect();
        scopes.dedup();
        scopes
    }
}

/// The app's subscriptions. An upsert replaces the one with the same type, portal and
/// object type (keeping its id), else creates one.
#[derive(Debug, Default)]
pub struct Subscriptions {
    list: Vec<Subscription>,
    last_id: i64,
}

impl Subscriptions {
    pub fn upsert(&mut self, mut new: Subscription, now_ms: i64) -> Subscription {
        new.updated_at = time::iso(now_ms);
        let same = |old: &&mut Subscription| {
            (old.subscription_type, old.portal_id, &old.object_type_id)
                == (new.subscription_type, new.portal_id, &new.object_type_id)
        };
        if let Some(old) = self.list.iter_mut().find(same) {
            new.id = old.id;
            new.created_at = old.created_at.clone();
            *old = new.clone();
            return new;
        }
        self.last_id += 1;
        new.id = 3_100_000 + self.last_id;
        new.created_at = new.updated_at.clone();
        self.list.push(new.clone());
        new
    }

    pub fn all(&self) -> &[Subscription] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, id: i64) -> Option<&Subscription> {
        self.list.iter().find(|subscription| subscription.id == id)
    }

    pub fn delete(&mut self, id: i64) -> bool {
        let before = self.list.len();
        self.list.retain(|subscription| subscription.id != id);
        self.list.len() < before
    }

    pub fn delete_portal(&mut self, portal_id: i64) -> usize {
        let before = self.list.len();
        self.list
            .retain(|subscription| subscription.portal_id != portal_id);
        before - self.list.len()
    }

    /// Whether an OBJECT (or, for `GdprDelete`, a privacy-deletion) subscription wants it.
    pub fn wants(&self, portal_id: i64, kind: ObjectType, object_id: u64, action: Action) -> bool {
        let wanted = match action {
            Action::GdprDelete => SubscriptionType::GdprPrivacyDeletion,
            _ => SubscriptionType::Object,
        };
        self.list.iter().any(|subscription| {
            subscription.subscription_type == wanted
                && subscription.covers(portal_id, kind, object_id, action)
        })
    }

    /// Whether an UPDATE subscription covers this property of this record.
    pub fn wants_property(
        &self,
        portal_id: i64,
        kind: ObjectType,
        object_id: u64,
        name: &str,
    ) -> bool {
        self.list.iter().any(|subscription| {
            subscription.subscription_type == SubscriptionType::Object
                && subscription.covers(portal_id, kind, object_id, Action::Update)
                && subscription
                    .properties
                    .iter()
                    .flatten()
                    .any(|property| property == name)
        })
    }

    pub fn wants_association(
        &self,
        portal_id: i64,
        from: (ObjectType, u64),
        to: ObjectType,
        action: Action,
    ) -> bool {
        self.list.iter().any(|subscription| {
            subscription.subscription_type == SubscriptionType::Association
                && subscription.covers(portal_id, from.0, from.1, action)
                && subscription
                    .associated_object_type_ids
                    .as_ref()
                    .is_none_or(|ids| ids.is_empty() || ids.iter().any(|id| id == to.type_id()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upsert_replaces_by_type_portal_and_object_type() {
        let mut subscriptions = Subscriptions::default();
        let body = json!({"subscriptionType": "OBJECT", "portalId": 7, "objectTypeId": "0-1",
                          "actions": ["UPDATE"], "objectIds": [5], "properties": ["email"]});
        let first = subscriptions.upsert(parse(&body, 1, &[7]).unwrap(), 0);
        assert!(subscriptions.wants_property(7, ObjectType::Contacts, 5, "email"));
        assert!(!subscriptions.wants_property(7, ObjectType::Contacts, 6, "email"));
        assert!(!subscriptions.wants(7, ObjectType::Contacts, 5, Action::Create));
        let mut body = body;
        body["actions"] = json!(["CREATE"]);
        let second = subscriptions.upsert(parse(&body, 1, &[7]).unwrap(), 10);
        assert_eq!((second.id, subscriptions.all().len()), (first.id, 1));
        assert!(subscriptions.wants(7, ObjectType::Contacts, 5, Action::Create));
        assert!(subscriptions.delete(first.id) && subscriptions.is_empty());
    }
}
