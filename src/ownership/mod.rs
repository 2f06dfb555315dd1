//! Ownership and in-CRM indicators: normalised lookup keys, the index terms of records,
//! lookups with filters, and the mapping of internal users to HubSpot owners.

mod filter;
mod indicate;
mod lookup;
pub mod normalize;
mod review;
mod terms;
mod user_map;

pub use filter::{Filter, MAX_OWNERS};
pub use indicate::{indicate, Indication, Match};
pub use lookup::{company_term, contact_terms, find, find_briefs, Invalid, Query};
pub use review::{Reviewed, Standing};
pub use terms::terms;
pub use user_map::{Fallback, MappingError, Reason, UserMap};
