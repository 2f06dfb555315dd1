//! Export into HubSpot: settings, field mappings, the pure plan per record, durable jobs and
//! the writer that carries them out exactly once.

pub mod context;
pub mod file;
pub mod job;
pub mod mapping;
pub mod plan;
pub mod sample;
pub mod settings;
pub mod writer;

pub use mapping::Mapping;
pub use settings::{OnDuplicate, Settings, TypeSettings};

use crate::config::Export;

/// What the API and the worker share: the `[export]` config and the worker's wake-up.
#[derive(Debug, Default)]
pub struct Exporter {
    pub config: Export,
    pub wake: tokio::sync::Notify,
}

impl Exporter {
    pub fn new(config: Export) -> Self {
        Exporter {
            config,
            wake: tokio::sync::Notify::new(),
        }
    }
}
