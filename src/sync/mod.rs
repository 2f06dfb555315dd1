//! Advanced Sync: backfill, incremental polling, webhook application and reconciliation.
//! `apply` and `events` are pure; the rest does IO through the HubSpot client and the store.

pub mod apply;
pub mod events;

pub use apply::{apply, Applied, Change};
pub use events::{plan, Plan};
