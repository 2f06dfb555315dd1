//! The CRM object types the mirror keeps, with the names and ids HubSpot uses for them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
    Tasks,
}

impl ObjectType {
    pub const ALL: [ObjectType; 4] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Tasks,
    ];

    /// The name in HubSpot's API paths and in this gateway's API.
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
            ObjectType::Tasks => "tasks",
        }
    }

    /// The singular, in v3 association type names and classic webhook types.
    pub fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
            ObjectType::Tasks => "task",
        }
    }

    /// HubSpot's object type id (`0-1` contacts, ...), used in record URLs and generic events.
    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
            ObjectType::Tasks => "0-27",
        }
    }

    /// The property HubSpot bumps on every change (search filters and sorts on it).
    pub fn modified_property(self) -> &'static str {
        match self {
            ObjectType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The property holding a record's creation time: tasks (engagements) `hs_createdate`.
    pub fn created_property(self) -> &'static str {
        match self {
            ObjectType::Tasks => "hs_createdate",
            _ => "createdate",
        }
    }

    /// The OAuth scope reading this type needs; tasks ride on the contacts scope.
    pub fn read_scope(self) -> &'static str {
        match self {
            ObjectType::Contacts | ObjectType::Tasks => "crm.objects.contacts.read",
            ObjectType::Companies => "crm.objects.companies.read",
            ObjectType::Deals => "crm.objects.deals.read",
        }
    }

    pub fn write_scope(self) -> &'static str {
        match self {
            ObjectType::Contacts | ObjectType::Tasks => "crm.objects.contacts.write",
            ObjectType::Companies => "crm.objects.companies.write",
            ObjectType::Deals => "crm.objects.deals.write",
        }
    }

    /// The position in [`ObjectType::ALL`], for tables kept per type.
    pub fn index(self) -> usize {
        self as usize
    }

    /// One byte for stored keys; never reuse a code.
    pub fn code(self) -> u8 {
        match self {
            ObjectType::Contacts => 1,
            ObjectType::Companies => 2,
            ObjectType::Deals => 3,
            ObjectType::Tasks => 4,
        }
    }

    /// The object type a webhook event names: classic `contact`/`company`/`deal` prefixes or
    /// a generic event's `objectTypeId`.
    pub fn from_event_kind(kind: &str) -> Option<ObjectType> {
        match kind {
            "contact" | "0-1" => Some(ObjectType::Contacts),
            "company" | "0-2" => Some(ObjectType::Companies),
            "deal" | "0-3" => Some(ObjectType::Deals),
            "task" | "0-27" => Some(ObjectType::Tasks),
            _ => None,
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ObjectType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ObjectType::ALL
            .into_iter()
            .find(|kind| kind.name() == text || kind.type_id() == text)
            .ok_or_else(|| {
                format!(
                    "unknown object type {text:?}; expected contacts, companies, deals or tasks"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_codes_round_trip() {
        for kind in ObjectType::ALL {
            assert_eq!(kind.name().parse::<ObjectType>(), Ok(kind));
            assert_eq!(kind.type_id().parse::<ObjectType>(), Ok(kind));
            assert_eq!(ObjectType::ALL[kind.index()], kind);
            assert_eq!(ObjectType::from_event_kind(kind.singular()), Some(kind));
        }
        let codes: std::collections::HashSet<u8> =
            ObjectType::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), 4);
        assert_eq!(ObjectType::from_event_kind("0-27"), Some(ObjectType::Tasks));
        assert_eq!(ObjectType::from_event_kind("ticket"), None);
        assert!("owners".parse::<ObjectType>().is_err());
    }
}
