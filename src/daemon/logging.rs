//! Logging: human-readable on a terminal, JSON lines otherwise. The level is
//! `server.log_level` when set, else `RUST_LOG`, else the command's default, and changes on
//! reload.

use std::io::{IsTerminal as _, Write};
use std::sync::OnceLock;

use indicatif::ProgressBar;
use parking_lot::RwLock;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Registry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human on a terminal, JSON otherwise.
    Auto,
    Human,
    Json,
}

/// A progress bar on stderr (the export command's): log lines are written above it, not
/// through it.
static PROGRESS: RwLock<Option<ProgressBar>> = RwLock::new(None);

/// Swaps the level filter of the installed subscriber, and the level to go back to.
static FILTER: OnceLock<(reload::Handle<EnvFilter, Registry>, String)> = OnceLock::new();

/// Installs the global subscriber (once; later calls are ignored). `RUST_LOG` overrides
/// `default_level`.
pub fn init(format: Format, default_level: &str) {
    let json = match format {
        Format::Auto => !std::io::stderr().is_terminal(),
        Format::Human => false,
        Format::Json => true,
    };
    let (filter, handle) = reload::Layer::new(default_filter(default_level));
    let fmt = tracing_subscriber::fmt::layer().with_writer(|| Stderr);
    let installed = if json {
        let fmt = fmt.json().flatten_event(true);
        tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .try_init()
    };
    if installed.is_ok() {
        let _ = FILTER.set((handle, default_level.to_owned()));
    }
}

/// Applies `server.log_level` (`None`: back to `RUST_LOG`, else the default level).
pub fn set_level(level: Option<&str>) -> Result<(), String> {
    // Another subscriber owns logging (tests): nothing to change.
    let Some((handle, default_level)) = FILTER.get() else {
        return Ok(());
    };
    let filter = match level {
        Some(directives) => EnvFilter::try_new(directives).map_err(|error| error.to_string())?,
        None => default_filter(default_level),
    };
    handle.reload(filter).map_err(|error| error.to_string())
}

fn default_filter(default_level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level))
}

/// Log lines go above `bar` while it is shown (`None`: it is gone).
pub fn above(bar: Option<ProgressBar>) {
    *PROGRESS.write() = bar;
}

/// Stderr, around the progress bar if one is shown. The subscriber writes each event with
/// one `write_all`, so a line is never split by a redraw.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &*PROGRESS.read() {
            Some(bar) => bar.suspend(|| std::io::stderr().write(bytes)),
            None => std::io::stderr().write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
