//! HubSpot API client: auth, rate limits, retries, and the CRM read/write endpoints.
//!
//! One [`Client`] serves one portal. Every call is paced by the portal's [`RateLimiter`]
//! budget, carries a fresh token from [`Credentials`], and is retried by [`RetryPolicy`] on
//! errors whose [`Error::is_retryable`] says so. Reads are resumable pages whose cursors
//! ([`ListCursor`], [`SearchCursor`]) are small serde values the sync layer persists.
//! This module knows nothing of the store.
//!
//! ```no_run
//! # async fn sync() -> Result<(), hubspot_gateway::hubspot::Error> {
//! use hubspot_gateway::hubspot::*;
//! use hubspot_gateway::secret::Secret;
//!
//! let credentials = Credentials::PrivateApp { access_token: Secret::new("pat-na1-…".into()) };
//! let client = Client::new(ClientConfig::new("https://api.hubapi.com".parse().unwrap(), credentials))?;
//! // Startup: who we are, and fail naming every missing scope.
//! let needs = Requirements { read: vec![ObjectType::Contacts], owners: true, write: vec![] };
//! let portal = client.connect(&needs).await?;
//!
//! // Backfill: list pages with every property, resumable from a persisted cursor.
//! let fields = Fields::properties(client.property_names(ObjectType::Contacts).await?);
//! let mut cursor = ListCursor::default();
//! loop {
//!     let page = client.list_page(ObjectType::Contacts, &fields, false, &cursor).await?;
//!     // store page.items, then persist page.next
//!     match page.next { Some(next) => cursor = next, None => break }
//! }
//!
//! // Incremental: search by last-modified time; persist `page.next` after storing.
//! let mut since = SearchCursor::since(0);
//! loop {
//!     let page = client.search_page(ObjectType::Contacts, &fields, &since).await?;
//!     since = page.next;
//!     if page.done { break }
//! }
//! println!("{}", portal.record_url(ObjectType::Contacts, 51));
//! # Ok(()) }
//! ```

mod associations;
mod auth;
mod calls;
mod classify;
mod client;
mod error;
mod find;
mod introspect;
pub mod journal;
mod model;
mod oauth;
mod objects;
mod owners;
mod paging;
mod rate_limit;
mod retry;
mod schema;
mod search;
mod wire;
mod writes;

pub use associations::{Association, AssociationType, ASSOCIATION_BATCH_LIMIT};
pub use auth::{CredentialEvents, Credentials};
pub use calls::CallCount;
pub use client::{Client, ClientConfig};
pub use error::{ApiDetails, Error, Fault, MissingScope, PropertyProblem, RateLimitPolicy};
pub use introspect::{Requirements, TokenInfo};
pub use model::{
    HistoryEntry, ObjectType, Owner, Page, Pipeline, Property, PropertyOption, Record, Stage, Team,
};
pub use oauth::{authorize_url, App, Grant};
pub use objects::{BatchRead, Fields, BATCH_LIMIT, HISTORY_LIMIT, LIST_LIMIT};
pub use paging::{ListCursor, SearchCursor};
pub use rate_limit::{Budget, RateLimiter, RateLimits};
pub use retry::{ClientStats, RetryPolicy, StatsSnapshot};
pub use search::{SearchPage, SEARCH_LIMIT};
pub use writes::{
    BatchWrite, NewAssociation, NewRecord, RecordUpdate, Upserted, WriteError, WRITE_BATCH_LIMIT,
};

/// A fixture file under `fixtures/hubspot/client/`.
#[cfg(test)]
pub(crate) fn test_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/fixtures/hubspot/client/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
