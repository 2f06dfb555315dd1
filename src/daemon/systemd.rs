//! systemd `Type=notify` integration; every call is a no-op outside systemd.

use std::time::Duration;

use sd_notify::NotifyState;

pub fn notify_ready() {
    notify(&[NotifyState::Ready]);
}

pub fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

pub fn notify_reloading() {
    notify(&[NotifyState::Reloading]);
}

/// `STATUS=`: the line `systemctl status` shows.
pub fn notify_status(text: &str) {
    notify(&[NotifyState::Status(text)]);
}

pub fn notify_watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// `WatchdogSec=` when systemd set it for this process.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    // The variables stay set: unsetting the environment races with other threads.
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::warn!(%error, "could not notify systemd");
    }
}
