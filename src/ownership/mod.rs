//! Ownership and in-CRM indicators: normalised lookup keys, the index terms of records, and
//! (later) lookups, filters and the mapping of internal users to HubSpot owners.

pub mod normalize;
mod terms;

pub use terms::terms;
