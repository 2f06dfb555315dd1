//! The CRM object types the simulator serves, with HubSpot's names, ids and per-type quirks.

use serde::{Deserialize, Serialize};

/// One of the four mirrored object types.
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

    /// Accepts the path forms HubSpot accepts: the plural name or the object type id.
    pub fn parse(text: &str) -> Option<ObjectType> {
        match text.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(ObjectType::Contacts),
            "companies" | "company" | "0-2" => Some(ObjectType::Companies),
            "deals" | "deal" | "0-3" => Some(ObjectType::Deals),
            "tasks" | "task" | "0-27" => Some(ObjectType::Tasks),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contacts",
            ObjectType::Companies => "companies",
            ObjectType::Deals => "deals",
            ObjectType::Tasks => "tasks",
        }
    }

    /// Singular form used in v3 association type names and classic webhook types.
    pub fn singular(self) -> &'static str {
        match self {
            ObjectType::Contacts => "contact",
            ObjectType::Companies => "company",
            ObjectType::Deals => "deal",
            ObjectType::Tasks => "task",
        }
    }

    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
            ObjectType::Tasks => "0-27",
        }
    }

    /// Contacts use `lastmodifieddate`; everything else `hs_lastmodifieddate`.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>
    pub fn modified_property(self) -> &'static str {
        match self {
            ObjectType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Tasks (engagements) use `hs_createdate`; the others `createdate`.
    pub fn created_property(self) -> &'static str {
        match self {
            ObjectType::Tasks => "hs_createdate",
            _ => "createdate",
        }
    }

    /// Properties returned when a request names none.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            ObjectType::Contacts => &["firstname", "lastname", "email"],
            ObjectType::Companies => &["name", "domain"],
            ObjectType::Deals => &["dealname", "amount", "closedate", "pipeline", "dealstage"],
            ObjectType::Tasks => &["hs_task_subject", "hs_task_status", "hs_timestamp"],
        }
    }

    /// Read scope; tasks ride on the contacts scope.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/tasks/guide>
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

    pub fn index(self) -> usize {
        self as usize
    }
}

/// HubSpot-defined association type id from `from` to `to`; unlabelled ones.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>
pub fn association_type_id(from: ObjectType, to: ObjectType) -> Option<u32> {
    use ObjectType::*;
    Some(match (from, to) {
        (Contacts, Companies) => 279,
        (Companies, Contacts) => 280,
        (Deals, Companies) => 341,
        (Companies, Deals) => 342,
        (Deals, Contacts) => 3,
        (Contacts, Deals) => 4,
        (Tasks, Contacts) => 204,
        (Tasks, Companies) => 192,
        (Tasks, Deals) => 216,
        (Contacts, Tasks) => 203,
        (Companies, Tasks) => 191,
        (Deals, Tasks) => 215,
        _ => return None,
    })
}

/// The primary-association type id, where HubSpot has one.
pub fn primary_association_type_id(from: ObjectType, to: ObjectType) -> Option<u32> {
    use ObjectType::*;
    match (from, to) {
        (Contacts, Companies) => Some(1),
        (Companies, Contacts) => Some(2),
        (Deals, Companies) => Some(5),
        (Companies, Deals) => Some(6),
        _ => None,
    }
}

/// Every scope the simulator knows: the read and write scopes of the CRM objects.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>
pub fn all_scopes() -> Vec<String> {
    [
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.owners.read",
        "crm.schemas.contacts.read",
        "crm.schemas.companies.read",
        "crm.schemas.deals.read",
    ]
    .iter()
    .map(|scope| scope.to_string())
    .collect()
}
