//! Finding records by the keys HubSpot integrations use for duplicate checks, best first:
//! companies by normalised domain; contacts by email, then first + last + exact company name.

use std::cmp::Reverse;

use super::brief::brief;
use super::normalize;
use crate::object::ObjectType;
use crate::store::{self, Brief, Record, Store, Term, TermKind};

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

/// Live records matching the first term that matches anything, best first. Reads the
/// records themselves, not their briefs: a caller that needs the records would otherwise
/// pull two pages per match from a cold mirror.
pub fn find(
    store: &Store,
    portal: i64,
    kind: ObjectType,
    terms: &[Term],
) -> store::Result<Vec<Record>> {
    let mirror = store.mirror();
    let found = first_match(
        kind,
        terms,
        |term| {
            let mut found = Vec::new();
            for id in mirror.lookup(portal, kind, term)? {
                let record = mirror.get(portal, kind, id)?;
                found.extend(record.map(|record| (brief(kind, &record), record)));
            }
            Ok(found)
        },
        |(brief, _)| brief,
    )?;
    Ok(found.into_iter().map(|(_, record)| record).collect())
}

/// The briefs of the live records matching the first term that matches anything, best
/// first: per term an index read and a small read per match (on PostgreSQL one query), no
/// record decoded.
pub fn find_briefs(
    store: &Store,
    portal: i64,
    kind: ObjectType,
    terms: &[Term],
) -> store::Result<Vec<Brief>> {
    let mirror = store.mirror();
    first_match(
        kind,
        terms,
        |term| mirror.term_briefs(portal, kind, term),
        |brief| brief,
    )
}

/// What `read` gives for the first term under which it finds live records, ranked by their
/// briefs.
fn first_match<T>(
    kind: ObjectType,
    terms: &[Term],
    read: impl Fn(&Term) -> store::Result<Vec<T>>,
    brief_of: impl Fn(&T) -> &Brief,
) -> store::Result<Vec<T>> {
    for term in terms {
        let mut found = read(term)?;
        found.retain(|item| !brief_of(item).archived);
        if !found.is_empty() {
            rank(kind, term, &mut found, &brief_of);
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

/// Best first: the key in the primary field (domain, email) before additional ones, owned
/// before unowned, most recently changed first; ties by id, so the order is stable.
fn rank<T>(kind: ObjectType, term: &Term, found: &mut [T], brief_of: impl Fn(&T) -> &Brief) {
    let primary_field = matches!(
        (kind, term.kind),
        (ObjectType::Companies, TermKind::Domain) | (ObjectType::Contacts, TermKind::Email)
    );
    found.sort_by_cached_key(|item| {
        let brief = brief_of(item);
        let primary = primary_field && {
            let normalized = match term.kind {
                TermKind::Domain => normalize::domain(&brief.primary),
                _ => normalize::email(&brief.primary),
            };
            normalized.as_deref() == Some(term.value.as_str())
        };
        let owned = !brief.owner.is_empty();
        (
            Reverse(primary),
            Reverse(owned),
            Reverse(brief.updated_at_ms),
            brief.id,
        )
    });
}
