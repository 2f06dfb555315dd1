//! Signals: SIGTERM (systemd, kill) and SIGINT (Ctrl-C) stop the daemon; SIGHUP reloads.
//! Handlers are installed before the daemon reports ready: a signal arriving after that must
//! never meet the default action (which would kill the process without draining).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGTERM and SIGINT, from now on.
pub struct Stops {
    terminate: Signal,
    interrupt: Signal,
}

impl Stops {
    pub fn install() -> std::io::Result<Stops> {
        Ok(Stops {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        tracing::info!("termination signal received; shutting down");
    }
}

/// SIGHUP, from now on (the reload request; signals arriving during a reload coalesce).
pub fn hangups() -> std::io::Result<Signal> {
    signal(SignalKind::hangup())
}
