//! Ownership and in-CRM indicators: normalised lookup keys, and (later) lookups, filters and
//! the mapping of internal users to HubSpot owners.

pub mod normalize;
