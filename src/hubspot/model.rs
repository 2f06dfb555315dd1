//! The client's view of HubSpot data: object types, records, owners, properties, pipelines.

use std::collections::BTreeMap;

pub use crate::object::ObjectType;

/// One CRM record. Every property value is a string or absent, as HubSpot sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub id: i64,
    pub properties: BTreeMap<String, Option<String>>,
    /// Per property, oldest first.
    pub history: BTreeMap<String, Vec<HistoryEntry>>,
    pub created_at_ms: Option<i64>,
    pub updated_at_ms: Option<i64>,
    pub archived: bool,
    pub archived_at_ms: Option<i64>,
}

impl Record {
    /// The value of `name`, treating `null`, absent and `""` alike as "no value".
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty())
    }

    /// Last-modified time in epoch ms: the type's modified property, else `updatedAt`.
    pub fn modified_ms(&self, object: ObjectType) -> Option<i64> {
        self.property(object.modified_property())
            .and_then(crate::time::parse_ms)
            .or(self.updated_at_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub value: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub updated_by_user_id: Option<i64>,
}

/// A HubSpot owner. Key on `id`: `user_id` is null for deactivated owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub id: i64,
    pub user_id: Option<i64>,
    pub user_id_including_inactive: Option<i64>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `PERSON` or `QUEUE`.
    pub kind: Option<String>,
    pub teams: Vec<Team>,
    pub archived: bool,
    pub created_at_ms: Option<i64>,
    pub updated_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub primary: bool,
}

/// A property definition (what `/crm/v3/properties/{type}` returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub label: String,
    /// `string`, `number`, `bool`, `enumeration`, `date`, `datetime`, `phone_number`, ...
    pub kind: String,
    pub field_type: String,
    pub group_name: Option<String>,
    pub options: Vec<PropertyOption>,
    pub calculated: bool,
    pub has_unique_value: bool,
    pub hidden: bool,
    pub hubspot_defined: bool,
    pub read_only_value: bool,
    pub archived: bool,
}

/// Validate writes against `value` (the internal value), never `label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyOption {
    pub label: String,
    pub value: String,
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    pub archived: bool,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    pub archived: bool,
    /// Deal stages: `probability` ("0.0".."1.0"), `isClosed` ("true"/"false").
    pub metadata: BTreeMap<String, String>,
}

impl Stage {
    pub fn is_closed(&self) -> bool {
        self.metadata.get("isClosed").is_some_and(|v| v == "true")
    }
}

/// One page of a resumable read: its items and where the next page starts (`None`: done).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}
