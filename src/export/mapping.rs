//! Field mappings: which source field of an exported record fills which HubSpot property,
//! how an existing value is treated, and picklist translation. Validated on save against the
//! mirrored property definitions, reporting every problem at once.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::object::ObjectType;
use crate::store::{self, PropertyDef, Store};

/// The whole mapping of one object type, rows in priority order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub fields: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub source: String,
    pub property: String,
    #[serde(default = "fill_empty")]
    pub update: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, String>>,
}

fn fill_empty() -> String {
    "fill_empty".into()
}

/// One rejected row (0-based, as in the request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub row: usize,
    pub message: String,
}

impl Row {
    /// `overwrite` replaces an existing value; `fill_empty` writes only where HubSpot has none.
    pub fn overwrites(&self) -> bool {
        self.update == "overwrite"
    }
}

/// Where the mapping of `kind` is saved: per portal; `None`, the deployment's (saved before
/// any portal was connected, or by a gateway from before mappings were per portal).
fn meta_name(portal: Option<i64>, kind: ObjectType) -> String {
    match portal {
        Some(portal) => format!("export.mapping.{portal}.{kind}"),
        None => format!("export.mapping.{kind}"),
    }
}

impl Mapping {
    /// The contract's defaults, which work before any PUT.
    pub fn default_for(kind: ObjectType) -> Mapping {
        let pairs: &[(&str, &str)] = match kind {
            ObjectType::Companies => &[
                ("name", "name"),
                ("domain", "domain"),
                ("phone", "phone"),
                ("industry", "industry"),
                ("city", "city"),
                ("country", "country"),
            ],
            _ => &[
                ("email", "email"),
                ("first_name", "firstname"),
                ("last_name", "lastname"),
                ("company", "company"),
                ("job_title", "jobtitle"),
                ("direct_phone", "phone"),
                ("company_phone", "phone"),
                ("mobile_phone", "mobilephone"),
            ],
        };
        Mapping {
            fields: pairs
                .iter()
                .map(|(source, property)| Row {
                    source: (*source).into(),
                    property: (*property).into(),
                    update: fill_empty(),
                    values: None,
                })
                .collect(),
        }
    }

    /// The mapping `portal` saved, else the deployment's, else the default.
    pub fn current(store: &Store, portal: Option<i64>, kind: ObjectType) -> store::Result<Mapping> {
        let saved = |portal| -> store::Result<Option<Mapping>> {
            let bytes = store.meta(&meta_name(portal, kind))?;
            Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
        };
        let own = match portal {
            Some(_) => saved(portal)?,
            None => None,
        };
        let saved = match own {
            Some(own) => Some(own),
            None => saved(None)?,
        };
        Ok(saved.unwrap_or_else(|| Mapping::default_for(kind)))
    }

    /// Validates against `definitions` and persists as `portal`'s; every problem at once
    /// otherwise.
    pub fn save(
        &self,
        store: &Store,
        portal: Option<i64>,
        kind: ObjectType,
        definitions: &[PropertyDef],
    ) -> Result<(), SaveError> {
        let problems = self.problems(definitions);
        if !problems.is_empty() {
            return Err(SaveError::Invalid(problems));
        }
        // Invariant: plain strings serialise.
        let bytes = serde_json::to_vec(self).expect("mapping serialises");
        store.set_meta(&meta_name(portal, kind), &bytes)?;
        store.commit()?;
        Ok(())
    }

    /// Every problem of every row, in row order.
    pub fn problems(&self, definitions: &[PropertyDef]) -> Vec<Problem> {
        let by_name: HashMap<&str, &PropertyDef> = definitions
            .iter()
            .filter(|def| !def.archived)
            .map(|def| (def.name.as_str(), def))
            .collect();
        let mut problems = Vec::new();
        for (row, field) in self.fields.iter().enumerate() {
            for message in row_problems(field, &by_name) {
                problems.push(Problem { row, message });
            }
        }
        problems
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the mapping is invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] store::Error),
}

fn row_problems(row: &Row, definitions: &HashMap<&str, &PropertyDef>) -> Vec<String> {
    let mut problems = Vec::new();
    if row.source.trim().is_empty() {
        problems.push("source is blank".to_string());
    }
    if !matches!(row.update.as_str(), "fill_empty" | "overwrite") {
        problems.push(format!(
            "update {:?} must be fill_empty or overwrite",
            row.update
        ));
    }
    let property = row.property.trim();
    if property.is_empty() {
        problems.push("property is blank".into());
        return problems;
    }
    if property == "hubspot_owner_id" {
        problems.push("hubspot_owner_id cannot be mapped: the gateway assigns owners".into());
        return problems;
    }
    let Some(def) = definitions.get(property) else {
        problems.push(format!("property {property:?} does not exist"));
        return problems;
    };
    if def.calculated {
        problems.push(format!("property {property:?} is calculated"));
    } else if def.read_only_value {
        problems.push(format!("property {property:?} is read-only"));
    }
    if def.value_type == "enumeration" {
        for (from, to) in row.values.iter().flatten() {
            if !def.options.iter().any(|(value, _)| value == to) {
                problems.push(format!(
                    "values: {from:?} → {to:?} is not an internal value of {property:?}"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests;
