//! Write validation as HubSpot does it: every bad value in a batch is collected and the
//! whole batch fails with 400 `Property values were not valid`; contacts are unique by email.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/guide>

use std::collections::BTreeMap;

use super::{Entry, Portal};
use crate::sim::gen::values;
use crate::sim::kind::ObjectType;
use crate::sim::schema::{self, PropertyType};
use crate::time;

/// One entry of the message's embedded list: `{"isValid":false,"message","error","name"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub name: String,
    pub error: &'static str,
    pub message: String,
}

impl Portal {
    /// Problems with a set of property values for a create or an update.
    pub fn validate(
        &self,
        kind: ObjectType,
        properties: &BTreeMap<String, String>,
        creating: bool,
    ) -> Vec<Invalid> {
        let mut problems: Vec<Invalid> = properties
            .iter()
            .filter_map(|(name, value)| self.check(kind, name, value))
            .collect();
        if creating && kind == ObjectType::Tasks && !properties.contains_key("hs_timestamp") {
            problems.push(invalid(
                "hs_timestamp",
                "REQUIRED",
                "hs_timestamp is required to create a task".into(),
            ));
        }
        problems
    }

    fn check(&self, kind: ObjectType, name: &str, value: &str) -> Option<Invalid> {
        let Some(def) = schema::property(kind, name) else {
            return Some(invalid(
                name,
                "PROPERTY_DOESNT_EXIST",
                format!("Property \"{name}\" does not exist"),
            ));
        };
        if !def.writable() {
            return Some(invalid(
                name,
                "READ_ONLY_VALUE",
                format!("\"{name}\" is a read only property; its value cannot be set."),
            ));
        }
        // An empty string clears a property.
        // HubSpot: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/guide
        if value.is_empty() {
            return None;
        }
        if name == "hubspot_owner_id" {
            let active = value
                .parse::<u64>()
                .ok()
                .and_then(|id| self.owner(id))
                .is_some_and(|owner| !owner.archived);
            return (!active).then(|| {
                invalid(
                    name,
                    "INVALID_OWNER_ID",
                    format!("{value} is not a valid owner id"),
                )
            });
        }
        if name == "email" && !valid_email(value) {
            return Some(invalid(
                name,
                "INVALID_EMAIL",
                format!("Email address {value} is invalid"),
            ));
        }
        match def.ptype {
            PropertyType::Enumeration | PropertyType::Bool => {
                let allowed: Vec<&str> = def
                    .options
                    .iter()
                    .map(|choice| choice.value.as_str())
                    .collect();
                let given: Vec<&str> = if def.multi {
                    value.split(';').filter(|part| !part.is_empty()).collect()
                } else {
                    vec![value]
                };
                let bad = given.iter().find(|part| !allowed.contains(part))?;
                Some(invalid(
                    name,
                    "INVALID_OPTION",
                    format!(
                        "{bad} was not one of the allowed options: [{}]",
                        allowed.join(", ")
                    ),
                ))
            }
            PropertyType::Number => value.trim().parse::<f64>().is_err().then(|| {
                invalid(
                    name,
                    "INVALID_INTEGER",
                    format!("{value} is not a valid number"),
                )
            }),
            PropertyType::Date => match time::parse_ms(value) {
                Some(ms) if ms % 86_400_000 == 0 => None,
                Some(_) => Some(invalid(
                    name,
                    "INVALID_DATE",
                    format!(
                        "{value} is not midnight UTC; date properties must be set to midnight UTC"
                    ),
                )),
                None => Some(invalid(
                    name,
                    "INVALID_DATE",
                    format!("{value} is not a valid date"),
                )),
            },
            PropertyType::DateTime => time::parse_ms(value).is_none().then(|| {
                invalid(
                    name,
                    "INVALID_DATE",
                    format!("{value} is not a valid datetime"),
                )
            }),
            PropertyType::String | PropertyType::Phone => None,
        }
    }

    /// The contact that owns `email` (case-insensitive), if any.
    pub fn contact_by_email(&self, email: &str) -> Option<u64> {
        let kind = ObjectType::Contacts;
        let table = self.table(kind);
        let email = email.to_lowercase();
        if let Some(&id) = table.emails.get(&email) {
            if self.live(kind, id).is_some_and(|record| {
                record
                    .properties
                    .get("email")
                    .is_some_and(|e| e.to_lowercase() == email)
            }) {
                return Some(id);
            }
        }
        let index = values::email_index(&email).filter(|&index| index < table.ids.count())?;
        let id = table.ids.id(index);
        let current = match table.entries.get(&id) {
            Some(Entry::Live(record)) if record.archived_ms.is_none() => {
                record.properties.get("email")?.to_lowercase()
            }
            Some(_) => return None,
            None => values::email(&self.gen, index).to_lowercase(),
        };
        (current == email).then_some(id)
    }
}

fn invalid(name: &str, error: &'static str, message: String) -> Invalid {
    Invalid {
        name: name.to_string(),
        error,
        message,
    }
}

fn valid_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
        && !domain.contains('@')
}
