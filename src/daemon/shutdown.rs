//! Signals: SIGTERM (systemd, kill) and SIGINT (Ctrl-C) stop the daemon; SIGHUP reloads.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves at the next SIGTERM or SIGINT.
pub async fn first_signal() {
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { terminate.as_mut()?.recv().await }, if terminate.is_some() => {}
        _ = async { interrupt.as_mut()?.recv().await }, if interrupt.is_some() => {}
    }
    tracing::info!("termination signal received; shutting down");
}

/// SIGHUP, from now on (the reload request; signals arriving during a reload coalesce).
pub fn hangups() -> std::io::Result<tokio::signal::unix::Signal> {
    signal(SignalKind::hangup())
}
