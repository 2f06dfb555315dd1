//! The decision for one exported record, without IO (like `sync::apply`): source fields →
//! properties (hierarchy, picklist translation), duplicate → allowed action, values checked
//! against the property definitions so that one bad value fails one record, not its batch.

mod values;

use std::collections::{BTreeMap, HashMap};

use super::mapping::Mapping;
use super::settings::{OnDuplicate, TypeSettings};
use crate::object::ObjectType;
use crate::ownership::Query;
use crate::store::{PropertyDef, Record};

pub use values::check as check_value;

/// Properties by name, as mirrored; empty when none were read yet (nothing is checked then).
#[derive(Debug, Clone, Default)]
pub struct Definitions(HashMap<String, PropertyDef>);

impl Definitions {
    pub fn new(definitions: Vec<PropertyDef>) -> Self {
        Definitions(
            definitions
                .into_iter()
                .filter(|def| !def.archived)
                .map(|def| (def.name.clone(), def))
                .collect(),
        )
    }
}

/// A mapped property value and whether it replaces an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub value: String,
    pub overwrite: bool,
}

/// What to do with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Update {
        id: i64,
    },
    Skip {
        id: Option<i64>,
        reason: &'static str,
    },
    Fail(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `not_allowed` or `invalid_value`.
    pub code: &'static str,
    pub message: String,
    pub property: Option<String>,
}

/// The plan of one record: action, duplicates found, properties to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    pub duplicates: Vec<i64>,
    pub properties: BTreeMap<String, String>,
}

/// Source fields → properties: per property, the first row (in order) with a non-empty
/// source value supplies it, translated through the row's `values`.
pub fn map_fields(
    mapping: &Mapping,
    fields: &BTreeMap<String, String>,
) -> BTreeMap<String, Mapped> {
    let mut mapped = BTreeMap::new();
    for row in &mapping.fields {
        if mapped.contains_key(&row.property) {
            continue;
        }
        let Some(value) = fields
            .get(&row.source)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let value = row
            .values
            .as_ref()
            .and_then(|values| values.get(value))
            .map_or(value, String::as_str);
        mapped.insert(
            row.property.clone(),
            Mapped {
                value: value.to_owned(),
                overwrite: row.overwrites(),
            },
        );
    }
    mapped
}

/// The duplicate-check keys of a mapped record (companies: domain; contacts: email, then
/// first + last + exact company name).
pub fn query(kind: ObjectType, mapped: &BTreeMap<String, Mapped>) -> Query {
    let get = |name: &str| mapped.get(name).map(|m| m.value.clone());
    match kind {
        ObjectType::Companies => Query {
            domain: get("domain"),
            ..Query::default()
        },
        _ => Query {
            email: get("email"),
            first_name: get("firstname"),
            last_name: get("lastname"),
            company: get("company"),
            ..Query::default()
        },
    }
}

/// Decides the action for a record whose live duplicates (best first) are `matches`.
pub fn decide(
    settings: &TypeSettings,
    definitions: &Definitions,
    mapped: &BTreeMap<String, Mapped>,
    on_duplicate: Option<OnDuplicate>,
    matches: &[Record],
) -> Plan {
    let duplicates: Vec<i64> = matches.iter().map(|record| record.id).collect();
    let plan = |action, properties| Plan {
        action,
        duplicates: duplicates.clone(),
        properties,
    };
    let Some(existing) = matches.first() else {
        if !settings.create_new {
            return plan(
                not_allowed("no duplicate found and create_new is off"),
                BTreeMap::new(),
            );
        }
        return checked(plan(Action::Create, all(mapped)), definitions);
    };
    match on_duplicate.unwrap_or(settings.on_duplicate) {
        OnDuplicate::Skip => plan(
            Action::Skip {
                id: Some(existing.id),
                reason: "duplicate",
            },
            BTreeMap::new(),
        ),
        OnDuplicate::Create if !settings.allow_duplicates => plan(
            not_allowed("a duplicate exists and allow_duplicates is off"),
            BTreeMap::new(),
        ),
        OnDuplicate::Create => checked(plan(Action::Create, all(mapped)), definitions),
        OnDuplicate::Update if !settings.update_existing => plan(
            not_allowed("a duplicate exists and update_existing is off"),
            BTreeMap::new(),
        ),
        OnDuplicate::Update => {
            let changes = changes(mapped, existing);
            if changes.is_empty() {
                return plan(
                    Action::Skip {
                        id: Some(existing.id),
                        reason: "unchanged",
                    },
                    changes,
                );
            }
            checked(
                plan(Action::Update { id: existing.id }, changes),
                definitions,
            )
        }
    }
}

fn not_allowed(message: &str) -> Action {
    Action::Fail(Failure {
        code: "not_allowed",
        message: message.into(),
        property: None,
    })
}

fn all(mapped: &BTreeMap<String, Mapped>) -> BTreeMap<String, String> {
    mapped
        .iter()
        .map(|(name, m)| (name.clone(), m.value.clone()))
        .collect()
}

/// What an update writes: `overwrite` rows where the value differs, `fill_empty` rows only
/// where HubSpot has no value.
fn changes(mapped: &BTreeMap<String, Mapped>, existing: &Record) -> BTreeMap<String, String> {
    mapped
        .iter()
        .filter(|(name, m)| {
            let current = existing.properties.get(*name).map_or("", |v| v.trim());
            if m.overwrite {
                current != m.value
            } else {
                current.is_empty()
            }
        })
        .map(|(name, m)| (name.clone(), m.value.clone()))
        .collect()
}

/// Fails the plan on the first property whose value its definition refuses.
fn checked(mut plan: Plan, definitions: &Definitions) -> Plan {
    if definitions.0.is_empty() {
        return plan;
    }
    for (name, value) in &plan.properties {
        let problem = match definitions.0.get(name) {
            None => Some(format!("property {name:?} does not exist")),
            Some(def) => values::check(def, value).err(),
        };
        if let Some(message) = problem {
            plan.action = Action::Fail(Failure {
                code: "invalid_value",
                message,
                property: Some(name.clone()),
            });
            plan.properties.clear();
            return plan;
        }
    }
    plan
}

#[cfg(test)]
mod tests;
