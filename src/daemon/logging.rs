//! Logging: human-readable on a terminal, JSON lines otherwise; level from `RUST_LOG`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human on a terminal, JSON otherwise.
    Auto,
    Human,
    Json,
}

/// Installs the global subscriber (once; later calls are ignored). `RUST_LOG` overrides
/// `default_level`.
pub fn init(format: Format, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let json = match format {
        Format::Auto => !std::io::stderr().is_terminal(),
        Format::Human => false,
        Format::Json => true,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
