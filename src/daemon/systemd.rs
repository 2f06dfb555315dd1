//! systemd `Type=notify` integration; every call is a no-op outside systemd.

use sd_notify::NotifyState;

pub fn notify_ready() {
    notify(&[NotifyState::Ready]);
}

pub fn notify_stopping() {
    notify(&[NotifyState::Stopping]);
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::warn!(%error, "could not notify systemd");
    }
}
