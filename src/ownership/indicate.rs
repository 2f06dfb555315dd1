//! In-CRM indicators: for each item of a search page, its matches in the mirror (recording
//! when each record was first matched), their owners, and whether the item passes a filter.

use std::sync::Arc;

use super::filter::Filter;
use super::lookup::{company_term, contact_terms, find_briefs, Query};
use crate::object::ObjectType;
use crate::store::{self, Brief, Owner, Store};

/// One matched HubSpot record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// What an indicator shows of the record.
    pub record: Brief,
    /// Shared with the store's in-memory owner table.
    pub owner: Option<Arc<Owner>>,
    /// When this gateway first matched the record.
    pub matched_at_ms: i64,
}

/// The answer for one item, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indication {
    pub matches: Vec<Match>,
    pub passes_filter: bool,
    /// Set when the item's key could not be understood (nothing was looked up).
    pub error: Option<String>,
}

/// Looks up each query of `kind`; `filter` decides `passes_filter`.
pub fn indicate(
    store: &Store,
    portal: i64,
    kind: ObjectType,
    queries: &[Query],
    filter: &Filter,
    now_ms: i64,
) -> store::Result<Vec<Indication>> {
    let mut answers = Vec::with_capacity(queries.len());
    for query in queries {
        let terms = match kind {
            ObjectType::Companies => company_term(query).map(|term| vec![term]),
            _ => contact_terms(query),
        };
        let terms = match terms {
            Ok(terms) => terms,
            Err(invalid) => {
                let passes = filter.passes(store, portal, kind, &[], now_ms)?;
                answers.push(Indication {
                    matches: Vec::new(),
                    passes_filter: passes,
                    error: Some(invalid.to_string()),
                });
                continue;
            }
        };
        let records = find_briefs(store, portal, kind, &terms)?;
        let passes_filter = filter.passes(store, portal, kind, &records, now_ms)?;
        let mut matches = Vec::with_capacity(records.len());
        for record in records {
            let matched_at_ms = store
                .ownership()
                .matched_at(portal, kind, record.id, now_ms)?;
            let owner = record
                .owner_id()
                .map(|id| store.reference().shared_owner(portal, id))
                .transpose()?
                .flatten();
            matches.push(Match {
                record,
                owner,
                matched_at_ms,
            });
        }
        answers.push(Indication {
            matches,
            passes_filter,
            error: None,
        });
    }
    Ok(answers)
}
