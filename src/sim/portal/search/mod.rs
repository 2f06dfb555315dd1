//! CRM search over base records and the search index's view of the overlay:
//! AND within a group, OR across groups, one sort, offset paging, the 10,000-result cap.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>

use std::cmp::Ordering;

use filters::{typed, validate};

mod filters;

use super::{Entry, Portal, Record};
use crate::sim::gen::values;
use crate::sim::kind::ObjectType;
use crate::sim::schema;
use crate::time;

pub const MAX_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 6;
pub const MAX_FILTERS: usize = 18;
pub const MAX_LIMIT: usize = 200;
pub const RESULT_CAP: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub property: String,
    pub operator: String,
    pub value: Option<String>,
    pub high_value: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub groups: Vec<FilterGroup>,
    /// (property, descending)
    pub sort: Option<(String, bool)>,
    pub query: Option<String>,
    pub after: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub ids: Vec<u64>,
    pub total: usize,
    pub next_after: Option<usize>,
}

/// A record as search sees it: a base record (by index) or an indexed overlay record.
enum Candidate<'a> {
    Base(u64),
    Overlay(&'a Record),
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Text(String),
}

impl Portal {
    /// Runs a validated query; errors are HubSpot's 400 messages.
    pub fn search(
        &mut self,
        kind: ObjectType,
        query: &SearchQuery,
    ) -> Result<SearchResult, String> {
        validate(kind, query)?;
        self.sync_index(time::now_ms());
        let table = self.table(kind);
        let mut hits: Vec<(Option<Key>, u64)> = Vec::new();
        let sort = query
            .sort
            .as_ref()
            .map_or(kind.created_property(), |(name, _)| name.as_str());
        let mut consider = |candidate: Candidate, id: u64| {
            let filtered = query.groups.is_empty()
                || query.groups.iter().any(|group| {
                    group
                        .filters
                        .iter()
                        .all(|filter| self.matches(kind, &candidate, filter))
                });
            let texted = query
                .query
                .as_deref()
                .is_none_or(|text| self.matches_text(kind, &candidate, text));
            if filtered && texted {
                hits.push((self.key(kind, &candidate, sort), id));
            }
        };
        // Base records: all of them, or only those a filter pins by id or email.
        let base: Box<dyn Iterator<Item = u64>> = match self.pinned(kind, query) {
            Some(indices) => Box::new(indices.into_iter()),
            None => Box::new(0..table.ids.count()),
        };
        for index in base {
            let id = table.ids.id(index);
            if !table.indexed.contains_key(&id) {
                consider(Candidate::Base(index), id);
            }
        }
        for (id, entry) in &table.indexed {
            if let Entry::Live(record) = entry {
                if record.archived_ms.is_none() {
                    consider(Candidate::Overlay(record), *id);
                }
            }
        }
        let descending = query
            .sort
            .as_ref()
            .is_some_and(|(_, descending)| *descending);
        hits.sort_by(|a, b| {
            // Records without the property sort last either way; ties break on id.
            let order = match (&a.0, &b.0) {
                (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let order = if descending { order.reverse() } else { order };
            order.then(a.1.cmp(&b.1))
        });
        let total = hits.len();
        let end = (query.after + query.limit).min(total).min(RESULT_CAP);
        let ids: Vec<u64> = hits[query.after.min(end)..end]
            .iter()
            .map(|hit| hit.1)
            .collect();
        let next_after =
            (query.after + ids.len() < total && !ids.is_empty()).then_some(query.after + ids.len());
        Ok(SearchResult {
            ids,
            total,
            next_after,
        })
    }

    /// Base-record indices that can match when every group has an `EQ`/`IN` filter on
    /// `hs_object_id` (or a contact's email): lookups by key need no scan. Overlay records are
    /// always considered separately, so a superset here is enough.
    fn pinned(&self, kind: ObjectType, query: &SearchQuery) -> Option<Vec<u64>> {
        if query.groups.is_empty() {
            return None;
        }
        let ids = self.table(kind).ids;
        let mut indices = Vec::new();
        for group in &query.groups {
            let filter = group.filters.iter().find(|filter| {
                let keyed = filter.property == "hs_object_id"
                    || (kind == ObjectType::Contacts && filter.property == "email");
                keyed && matches!(filter.operator.as_str(), "EQ" | "IN")
            })?;
            let values = if filter.operator == "EQ" {
                filter.value.iter().cloned().collect()
            } else {
                filter.values.clone()
            };
            for value in values {
                let index = match filter.property.as_str() {
                    "email" => values::email_index(&value.to_lowercase()),
                    _ => value.parse().ok().and_then(|id| ids.index(id)),
                };
                indices.extend(index.filter(|index| *index < ids.count()));
            }
        }
        indices.sort_unstable();
        indices.dedup();
        Some(indices)
    }

    fn value(&self, kind: ObjectType, candidate: &Candidate, name: &str) -> Option<String> {
        match candidate {
            Candidate::Overlay(record) => record.properties.get(name).cloned(),
            Candidate::Base(index) => match name {
                "hs_object_id" => Some(self.gen.ids(kind).id(*index).to_string()),
                _ => self.gen.value(kind, *index, schema::property(kind, name)?),
            },
        }
    }

    fn key(&self, kind: ObjectType, candidate: &Candidate, name: &str) -> Option<Key> {
        // The modified and created times are the hot path of incremental sync: no formatting.
        if let Candidate::Base(index) = candidate {
            if name == kind.modified_property() {
                return Some(Key::Number(self.gen.modified_ms(kind, *index) as f64));
            }
            if name == kind.created_property() {
                return Some(Key::Number(self.gen.created_ms(kind, *index) as f64));
            }
        }
        let value = self.value(kind, candidate, name)?;
        Some(typed(kind, name, &value))
    }
}
