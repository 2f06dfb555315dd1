//! Finding records by the keys HubSpot integrations use for duplicate checks, best first:
//! companies by normalised domain; contacts by email, then first + last + exact company name.

use std::cmp::Reverse;

use super::normalize;
use crate::object::ObjectType;
use crate::store::{self, Record, Store, Term, TermKind};

/// What an item of a lookup asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub domain: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
}

/// Why a query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{0}")]
    Query(String),
}

/// The normalised term to look a company up by.
pub fn company_term(query: &Query) -> Result<Term, Invalid> {
    let raw = query.domain.as_deref().unwrap_or("");
    let domain =
        normalize::domain(raw).ok_or_else(|| Invalid::Query(format!("{raw:?} is not a domain")))?;
    Ok(Term::new(TermKind::Domain, domain))
}

/// The terms to look a contact up by, in the order they are tried.
pub fn contact_terms(query: &Query) -> Result<Vec<Term>, Invalid> {
    let mut terms = Vec::new();
    if let Some(raw) = query
        .email
        .as_deref()
        .filter(|text| !text.trim().is_empty())
    {
        let email = normalize::email(raw)
            .ok_or_else(|| Invalid::Query(format!("{raw:?} is not an email address")))?;
        terms.push(Term::new(TermKind::Email, email));
    }
    let name = [&query.first_name, &query.last_name, &query.company]
        .map(|part| part.as_deref().unwrap_or(""));
    if name.iter().any(|part| !part.trim().is_empty()) {
        let key = normalize::name_key(name[0], name[1], name[2]).ok_or_else(|| {
            Invalid::Query("first_name, last_name and company go together".into())
        })?;
        terms.push(Term::new(TermKind::Name, key));
    }
    if terms.is_empty() {
        return Err(Invalid::Query(
            "give email, or first_name + last_name + company".into(),
        ));
    }
    Ok(terms)
}

/// Live records matching the first term that matches anything, best first.
pub fn find(
    store: &Store,
    portal: i64,
    kind: ObjectType,
    terms: &[Term],
) -> store::Result<Vec<Record>> {
    let mirror = store.mirror();
    for term in terms {
        let mut records = Vec::new();
        for id in mirror.lookup(portal, kind, term)? {
            if let Some(record) = mirror
                .get(portal, kind, id)?
                .filter(|record| !record.archived)
            {
                records.push(record);
            }
        }
        if !records.is_empty() {
            rank(kind, term, &mut records);
            return Ok(records);
        }
    }
    Ok(Vec::new())
}

/// Best first: the key in the primary field (domain, email) before additional ones, owned
/// before unowned, most recently changed first; ties by id, so the order is stable.
fn rank(kind: ObjectType, term: &Term, records: &mut [Record]) {
    let primary_field = match (kind, term.kind) {
        (ObjectType::Companies, TermKind::Domain) => Some("domain"),
        (ObjectType::Contacts, TermKind::Email) => Some("email"),
        _ => None,
    };
    records.sort_by_key(|record| {
        let primary = primary_field.is_some_and(|field| {
            let value = record
                .properties
                .get(field)
                .map(String::as_str)
                .unwrap_or("");
            let normalized = match term.kind {
                TermKind::Domain => normalize::domain(value),
                _ => normalize::email(value),
            };
            normalized.as_deref() == Some(term.value.as_str())
        });
        let owned = record
            .properties
            .get("hubspot_owner_id")
            .is_some_and(|owner| !owner.is_empty());
        (
            Reverse(primary),
            Reverse(owned),
            Reverse(record.updated_at_ms),
            record.id,
        )
    });
}

/// The display name of a record in an indicator.
pub fn display_name(kind: ObjectType, record: &Record) -> String {
    let get = |name: &str| {
        record
            .properties
            .get(name)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
    };
    let name = match kind {
        ObjectType::Companies => get("name").to_owned(),
        ObjectType::Contacts => format!("{} {}", get("firstname"), get("lastname"))
            .trim()
            .to_owned(),
        ObjectType::Deals => get("dealname").to_owned(),
        ObjectType::Tasks => get("hs_task_subject").to_owned(),
    };
    if name.is_empty() && kind == ObjectType::Contacts {
        get("email").to_owned()
    } else {
        name
    }
}
