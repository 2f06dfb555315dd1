//! hubspot-gateway keeps a live local mirror of a HubSpot CRM portal and answers ownership
//! questions about it. `ARCHITECTURE.md` at the repository root maps the modules and data flow.

pub mod api;
pub mod config;
pub mod connection;
pub mod console;
pub mod crash;
pub mod daemon;
pub mod demo;
pub mod export;
pub mod hubspot;
pub mod journal;
pub mod kit;
pub mod metrics;
pub mod notify;
pub mod object;
pub mod ownership;
pub mod per_minute;
pub mod secret;
pub mod sim;
pub mod store;
pub mod sync;
pub mod time;
pub mod webhook;
