//! Webhook ingress: verify HubSpot's signature, parse the batch, store it durably, answer.

pub mod signature;
