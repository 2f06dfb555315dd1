//! What an event changed, whichever source told us: its [`Source`] and its change key
//! (portal, object type, object id, action, occurrence time, and the property value or the
//! association changed). A webhook and a journal event announcing the same change have the
//! same key: it is the journal's dedup key (journal events carry no id), and the inbox's
//! consumer drops the second arrival of a change that both sources delivered.

use sha2::{Digest, Sha256};

use super::Event;
use crate::object::ObjectType;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Pushed by HubSpot to `POST /webhooks/hubspot`.
    Webhook,
    /// Pulled from HubSpot's Webhooks Journal.
    Journal,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Webhook, Source::Journal];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Journal => "journal",
        }
    }
}

impl Event {
    pub fn source(&self) -> Source {
        match self.journal_offset {
            Some(_) => Source::Journal,
            None => Source::Webhook,
        }
    }

    /// The mirrored type the event is about, if it is one.
    pub fn object_type(&self) -> Option<ObjectType> {
        ObjectType::from_event_kind(self.object_kind())
    }

    /// The type of an association's other side: `toObjectTypeId`, or the end of a classic
    /// `associationType` (`CONTACT_TO_COMPANY`).
    pub fn association_target(&self) -> Option<ObjectType> {
        if let Some(kind) = self
            .to_object_type_id
            .as_deref()
            .and_then(ObjectType::from_event_kind)
        {
            return Some(kind);
        }
        let name = self.association_type.as_deref()?;
        ObjectType::ALL
            .into_iter()
            .find(|kind| name.ends_with(&format!("TO_{}", singular(*kind))))
    }

    /// The change key (16 bytes of SHA-256), or `None` when the event names no mirrored
    /// type or no record.
    pub fn change_key(&self) -> Option<[u8; 16]> {
        let kind = self.object_type()?;
        let action = self.action();
        let id = match action {
            "associationChange" => self.from_object_id.or(self.object_id),
            _ => self.object_id.or(self.primary_object_id),
        }?;
        let mut hash = Sha256::new();
        hash.update(b"change.v1");
        hash.update(self.portal_id.to_be_bytes());
        hash.update([kind.code()]);
        hash.update(id.to_be_bytes());
        hash.update(action.as_bytes());
        hash.update([0]);
        hash.update(self.occurred_at.to_be_bytes());
        match action {
            "propertyChange" => {
                hash.update(self.property_name.as_deref().unwrap_or_default());
                hash.update([0]);
                match &self.property_value {
                    Some(value) => hash.update(value),
                    // A journal event whose value was too big to keep (it asks for a re-read).
                    None => hash.update([0xff]),
                }
            }
            "associationChange" => {
                hash.update([self.association_target().map_or(0, ObjectType::code)]);
                hash.update(self.to_object_id.unwrap_or_default().to_be_bytes());
                hash.update([
                    u8::from(self.association_removed == Some(true)),
                    u8::from(self.is_primary_association == Some(true)),
                ]);
            }
            "merge" => {
                let mut merged = self.merged_object_ids.clone().unwrap_or_default();
                merged.sort_unstable();
                for loser in merged {
                    hash.update(loser.to_be_bytes());
                }
            }
            _ => {}
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash.finalize()[..16]);
        Some(key)
    }
}

fn singular(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Contacts => "CONTACT",
        ObjectType::Companies => "COMPANY",
        ObjectType::Deals => "DEAL",
        ObjectType::Tasks => "TASK",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: serde_json::Value) -> Event {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_same_change_has_one_key_from_either_source() {
        let webhook = event(json!({"eventId": 7, "portalId": 9, "occurredAt": 1000,
            "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 5,
            "propertyName": "email", "propertyValue": "a@b.c", "changeSource": "CRM_UI"}));
        let journal = event(json!({"eventId": 0, "portalId": 9, "occurredAt": 1000,
            "subscriptionType": "object.propertyChange", "objectTypeId": "0-1", "objectId": 5,
            "propertyName": "email", "propertyValue": "a@b.c", "journalOffset": "f-1"}));
        assert_eq!(
            (webhook.source(), journal.source()),
            (Source::Webhook, Source::Journal)
        );
        assert_eq!(webhook.change_key(), journal.change_key());
        let mut other = journal.clone();
        other.property_value = Some("x@b.c".into());
        assert_ne!(other.change_key(), journal.change_key(), "another value");
        other = journal.clone();
        other.occurred_at += 1;
        assert_ne!(other.change_key(), journal.change_key(), "another time");
        other = journal.clone();
        other.object_type_id = Some("0-2".into());
        assert_ne!(other.change_key(), journal.change_key(), "another type");
    }

    #[test]
    fn associations_key_on_their_target_classic_or_generic() {
        let classic = event(json!({"eventId": 7, "portalId": 9, "occurredAt": 1000,
            "subscriptionType": "contact.associationChange", "fromObjectId": 5, "toObjectId": 6,
            "associationType": "CONTACT_TO_COMPANY", "associationRemoved": false,
            "isPrimaryAssociation": true}));
        let generic = event(json!({"eventId": 0, "portalId": 9, "occurredAt": 1000,
            "subscriptionType": "object.associationChange", "objectTypeId": "0-1",
            "fromObjectId": 5, "toObjectId": 6, "fromObjectTypeId": "0-1", "toObjectTypeId": "0-2",
            "associationRemoved": false, "isPrimaryAssociation": true, "journalOffset": "f"}));
        assert_eq!(classic.association_target(), Some(ObjectType::Companies));
        assert_eq!(classic.change_key(), generic.change_key());
        let mut removed = generic.clone();
        removed.association_removed = Some(true);
        assert_ne!(removed.change_key(), generic.change_key());
        let ticket = event(json!({"eventId": 1, "portalId": 9, "occurredAt": 1,
            "subscriptionType": "ticket.creation", "objectId": 5}));
        assert_eq!(ticket.change_key(), None, "not a mirrored type");
    }
}
