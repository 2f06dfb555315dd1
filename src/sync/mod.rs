//! Advanced Sync: backfill, incremental polling, webhook application and reconciliation.
//! `apply` and `events` are pure; the rest does IO through the HubSpot client and the store.

pub mod apply;
pub mod arrivals;
mod backfill;
mod convert;
pub mod events;
mod incremental;
mod notices;
pub mod privacy;
mod reconcile;
pub mod run;
pub mod schedule;
pub mod state;
pub mod status;
mod syncer;
mod webhooks;

pub use apply::{apply, Applied, Change};
pub use events::{plan, Plan};
pub use privacy::{Forget, Person};
pub use run::{run_consumer, run_cycle, Cycle, Triggers};
pub use state::TypeState;
pub use status::TypeStatus;
pub use syncer::{Error, Links, Settings, Syncer};
pub use webhooks::{Consumed, Route};
