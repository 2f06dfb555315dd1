//! The simulator's view of the CRM object types (the product's `ObjectType`): the path forms
//! it accepts, default properties and association type ids.

pub use crate::object::ObjectType;

/// Accepts the path forms HubSpot accepts: the plural name, the singular, or the object type
/// id, in any case.
pub fn parse(text: &str) -> Option<ObjectType> {
    match text.to_ascii_lowercase().as_str() {
        "contacts" | "contact" | "0-1" => Some(ObjectType::Contacts),
        "companies" | "company" | "0-2" => Some(ObjectType::Companies),
        "deals" | "deal" | "0-3" => Some(ObjectType::Deals),
        "tasks" | "task" | "0-27" => Some(ObjectType::Tasks),
        _ => None,
    }
}

/// Properties returned when a request names none.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>
pub fn default_properties(kind: ObjectType) -> &'static [&'static str] {
    match kind {
        ObjectType::Contacts => &["firstname", "lastname", "email"],
        ObjectType::Companies => &["name", "domain"],
        ObjectType::Deals => &["dealname", "amount", "closedate", "pipeline", "dealstage"],
        ObjectType::Tasks => &["hs_task_subject", "hs_task_status", "hs_timestamp"],
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
