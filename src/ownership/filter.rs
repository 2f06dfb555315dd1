//! Filters on indicator lookups: by owner, company type, recent deals and email opt-out.
//! A filter concerns the matched HubSpot records; an item passes when its matches do.

use crate::object::ObjectType;
use crate::store::{self, Brief, Store};
use crate::time::DAY_MS;

/// At most this many owner ids in `include` or `exclude`.
pub const MAX_OWNERS: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Pass only items with a match owned by one of these owners.
    pub include_owners: Vec<i64>,
    /// Pass only items with no match owned by one of these owners.
    pub exclude_owners: Vec<i64>,
    /// Companies of these `type`s (contacts: associated with such a company).
    pub company_types: Vec<String>,
    /// Associated with a deal created within this many days.
    pub deals_created_within_days: Option<u32>,
    /// Contacts: drop those opted out of email (`hs_email_optout`).
    pub exclude_email_opt_out: bool,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether an item of `kind` whose matches are `matches` passes, at `now_ms`.
    pub fn passes(
        &self,
        store: &Store,
        portal: i64,
        kind: ObjectType,
        matches: &[Brief],
        now_ms: i64,
    ) -> store::Result<bool> {
        if !self.include_owners.is_empty()
            && !matches.iter().any(|r| {
                r.owner_id()
                    .is_some_and(|o| self.include_owners.contains(&o))
            })
        {
            return Ok(false);
        }
        if matches.iter().any(|r| {
            r.owner_id()
                .is_some_and(|o| self.exclude_owners.contains(&o))
        }) {
            return Ok(false);
        }
        if self.exclude_email_opt_out
            && kind == ObjectType::Contacts
            && matches.iter().any(|r| r.email_opt_out)
        {
            return Ok(false);
        }
        if !self.company_types.is_empty() && !self.has_company_type(store, portal, kind, matches)? {
            return Ok(false);
        }
        if let Some(days) = self.deals_created_within_days {
            let since_ms = now_ms - i64::from(days) * DAY_MS;
            if !has_recent_deal(store, portal, kind, matches, since_ms)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn has_company_type(
        &self,
        store: &Store,
        portal: i64,
        kind: ObjectType,
        matches: &[Brief],
    ) -> store::Result<bool> {
        let typed = |company: &Brief| {
            company
                .company_type
                .as_ref()
                .is_some_and(|t| self.company_types.contains(t))
        };
        if kind == ObjectType::Companies {
            return Ok(matches.iter().any(typed));
        }
        // A brief's id is a stored record, never an alias: no alias lookup.
        let companies =
            store
                .mirror()
                .associated_briefs(portal, kind, &ids(matches), ObjectType::Companies)?;
        Ok(companies
            .iter()
            .any(|company| !company.archived && typed(company)))
    }
}

fn has_recent_deal(
    store: &Store,
    portal: i64,
    kind: ObjectType,
    matches: &[Brief],
    since_ms: i64,
) -> store::Result<bool> {
    let deals = store
        .mirror()
        .associated_briefs(portal, kind, &ids(matches), ObjectType::Deals)?;
    Ok(deals
        .iter()
        .any(|deal| !deal.archived && deal.created_at_ms.is_some_and(|at| at >= since_ms)))
}

fn ids(matches: &[Brief]) -> Vec<i64> {
    matches.iter().map(|record| record.id).collect()
}
