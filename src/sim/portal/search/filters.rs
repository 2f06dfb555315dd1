//! Filter evaluation (operators, typed comparison, tokens) and query validation.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>

use std::cmp::Ordering;

use super::{
    Candidate, Filter, Key, SearchQuery, MAX_FILTERS, MAX_FILTERS_PER_GROUP, MAX_GROUPS, MAX_LIMIT,
    RESULT_CAP,
};
use crate::sim::kind::ObjectType;
use crate::sim::portal::Portal;
use crate::sim::schema::{self, PropertyType};
use crate::time;

impl Portal {
    pub(super) fn matches(&self, kind: ObjectType, candidate: &Candidate, filter: &Filter) -> bool {
        let actual = self.key(kind, candidate, &filter.property);
        let wanted = |text: &Option<String>| {
            text.as_deref()
                .map(|text| typed(kind, &filter.property, text))
        };
        let case_sensitive = schema::property(kind, &filter.property)
            .is_some_and(|def| matches!(def.ptype, PropertyType::Enumeration | PropertyType::Bool));
        let equal = |a: &Key, b: &Key| match (a, b) {
            (Key::Text(x), Key::Text(y)) if !case_sensitive => x.eq_ignore_ascii_case(y),
            _ => a == b,
        };
        let compare = |ordering: fn(Ordering) -> bool| match (&actual, wanted(&filter.value)) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(ordering),
            _ => false,
        };
        match filter.operator.as_str() {
            "EQ" => matches!((&actual, wanted(&filter.value)), (Some(a), Some(b)) if equal(a, &b)),
            "NEQ" => {
                !matches!((&actual, wanted(&filter.value)), (Some(a), Some(b)) if equal(a, &b))
            }
            "GT" => compare(|o| o == Ordering::Greater),
            "GTE" => compare(|o| o != Ordering::Less),
            "LT" => compare(|o| o == Ordering::Less),
            "LTE" => compare(|o| o != Ordering::Greater),
            "BETWEEN" => match (&actual, wanted(&filter.value), wanted(&filter.high_value)) {
                (Some(a), Some(low), Some(high)) => *a >= low && *a <= high,
                _ => false,
            },
            "IN" | "NOT_IN" => {
                let found = actual.as_ref().is_some_and(|a| {
                    filter
                        .values
                        .iter()
                        .any(|value| equal(a, &typed(kind, &filter.property, value)))
                });
                found == (filter.operator == "IN")
            }
            "HAS_PROPERTY" => actual.is_some(),
            "NOT_HAS_PROPERTY" => actual.is_none(),
            "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
                let token = filter.value.as_deref().unwrap_or("").to_lowercase();
                let found = self
                    .value(kind, candidate, &filter.property)
                    .is_some_and(|text| token_match(&text.to_lowercase(), &token));
                found == (filter.operator == "CONTAINS_TOKEN")
            }
            _ => false,
        }
    }

    pub(super) fn matches_text(&self, kind: ObjectType, candidate: &Candidate, text: &str) -> bool {
        let text = text.to_lowercase();
        let fields: &[&str] = match kind {
            ObjectType::Contacts => &["firstname", "lastname", "email", "company"],
            ObjectType::Companies => &["name", "domain", "website"],
            ObjectType::Deals => &["dealname"],
            ObjectType::Tasks => &["hs_task_subject"],
        };
        fields.iter().any(|name| {
            self.value(kind, candidate, name)
                .is_some_and(|value| value.to_lowercase().contains(&text))
        })
    }
}

/// Interprets a value by the property's type: numbers and dates compare numerically.
pub(super) fn typed(kind: ObjectType, name: &str, text: &str) -> Key {
    let ptype = schema::property(kind, name).map(|def| def.ptype);
    let number = match ptype {
        Some(PropertyType::Number) => text.parse::<f64>().ok(),
        Some(PropertyType::Date | PropertyType::DateTime) => {
            time::parse_ms(text).map(|ms| ms as f64)
        }
        _ => None,
    };
    number.map_or_else(|| Key::Text(text.to_string()), Key::Number)
}

/// `*` is a wildcard inside a token; otherwise a token is a whole word.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>
fn token_match(text: &str, token: &str) -> bool {
    if token.contains('*') {
        let parts: Vec<&str> = token.split('*').filter(|part| !part.is_empty()).collect();
        return parts.iter().all(|part| text.contains(part));
    }
    text.split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.')
        .any(|word| word == token)
        || text == token
}

pub(super) fn validate(kind: ObjectType, query: &SearchQuery) -> Result<(), String> {
    let total: usize = query.groups.iter().map(|group| group.filters.len()).sum();
    if query.groups.len() > MAX_GROUPS
        || total > MAX_FILTERS
        || query
            .groups
            .iter()
            .any(|group| group.filters.len() > MAX_FILTERS_PER_GROUP)
    {
        return Err(format!(
            "Too many filters: at most {MAX_GROUPS} filterGroups of {MAX_FILTERS_PER_GROUP} filters, {MAX_FILTERS} filters in all; got {} groups, {total} filters",
            query.groups.len()
        ));
    }
    if query.limit > MAX_LIMIT {
        return Err(format!(
            "limit must be at most {MAX_LIMIT}; got {}",
            query.limit
        ));
    }
    if query.after >= RESULT_CAP {
        return Err(format!("after must be less than {RESULT_CAP}; paging beyond the first {RESULT_CAP} results of a search is not supported"));
    }
    for filter in query.groups.iter().flat_map(|group| &group.filters) {
        if schema::property(kind, &filter.property).is_none() {
            return Err(format!(
                "Property {} does not exist on {}",
                filter.property,
                kind.name()
            ));
        }
    }
    if let Some((name, _)) = &query.sort {
        if schema::property(kind, name).is_none() {
            return Err(format!("Sort property {name} does not exist"));
        }
    }
    Ok(())
}
