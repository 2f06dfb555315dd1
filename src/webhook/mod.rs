//! Webhook ingress: verify HubSpot's signature, parse the batch, store it durably, answer.

pub mod event;
pub mod handler;
pub mod inbox;
pub mod signature;

pub use handler::{Ingress, Rejection};
pub use inbox::{inbox, Committer, Inbox};
