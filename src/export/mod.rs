//! Export into HubSpot: settings, field mappings, the pure plan per record, durable jobs and
//! the writer that carries them out exactly once.

pub mod mapping;
pub mod plan;
pub mod settings;

pub use mapping::Mapping;
pub use settings::{OnDuplicate, Settings, TypeSettings};
